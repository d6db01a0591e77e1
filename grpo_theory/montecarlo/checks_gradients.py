r"""Monte Carlo checks of the expected advantage, the gradient scale and the zero-signal rate: R5-R7.

Sampled groups from the fixed toy policies (or plain Bernoulli rewards), advantages from
:mod:`grpo_theory.losses`, compared with exact finite sums from :mod:`.exact`.
"""

from __future__ import annotations

import torch

from grpo_theory.losses import ADVANTAGE_PRESETS, group_advantages
from grpo_theory.montecarlo import exact
from grpo_theory.montecarlo.estimators import exact_family, sample_group_gradients, sample_groups
from grpo_theory.montecarlo.fixtures import (
    bernoulli,
    check_bandit,
    check_directions,
    fixture_policy,
    generator,
)
from grpo_theory.montecarlo.stats import McResult, bonferroni_z, mean_stderr, projected_z, result, worst
from grpo_theory.montecarlo.toy_policy import ToyPolicy, exact_grad_p, gather_prompts

Tensor = torch.Tensor
F64 = torch.float64


# --------------------------------------------------------------------------------------------- R5
R5_CASES = ((2, 0, 0.0, 0.3), (2, 0, 0.1, 0.3), (2, 1, 0.0, 0.3), (16, 0, 0.0, 0.1), (16, 1, 0.0, 0.1),
            (16, 0, 0.0, 0.5))


def check_r5(n: int, seed: int) -> McResult:
    """R5: E[A | r] from sampled groups vs (r − p)/(1+2ε) (G = 2) and the exact finite-G sum."""
    gen = generator(seed)
    subs = []
    for g, ddof, eps, p in R5_CASES:
        r = bernoulli(p, (n, g), gen)
        a = group_advantages(r, scale="group", std_ddof=ddof, eps=eps)
        for x in (0, 1):
            sel = a[:, 0][r[:, 0] == x]  # first rollout only: i.i.d. across groups
            m, se = mean_stderr(sel)
            ex = exact.expected_advantage(g, p, x, family="grpo", std_ddof=ddof, eps=eps)
            note = ""
            if g == 2 and ddof == 0:
                closed = (x - p) / (1 + 2 * eps)
                note = f"closed form {(closed):.6g}"
                ex = closed
            subs.append((f"G={g} ddof={ddof} eps={eps} p={p} r={x}", result(float(m), ex, float(se), note)))
    return worst(subs)


# --------------------------------------------------------------------------------------------- R6
R6_CASES = (("bandit", 2, "paper"), ("bandit", 3, "paper"), ("bandit", 16, "paper"), ("tabular", 2, "paper"),
            ("tabular", 3, "paper"), ("tabular", 16, "paper"), ("tabular", 2, "verl"), ("tabular", 4, "rloo"))


def pooled_lambda(samples: Tensor, grad_p: Tensor) -> tuple[float, float]:
    """:math:`\\hat\\lambda = \\sum_q\\langle\\bar g_q, \\nabla p_q\\rangle / \\sum_q\\|\\nabla p_q\\|^2` and
    its stderr.

    Args:
        samples: ``[R, Q, D]`` per-prompt estimates.
        grad_p: ``[Q, D]`` exact gradients.
    """
    per = torch.einsum("rqd,qd->r", samples, grad_p) / (grad_p * grad_p).sum()
    m, se = mean_stderr(per)
    return float(m), float(se)


def lambda_case(policy: ToyPolicy, group_size: int, estimator: str, n: int, gen: torch.Generator,
                lam_claimed: Tensor | None = None) -> tuple[McResult, McResult]:
    """E[ĝ_G | q] vs λ_G(p_q) ∇p_q on one policy: (pooled-λ result, projection result).

    ``lam_claimed`` ``[Q]`` replaces the exact λ (to show that a wrong λ is rejected).
    """
    fam = exact_family(estimator)
    p = policy.success_prob()
    lam = torch.tensor([exact.gradient_scale(group_size, float(x), **fam) for x in p], dtype=F64)
    if lam_claimed is not None:
        lam = lam_claimed
    grad_p = exact_grad_p(policy)
    want = lam.unsqueeze(-1) * grad_p
    x = sample_group_gradients(policy, group_size, n, gen, estimator)
    unit = grad_p / grad_p.norm(dim=-1, keepdim=True)
    dirs = torch.cat([unit.unsqueeze(1), check_directions(policy.num_prompts, policy.dim)], 1)
    zeq, zmax, m = bonferroni_z(projected_z(x, want, dirs))
    lam_hat, lam_se = pooled_lambda(x, grad_p)
    lam_pooled = float((lam * (grad_p * grad_p).sum(-1)).sum() / (grad_p * grad_p).sum())
    pooled = result(lam_hat, lam_pooled, lam_se, "pooled λ = Σ<ḡ_q,∇p_q>/Σ|∇p_q|²")
    proj = McResult(zmax, 0.0, 1.0, zeq, zeq <= 4.0,
                    f"{m} projections (∇p_q and 3 random directions per prompt): raw max|z|={zmax:.2f}, "
                    f"Bonferroni-equivalent z={zeq:.2f}")
    return pooled, proj


def check_r6(n: int, seed: int) -> McResult:
    """R6: E[ĝ_G | q] = λ_G(p) ∇p for G = 2, 3, 16 on both toy policies (λ_2 ≡ 1, λ_3 ≡ √2)."""
    gen = generator(seed)
    subs = []
    for pol_name, g, est in R6_CASES:
        pooled, proj = lambda_case(fixture_policy(pol_name), g, est, n, gen)
        subs.append((f"{pol_name} G={g} {est} pooled-λ", pooled))
        subs.append((f"{pol_name} G={g} {est} projections", proj))
    return worst(subs)


# --------------------------------------------------------------------------------------------- R7
def check_r7(n: int, seed: int) -> McResult:
    """R7: frequency of all-zero advantages vs p^G + (1−p)^G, and the Jensen gap E_q P0(p_q) − P0(p̄)."""
    gen = generator(seed)
    pol = check_bandit()
    p = pol.success_prob()
    pbar = float(p.mean())
    subs = []
    for g in (2, 4, 16):
        idx = sample_groups(pol, n, g, gen)
        a = group_advantages(gather_prompts(pol.rewards, idx).reshape(-1, g), **ADVANTAGE_PRESETS["paper"])
        zero = (a == 0).all(-1).reshape(n, pol.num_prompts).to(F64)  # (R, Q)
        freq = zero.mean(0)
        p0 = torch.tensor([exact.zero_signal_probability(g, float(x)) for x in p], dtype=F64)
        se_q = (p0 * (1 - p0) / n).sqrt()  # binomial stderr under the exact rate (rare events at G=16)
        for q in (0, 2):
            subs.append((f"G={g} p={float(p[q]):.2f}", result(float(freq[q]), float(p0[q]), float(se_q[q]))))
        pooled, se = float(freq.mean()), float((se_q**2).sum().sqrt() / pol.num_prompts)
        gap_exact = float(p0.mean()) - exact.zero_signal_probability(g, pbar)
        subs.append((f"G={g} Jensen gap",
                     result(pooled - exact.zero_signal_probability(g, pbar), gap_exact, se,
                                                 f"E_q P0={float(p0.mean()):.4f} ≥ P0(p̄)="
                                                 f"{exact.zero_signal_probability(g, pbar):.4f}, informative "
                                                 f"prompts per batch of {pol.num_prompts}: sampled "
                                                 f"{pol.num_prompts * (1 - pooled):.3f}, exact "
                                                 f"{pol.num_prompts * (1 - float(p0.mean())):.3f}")))
    return worst(subs)
