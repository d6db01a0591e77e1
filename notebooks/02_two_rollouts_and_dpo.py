# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Two rollouts and DPO (R4), and real-valued rewards (R15)
#
# For one mixed pair $(o^+, o^-)$, on-policy (ratio 1, nothing clipped) and without a KL term, 2-GRPO's loss
# gradient is $-\tfrac12(\nabla\log\pi(o^+) - \nabla\log\pi(o^-))$ with sequence sums, and DPO's is
# $-\beta\,\sigma(\Delta)\,(\nabla\log\pi(o^+) - \nabla\log\pi(o^-))$ with
# $\Delta = \beta[\log\tfrac{\pi}{\pi_{\rm ref}}(o^-) - \log\tfrac{\pi}{\pi_{\rm ref}}(o^+)]$. So,
# pair by pair,
#
# $$\nabla\mathcal L_{\rm 2GRPO} = \frac{1}{2\beta\,\sigma(\Delta)}\,\nabla\mathcal L_{\rm DPO},
# \qquad\text{which is } \frac1\beta \text{ at } \pi = \pi_{\rm ref}\ (\sigma(0) = \tfrac12).$$
#
# With the paper's token-mean aggregation and equal lengths $L$ the constant is $1/(\beta L)$. The paper
# states the structural analogy (both are "positive minus negative"); the identity and its conditions are
# derived and checked here. Gradients are taken by autograd through `grpo_theory.losses` on the toy tabular
# policy of `grpo_theory.montecarlo.tabular` (3 tokens, responses of 1–4 tokens, parameters shared by all
# prompts).

# %%
import torch

from grpo_theory.figures.data.gradients import F5_CONFIG, TabularToy, toy_gradient_equivalence
from grpo_theory.losses import online_dpo_loss, two_grpo_loss
from grpo_theory.montecarlo.toy_policy import conditional_probs
from grpo_theory.theory import dpo_link

torch.manual_seed(0)
toy = TabularToy(F5_CONFIG)
theta = toy.theta_ref.clone()
print(f"{toy.N} responses per prompt, {toy.S * toy.V} shared parameters, {toy.offsets.shape[0]} prompts")

# %% [markdown]
# ## At π = π_ref: parallel gradients, ratio 1/β
# 64 mixed pairs: $o^+ \sim \pi^+_q$ (the policy restricted to correct responses), $o^- \sim \pi^-_q$.

# %%
gen = torch.Generator().manual_seed(1)
pol = toy.policy(theta)
pi_pos, pi_neg = conditional_probs(pol)
prompts = torch.randint(pol.num_prompts, (64,), generator=gen)
resp = torch.stack([torch.multinomial(pi_pos[prompts], 1, generator=gen)[:, 0],
                    torch.multinomial(pi_neg[prompts], 1, generator=gen)[:, 0]], -1)  # (P, 2): o+, o-
rewards = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(64, 2)


def gradients(theta, prompts, resp, *, agg, beta, length_normalize=False):
    """(∇ 2-GRPO loss, ∇ DPO loss) w.r.t. the shared parameters, both through grpo_theory.losses."""
    rw = rewards[: len(prompts)]
    th = theta.clone().requires_grad_(True)
    logp, mask = toy.token_logp(th, prompts, resp)
    ref, _ = toy.token_logp(toy.theta_ref, prompts, resp)
    g2 = torch.autograd.grad(two_grpo_loss(logp, logp.detach(), rw, mask, loss_agg_mode=agg).loss, th,
                             retain_graph=True)[0]
    dpo = online_dpo_loss(logp, logp.detach(), rw, mask, ref_logp=ref, beta=beta,
                          length_normalize=length_normalize)
    gd = torch.autograd.grad(dpo.loss, th)[0]
    return g2.flatten(), gd.flatten()


def cos_ratio(a, b):
    return float(a @ b / (a.norm() * b.norm())), float(a.norm() / b.norm())


beta = 0.1
cos_sum, ratio_sum = cos_ratio(*gradients(theta, prompts, resp, agg="seq-mean-token-sum", beta=beta))
print(f"sequence sums:   cos = {cos_sum:.15f}   ratio = {ratio_sum:.10f}   1/β = {1 / beta}")

# %% [markdown]
# ## Token-mean aggregation: 1/(βL) needs equal lengths
# Pairs of two length-4 responses give $1/(\beta L) = 2.5$; the sampled pairs above have unequal lengths, and
# the two gradients are then not even parallel.

# %%
L = toy.L
lengths = toy.lengths
eq_prompts, eq_resp = [], []
for q in range(pol.num_prompts):
    pos = [n for n in range(toy.N) if toy.rewards[q, n] == 1 and lengths[n] == L]
    neg = [n for n in range(toy.N) if toy.rewards[q, n] == 0 and lengths[n] == L]
    if pos and neg:
        eq_prompts.append(q)
        eq_resp.append([pos[0], neg[0]])
eq_prompts, eq_resp = torch.tensor(eq_prompts), torch.tensor(eq_resp)
cos_eq, ratio_eq = cos_ratio(*gradients(theta, eq_prompts, eq_resp, agg="seq-mean-token-mean", beta=beta))
cos_neq, ratio_neq = cos_ratio(*gradients(theta, prompts, resp, agg="seq-mean-token-mean", beta=beta))
print(f"token-mean, equal lengths ({len(eq_prompts)} pairs): cos = {cos_eq:.15f}  ratio = {ratio_eq:.10f}  "
      f"1/(βL) = {1 / (beta * L)}")
print(f"token-mean, sampled (unequal) lengths:          cos = {cos_neq:.6f}  ratio = {ratio_neq:.6f}")

# %% [markdown]
# ## Away from π_ref: the per-pair factor 1/(2βσ(Δ)) holds, the batch cosine drops
# Train 2-GRPO for k steps, then compare again. The sweep is the data of figure F5
# (`paper_figures/F5_gradient_equivalence.png`); here a short version.

# %%
cfg = {**F5_CONFIG, "steps": [0, 16], "variants": ["sum, β = 1"], "pairs": 32, "train_pairs": 32}
sweep = toy_gradient_equivalence(cfg)
for name, rows in sweep["variants"].items():
    for k, kl, r in zip(sweep["steps"], sweep["kl"], rows):
        print(f"{name:12s} k = {k:3d}  KL = {kl:.3f}  batch cos = {r['cos']:.6f}  "
              f"β·ratio = {r['ratio_x_beta']:.4f}  per-pair rel. error = {r['pair_rel_dev']:.1e}")

# %% [markdown]
# ## The symbolic proof
# `grpo_theory.theory.dpo_link.check_R4` proves the relation exactly on a 3-token policy, and that it breaks
# with unequal lengths under token-mean, off-policy ratios or an active clip, a KL term, and tied pairs.

# %%
r4_symbolic = dpo_link.check_R4()
r4_symbolic

# %% [markdown]
# ## Real-valued rewards (R15): 2-GRPO follows ranks, not rewards
# With a mixed pair, population std and ε = 0 the advantage is sign(r_i − r_j) for *any* rewards. So
# E[ĝ_2 | q] = E_o[u(o) ∇log π(o)] with u(o) = P(R′ < r(o)) − P(R′ > r(o)), R′ an independent rollout of the
# current policy: the gradient of the win-minus-loss rate against a frozen copy. On a softmax bandit it is
# π ⊙ u. It only sees the order of the rewards, so it is not ∇E[r] = π ⊙ (r − E r) up to a scale, and the
# direction of E[ĝ_G] moves with G (towards ∇E[r]/σ as G → ∞). Everything below is exact (enumeration of
# group outcomes).

# %%
import numpy as np

from grpo_theory.theory import expected_bandit_gradient, win_rate_advantage
from grpo_theory.theory.real_rewards import cosine, expected_reward_gradient

pi5, r5 = np.full(5, 0.2), np.array([0.0, 0.1, 0.2, 0.5, 1.0])
u5 = win_rate_advantage(pi5, r5)
grad5 = expected_reward_gradient(pi5, r5)
print("u =", u5, " (ranks: a win-minus-loss rate)")
angle = {G: cosine(expected_bandit_gradient(pi5, r5, G), grad5) for G in (2, 3, 4, 8, 16, 32)}
for G, c in angle.items():
    print(f"G = {G:2d}: cos(E ĝ_G, ∇E[r]) = {c:.4f}")
same_under_cube = np.abs(expected_bandit_gradient(pi5, r5**3 + r5, 2)
                         - expected_bandit_gradient(pi5, r5, 2)).max()
print(f"2-GRPO after the increasing transform r ↦ r³ + r: max |Δ E ĝ_2| = {same_under_cube:.1e}")

# %% [markdown]
# **Sign amplification.** Any gap, even 10⁻⁹, gets the full ±1. On the tiny addition checkpoint with the real
# reward −10⁻⁹·|answer − truth| the pair 0022 / 0023 (truth 22) gives exactly the gradient of a
# correct/incorrect pair; a magnitude-aware estimator (Dr. GRPO) gives 5·10⁻¹⁰ of it, and verl's ε = 10⁻⁶
# damps it to ±5·10⁻⁴.

# %%
from pathlib import Path

from grpo_theory.montecarlo.sign_amplification import distance_reward, sign_amplification

tiny = Path("results/checkpoints/addition-tiny-seed0")
amp = None
if (tiny / "model.safetensors").is_file():
    from grpo_theory.realcheck._common import load

    comps = ("0022", "0023")
    amp = sign_amplification(load(str(tiny), threads=1), "005+017=", comps,
                             tuple(distance_reward(c, 22) for c in comps))
    print({k: amp[k] for k in ("gap", "advantages", "max_abs_diff_to_binary", "dr_grpo_over_paper")})

# %%
assert abs(angle[2] - 0.9399) < 1e-4 and angle[16] > angle[2] + 0.03
assert same_under_cube < 1e-15
assert amp is None or (amp["max_abs_diff_to_binary"] == 0.0 and amp["advantages"]["paper"] == [1.0, -1.0])

# %% [markdown]
# ## Predicted vs measured

# %%
beta1 = sweep["variants"]["sum, β = 1"]
rows = [
    ("cos at π_ref, sums", 1.0, cos_sum, 1e-12),
    ("ratio at π_ref, sums (1/β)", 1 / beta, ratio_sum, 1e-9),
    ("cos at π_ref, token-mean, equal L", 1.0, cos_eq, 1e-12),
    ("ratio at π_ref, token-mean, equal L (1/(βL))", 1 / (beta * L), ratio_eq, 1e-9),
    ("per-pair 1/(2βσ(Δ)) rel. error, k = 16, β = 1", 0.0, beta1[-1]["pair_rel_dev"], 1e-12),
]
print(f"{'quantity':48s} {'predicted':>10s} {'measured':>14s}")
for name, pred, meas, tol in rows:
    print(f"{name:48s} {pred:10.4f} {meas:14.10f}")
    assert abs(meas - pred) <= tol * max(1.0, abs(pred)), name
assert cos_neq < 1 - 1e-6, "unequal lengths under token-mean should break parallelism"
assert beta1[-1]["cos"] < beta1[0]["cos"], "the batch cosine should drop away from π_ref"
assert r4_symbolic
print("all predictions hold")
