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
# # 03 · Variance, control variates and the batch budget (R8–R11, R16)
#
# Three statements of the paper about variance, checked on a toy policy whose every moment is an exact sum:
#
# * **R8 (Prop. 4.1).** $\mathrm{Var}(g^+ - c\,g^-) \le \mathrm{Var}(g^+)$ iff
#   $0 \le c \le 2\,\mathrm{Cov}(g^+, g^-)/\mathrm{Var}(g^-)$, minimized at
#   $c^* = \mathrm{Cov}/\mathrm{Var}(g^-)$. GRPO's group baseline is exactly $c = 1$, so it reduces variance
#   only if $\mathrm{Cov} \ge \mathrm{Var}(g^-)/2$.
# * **R9.** For exact sequence scores, $p\,m^+ + (1-p)\,m^- = \mathbb E[\nabla\log\pi] = 0$: within a prompt
#   the mean positive and negative gradients are anti-aligned, $m^- = -\tfrac{p}{1-p}m^+$.
# * **R10/R11.** At a fixed rollout budget $B = QG$ the mini-batch variance is
#   $\mathrm{Var}_q(\mathbb E[\hat g|q])/Q + \mathbb E_q\mathrm{Var}(\hat g|q)/Q$; the prompt term grows
#   linearly in $G$.
#
# The toy is `grpo_theory.montecarlo.tabular`: 3 tokens, responses of 1–4 tokens, parameters shared by all
# prompts, heterogeneous success probabilities. Monte Carlo estimators take their advantages from
# `grpo_theory.losses`.

# %%
import itertools

import matplotlib.pyplot as plt
import torch

from grpo_theory.figures import style
from grpo_theory.figures.data import theory as figdata
from grpo_theory.montecarlo.toy_policy import conditional_moments
from grpo_theory.theory import control_variate, variance

style.apply()
policy = figdata.population_policy(figdata.F4_CONFIG["population"], seed=4)
p = policy.success_prob()
print(f"{policy.num_prompts} prompts, {policy.num_responses} responses each, D = {policy.dim}; "
      f"p from {p.min():.2f} to {p.max():.2f}")

# %% [markdown]
# ## R9: the score identity
# With sequence scores the identity holds to rounding; with the token-mean "scores" of GRPO's default
# aggregation (each $\nabla\log\pi(o)$ divided by $|o|$) it does not, because
# $\mathbb E[\nabla\log\pi(o)/|o|] \ne 0$.

# %%
r9 = {}
for kind in ("summed", "length-normalized"):
    m = conditional_moments(policy, kind)
    resid = m["m_minus"] + (m["p"] / (1 - m["p"])).unsqueeze(-1) * m["m_plus"]
    r9[kind] = float(resid.norm(dim=-1).max() / m["m_minus"].norm(dim=-1).max())
    inner = (m["m_plus"] * m["m_minus"]).sum(-1)
    print(f"{kind:10s} max |m⁻ + p/(1-p) m⁺| / max |m⁻| = {r9[kind]:.2e};  "
          f"⟨m⁺, m⁻⟩ < 0 for {int((inner < 0).sum())}/{len(inner)} prompts")

# %% [markdown]
# ## R8: the control variate, in the setting of v3 App. B.8
# Draw a prompt, then one positive and one negative response of it, independently. The within-prompt
# covariance is then 0 and only the cross-prompt part $\mathrm{Cov}_q(m^+_q, m^-_q)$ remains (law of total
# covariance).

# %%
cv = figdata.control_variate({**figdata.F4_CONFIG, "pairs": 12000, "c_mc": [0.0, 1.0, 2.0],
                              "c": [0.0, 1.0, 2.0]})
for kind, d in cv["kinds"].items():
    print(f"{kind:10s} Var(g+) = {d['var_plus']:.4f}  Var(g-) = {d['var_minus']:.4f}  Cov = {d['cov']:+.4f}  "
          f"ρ = {d['rho']:+.3f}  premise Cov ≥ Var(g-)/2: {d['cov'] >= d['var_minus'] / 2}")
    for c, exact, mc, se in zip(cv["c"], d["ratio"], d["mc_mean"], d["mc_se"]):
        print(f"      c = {c:.0f}: Var(g+ - c g-)/Var(g+) exact {exact:.4f}  Monte Carlo {mc:.4f} ± {se:.4f}")

# %% [markdown]
# In this toy the cross-prompt covariance is **negative** for both score functions, so GRPO's $c = 1$ *raises*
# the variance of the positive-minus-negative difference instead of lowering it. Prop. 4.1 is a correct
# statement; whether its premise holds is an empirical question about the model (the real-model measurement is
# in `results/realcheck`).

# %% [markdown]
# ## R11: the mini-batch variance at a fixed rollout budget
# $B = 64$ rollouts per batch: $Q = 64/G$ prompts drawn from the population, $G$ rollouts each.

# %%
vb = figdata.variance_budget({**figdata.F3_CONFIG, "groups": [2, 4, 8], "replicates": 600,
                              "population": {**figdata.F3_CONFIG["population"], "prompts": 16}})
fig, axes = style.figure(2, 1, height=2.0)
for ax, (name, rows) in zip(axes[0], vb["estimators"].items()):
    style.decorate(ax)
    scale = torch.tensor(rows["mean_norm2"])
    for key, ls in (("total", "-"), ("prompt", "--"), ("within", ":")):
        ax.plot(vb["groups"], torch.tensor(rows[key]) / scale, ls, label=key)
    ax.errorbar(vb["groups"], torch.tensor(rows["mc"]) / scale,
                yerr=1.96 * torch.tensor(rows["mc_se"]) / scale, fmt="o", ms=3, label="Monte Carlo")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_title(name)
    ax.set_xlabel("G (Q = 64/G)")
axes[0][0].set_ylabel("Var / ‖E ĝ‖²")
axes[0][0].legend()
plt.show()
for name, rows in vb["estimators"].items():
    for G, pr, tot, mc, se in zip(vb["groups"], rows["prompt"], rows["total"], rows["mc"], rows["mc_se"]):
        print(f"{name:6s} G = {G:2d}: prompt term {pr:.5f}  total exact {tot:.5f}  "
              f"Monte Carlo {mc:.5f} ± {se:.5f}")

# %% [markdown]
# The prompt term doubles with every doubling of $G$ (R11: fewer rollouts per prompt never increase it), but
# the within-prompt term is not constant: with $G = 2$ the baseline is a single other rollout, and the coupled
# advantages make the per-rollout variance larger. The total is smallest at an intermediate $G$ here.

# %%
symbolic = {"R8": control_variate.check_R8(), "R9": control_variate.check_R9(),
            "R10": variance.check_R10(), "R11": variance.check_R11()}
symbolic

# %% [markdown]
# ## R16: the best group size at a fixed budget
# The U-statistic bound c1/B + c2/(BG) + c3/(BG²) at N = BG rollouts gives G* = √(c3/c1), and G = 2 is optimal
# iff c3/c1 ≤ 6. On two toys (shared parameters; binary and real-valued rewards) the per-step error is exact
# by enumeration, against three targets: each G's own population gradient, ∇E[r] (scale included) and the
# direction only. Figure F11 is the same computation with Monte Carlo points.

# %%
from grpo_theory.theory.group_size import TARGETS, r16_table

r16 = r16_table()
for kind, t in r16.items():
    e = t["errors"]
    print(f"{kind} rewards, N = 64:")
    for target in TARGETS:
        row = "  ".join(f"G={g}: {v:.3f}" for g, v in zip(e["G"], e[target]))
        print(f"  {target:9s} {row}   best G = {t['best'][target]}")
    for target in ("own", "direction"):
        print(f"  fit ({target}): {t['fits'][target].summary()}")

# %%
for t in r16.values():
    assert t["best"]["grad"] == 2 and t["best"]["direction"] == 4
    assert t["fits"]["direction"].g2_optimal == "no"

# %% [markdown]
# ## Predicted vs measured

# %%
checks = []
for kind, d in cv["kinds"].items():
    for c, exact, mc, se in zip(cv["c"], d["ratio"], d["mc_mean"], d["mc_se"]):
        if c > 0:
            checks.append((f"R8 {kind} Var(g⁺−{c:.0f}g⁻)/Var(g⁺)", exact, mc, se))
for name, rows in vb["estimators"].items():
    for G, tot, mc, se in zip(vb["groups"], rows["total"], rows["mc"], rows["mc_se"]):
        checks.append((f"R11 {name} Var(ĝ_B), G = {G}", tot, mc, se))
print(f"{'quantity':36s} {'predicted':>10s} {'measured':>10s} {'z':>6s}")
for name, pred, meas, se in checks:
    z = (meas - pred) / se
    print(f"{name:36s} {pred:10.5f} {meas:10.5f} {z:+6.2f}")
    assert abs(z) < 4, name
prompt_terms = vb["estimators"]["rloo"]["prompt"]
ratios = [b / a for a, b in itertools.pairwise(prompt_terms)]
print("prompt term ratio per doubling of G:", [f"{r:.3f}" for r in ratios])
assert all(abs(r - 2) < 1e-9 for r in ratios)
assert r9["summed"] < 1e-12 and r9["length-normalized"] > 1e-3
assert all(symbolic.values())
print("all predictions hold")
