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
# # 01 · GRPO is contrastive (R1–R3)
#
# GRPO gives rollout $i$ of a prompt the advantage $A_i = (r_i - \bar r)/(s + \varepsilon)$, with $\bar r$ and
# $s$ the mean and standard deviation of the $G$ rewards of its group. With binary rewards and $k$ of $G$
# rollouts correct ($\hat p = k/G$), every correct rollout gets the same $A^+$ and every wrong one the same
# $A^-$, and (population std, $\varepsilon = 0$)
#
# $$\frac1G\sum_i A_i X_i \;=\; \sqrt{\hat p(1-\hat p)}\,\big(\bar X^+ - \bar X^-\big)\qquad\text{(R1)}$$
#
# for **any** per-rollout quantity $X_i$: a score function, a clipped surrogate, a log-probability.
# GRPO is a weighted "mean over positives minus mean over negatives", i.e. contrastive.
# With $G = 2$ (R2) a mixed pair gets $A = \pm 1$, and (R3) 2-GRPO equals RLOO with $G = 2$ and twice
# Dr. GRPO.
#
# Everything below uses the project's one loss library, `grpo_theory.losses`; nothing is re-implemented here.

# %%
import math

import torch

from grpo_theory.losses import (
    ADVANTAGE_PRESETS,
    contrastive_form,
    dr_grpo_loss,
    group_advantages,
    grpo_loss,
    rloo_loss,
    two_grpo_loss,
)
from grpo_theory.theory import contrastive

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## R1: the contrastive identity, numerically
# Eight prompts, $G = 8$ binary rewards each, and an arbitrary per-rollout quantity $X$.

# %%
P, G = 8, 8
rewards = (torch.rand(P, G) < 0.4).double()
X = torch.randn(P, G)
A = group_advantages(rewards)  # population std, eps = 0 (the paper's convention)
lhs = (A * X).mean(-1)

k = rewards.sum(-1)
p_hat = k / G
pos = (X * rewards).sum(-1) / k.clamp(min=1)
neg = (X * (1 - rewards)).sum(-1) / (G - k).clamp(min=1)
rhs = torch.sqrt(p_hat * (1 - p_hat)) * (pos - neg)
for i in range(P):
    print(f"k = {int(k[i])}/{G}:  (1/G) Σ A_i X_i = {lhs[i]:+.6f}   √(p̂(1-p̂)) (X̄⁺ - X̄⁻) = {rhs[i]:+.6f}")
r1_err = float((lhs - rhs).abs().max())
print("max |difference| =", r1_err)

# %% [markdown]
# The same identity holds for the whole clipped GRPO objective, off-policy: `contrastive_form` computes
# $\sqrt{\hat p(1-\hat p)}\,(\text{mean positive term} - \text{mean negative term})$ with the clipped ratios,
# and its loss equals `grpo_loss` with the paper's conventions.

# %%
T = 5
logp = torch.randn(P, G, T) * 0.1 - 1.0
old_logp = logp + torch.randn(P, G, T) * 0.3  # off-policy: some ratios are clipped
mask = (torch.rand(P, G, T) < 0.8).double()
mask[..., 0] = 1.0
grpo = grpo_loss(logp, old_logp, rewards, mask)
contr = contrastive_form(logp, old_logp, rewards, mask)
print(f"grpo_loss = {grpo.loss:.12f}   contrastive_form.loss = {contr.loss:.12f}   "
      f"clip_frac = {grpo.metrics.get('clip_frac', float('nan')):.2f}")
r1_loss_err = abs(float(grpo.loss - contr.loss))

# %% [markdown]
# ## R2: the advantages of a pair
# A mixed pair gets $\pm 1$ with the population std, $\pm 1/\sqrt2$ with the sample std (TRL, verl), and
# $\pm 1/(1+2\varepsilon)$ with an $\varepsilon$. For real-valued rewards the $G = 2$ advantage is the sign of
# the reward gap: its size is discarded.

# %%
pair = torch.tensor([[1.0, 0.0]])
for name in ("paper", "trl", "verl", "dr_grpo"):
    print(f"{name:8s} {group_advantages(pair, **ADVANTAGE_PRESETS[name]).tolist()}")
real = torch.tensor([[0.3, 7.0], [2.0, 1.999], [5.0, 5.0]])
print("real rewards", real.tolist(), "->", group_advantages(real).tolist())
r2_values = {
    "ddof 0": float(group_advantages(pair)[0, 0]),
    "ddof 1": float(group_advantages(pair, std_ddof=1)[0, 0]),
    "eps 0.1": float(group_advantages(pair, eps=0.1)[0, 0]),
}

# %% [markdown]
# ## R3: 2-GRPO = RLOO(G = 2) = 2 × Dr. GRPO(G = 2)
# Gradients of the three losses on the same pairs (binary rewards, on-policy, same token aggregation).

# %%
P2, T2 = 16, 4
logp2 = (torch.randn(P2, 2, T2) * 0.2 - 1.0).requires_grad_(True)
rewards2 = (torch.rand(P2, 2) < 0.5).double()
mask2 = torch.ones(P2, 2, T2)


def grad_of(loss_fn, **kw):
    (g,) = torch.autograd.grad(loss_fn(logp2, logp2.detach(), rewards2, mask2, **kw).loss, logp2)
    return g


g_two = grad_of(two_grpo_loss)
g_rloo = grad_of(rloo_loss)
g_dr = grad_of(dr_grpo_loss, loss_agg_mode="seq-mean-token-mean")
r3_rloo = float((g_two - g_rloo).abs().max())
r3_dr = float((g_two - 2 * g_dr).abs().max())
print(f"max |∇ 2-GRPO − ∇ RLOO| = {r3_rloo:.2e}    max |∇ 2-GRPO − 2 ∇ Dr.GRPO| = {r3_dr:.2e}")

# %% [markdown]
# ## The symbolic proofs
# `grpo_theory.theory.contrastive` proves R1–R3 exactly with sympy (every G ≤ 5 and every k for R1).

# %%
symbolic = {"R1": contrastive.check_R1(), "R2": contrastive.check_R2(), "R3": contrastive.check_R3()}
symbolic

# %% [markdown]
# ## Predicted vs measured

# %%
rows = [
    ("R1 (1/G)ΣA_iX_i − √(p̂(1−p̂))(X̄⁺−X̄⁻)", 0.0, r1_err, 1e-12),
    ("R1 grpo_loss − contrastive_form (clipped)", 0.0, r1_loss_err, 1e-12),
    ("R2 A⁺, population std", 1.0, r2_values["ddof 0"], 1e-12),
    ("R2 A⁺, sample std", 1 / math.sqrt(2), r2_values["ddof 1"], 1e-12),
    ("R2 A⁺, eps = 0.1", 1 / 1.2, r2_values["eps 0.1"], 1e-12),
    ("R3 ∇2-GRPO − ∇RLOO", 0.0, r3_rloo, 1e-12),
    ("R3 ∇2-GRPO − 2∇Dr.GRPO", 0.0, r3_dr, 1e-12),
]
print(f"{'quantity':45s} {'predicted':>12s} {'measured':>14s}")
for name, pred, meas, tol in rows:
    print(f"{name:45s} {pred:12.6f} {meas:14.3e}" if pred == 0 else f"{name:45s} {pred:12.6f} {meas:14.6f}")
    assert abs(meas - pred) <= tol, name
assert all(symbolic.values())
print("all predictions hold")
