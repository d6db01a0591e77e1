r"""R16: which group size estimates the gradient best at a fixed rollout budget N = BG.

The public entry point for fitting measured errors is :func:`fit_budget_constants` (defined in
:mod:`grpo_theory.theory.budget_fit`, re-exported here): err(B, G) ≈ c1/B + c2/(BG) + c3/(BG²), G* = √(c3/c1),
G = 2 optimal among integers ≥ 2 iff c3/c1 ≤ 6.

On toy policies the errors are exact (:func:`budget_errors`, by enumeration of group outcomes with
:func:`grpo_theory.theory.real_rewards.group_gradient_moments`), against three targets: each G's own
population gradient, the true gradient ∇E[r], and its direction only. :func:`r16_table` gives both toys
(binary and real-valued rewards) at N = 64; :func:`check_R16` the evidence behind the registry verdict.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from grpo_theory.theory.budget_fit import G2_RATIO_BOUND, BudgetFit, design, fit_budget_constants
from grpo_theory.theory.real_rewards import expected_reward_gradient, group_gradient_moments

__all__ = ["G2_RATIO_BOUND", "BudgetFit", "budget_errors", "check_R16", "design", "fit_budget_constants",
           "r16_table", "toy_prompts"]


# ------------------------------------------------------------------------------------ exact toy errors

#: The three targets of R16 (module docstring of :func:`budget_errors`).
TARGETS = ("own", "grad", "direction")
TOY_SEED = 1602
TOY_PROMPTS = 6
TOY_ARMS = 4
#: Success probabilities of the binary toy's prompts (easy to hard).
TOY_P = (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)


def toy_prompts(kind: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixed toy policies of R16: 6 prompts, each a softmax bandit over 4 responses, as (π_q, r_q).

    ``"binary"``: responses 0 and 1 are correct, the logits put P(correct) at :data:`TOY_P`.
    ``"real"``: distinct rewards drawn uniformly from [0, 1], logits N(0, 1) (seeded).
    """
    rng = np.random.default_rng(TOY_SEED)
    out = []
    for q in range(TOY_PROMPTS):
        logits = rng.standard_normal(TOY_ARMS)
        pi = np.exp(logits - logits.max())
        pi /= pi.sum()
        if kind == "binary":
            r = np.array([1.0, 1.0, 0.0, 0.0])
            p = TOY_P[q]
            pi = np.concatenate([p * pi[:2] / pi[:2].sum(), (1 - p) * pi[2:] / pi[2:].sum()])
        elif kind == "real":
            r = rng.uniform(0.0, 1.0, TOY_ARMS)
        else:
            raise ValueError(f"kind must be 'binary' or 'real', got {kind!r}")
        out.append((pi, r))
    return out


def toy_features(num_prompts: int) -> np.ndarray:
    """φ_q = (e_q, 1): each prompt's logits are θ_q = w_q + w_0, a per-prompt part plus a shared part, [Q,
    Q+1]."""
    return np.hstack([np.eye(num_prompts), np.ones((num_prompts, 1))])


def budget_errors(
    prompts, N: int, Gs, *, features=None, std_ddof: int = 0, eps: float = 0.0
) -> dict[str, np.ndarray]:
    r"""Exact per-step errors of the GRPO batch gradient at a fixed budget N = BG, by enumeration.

    Parameters: prompt q's logits are θ_q = W φ_q (W ∈ ℝ^{K×F}, ``features`` Φ = [φ_q] of shape [Q, F],
    default :func:`toy_features`), so ∇_W log π(k | q) = (e_k − π_q) φ_qᵀ and prompts share parameters.
    A step draws B = N/G prompts uniformly (with replacement) and G rollouts each; ĝ = (1/B) Σ_b ĝ_G(q_b).
    With μ_G = E ĝ_G(q) (one draw), Σ_G its covariance, t = ∇_W J, J = mean_q E_{π_q}[r] (the true gradient),
    u = t/‖t‖ and P⊥ = I − uuᵀ:

    - ``own``:  E‖ĝ − μ_G‖² / ‖μ_G‖² = tr Σ_G / (B ‖μ_G‖²)  (each G against its own population gradient,
      relative to its size);
    - ``grad``: E‖ĝ − t‖² / ‖t‖² = (‖μ_G − t‖² + tr Σ_G / B) / ‖t‖²  (against ∇E[r], scale included);
    - ``direction``: E‖P⊥ĝ‖² / (uᵀμ_G)² = (‖P⊥μ_G‖² + tr(P⊥Σ_G P⊥)/B) / (uᵀμ_G)²  (scale-free: the tangent
      error, the ratio-of-expectations form of tan²∠(ĝ, t)).

    ``grad`` and ``direction`` are a G-dependent bias (``grad_bias``, ``direction_bias``) plus a variance
    part (``grad_var``, ``direction_var``) that follows the c1/B + c2/(BG) + c3/(BG²) law; ``own`` has no
    bias.

    Returns:
      dict of arrays over ``Gs``: ``G``, ``B``, the three targets, their biases and variance parts; also
      ``mean`` [len(Gs), K, F] (μ_G) and ``target`` [K, F] (t), for Monte Carlo checks.
    """
    Gs = [int(g) for g in Gs]
    if any(N % g for g in Gs):
        raise ValueError(f"every G must divide N = {N}, got {Gs}")
    Q = len(prompts)
    phi = toy_features(Q) if features is None else np.asarray(features, dtype=float)
    if phi.ndim != 2 or phi.shape[0] != Q:
        raise ValueError(f"features must have shape [Q={Q}, F], got {phi.shape}")
    # t = (1/Q) Σ_q ∇_θq E[r] φ_qᵀ, as a [K, F] matrix
    t = np.sum([np.outer(expected_reward_gradient(pi, r), f) for (pi, r),
                f in zip(prompts, phi, strict=True)], axis=0) / Q
    tt = float((t * t).sum())
    u = t / math.sqrt(tt)
    out: dict[str, list[float]] = {
        k: [] for k in ("own", "grad_bias", "grad_var", "direction_bias", "direction_var")
    }
    means = []
    for g in Gs:
        B = N / g
        mu = np.zeros_like(t)
        tr2 = u2 = 0.0
        for (pi, r), f in zip(prompts, phi, strict=True):
            m1, m2 = group_gradient_moments(pi, r, g, std_ddof=std_ddof, eps=eps)
            assert m2 is not None  # second=True
            mu += np.outer(m1, f) / Q
            tr2 += float(np.trace(m2)) * float(f @ f) / Q  # E‖g φᵀ‖² = tr M2 ‖φ‖²
            uf = u @ f
            u2 += float(uf @ m2 @ uf) / Q  # E⟨u, g φᵀ⟩² = (uφ)ᵀ M2 (uφ)
        means.append(mu)
        tr_sigma = tr2 - float((mu * mu).sum())
        along = float((u * mu).sum())
        u_sigma_u = u2 - along**2
        perp = mu - along * u
        out["own"].append(tr_sigma / B / float((mu * mu).sum()))
        out["grad_bias"].append(float(((mu - t) ** 2).sum()) / tt)
        out["grad_var"].append(tr_sigma / B / tt)
        out["direction_bias"].append(float((perp * perp).sum()) / along**2)
        out["direction_var"].append((tr_sigma - u_sigma_u) / B / along**2)
    res = {k: np.array(v) for k, v in out.items()}
    res["grad"] = res["grad_bias"] + res["grad_var"]
    res["direction"] = res["direction_bias"] + res["direction_var"]
    res["G"] = np.array(Gs)
    res["B"] = N / np.array(Gs, dtype=float)
    res["mean"] = np.stack(means)
    res["target"] = t
    return res


# ------------------------------------------------------------------------------------------- summary

#: The budget and grid of the R16 verdict (every G divides N).
R16_N = 64
R16_GRID = (2, 4, 8, 16, 32, 64)


@cache
def r16_table(N: int = R16_N, Gs: tuple[int, ...] = R16_GRID) -> dict[str, dict]:
    """Exact errors and fits for both toys (cached: treat the result as read-only): {kind: {"errors":
    budget_errors(...), "fits": {target: BudgetFit}, "best": {target: G with the smallest exact error},
    "g2_excess": {target: err(2)/min err − 1}}}.

    The fits use the bias-free part of each target (``own``, ``grad_var``, ``direction_var``).
    """
    out = {}
    for kind in ("binary", "real"):
        e = budget_errors(toy_prompts(kind), N, Gs)
        fits = {t: fit_budget_constants(e["B"], e["G"], e[t if t == "own" else f"{t}_var"]) for t in TARGETS}
        best = {t: int(e["G"][int(np.argmin(e[t]))]) for t in TARGETS}
        excess = {t: float(e[t][0] / e[t].min() - 1.0) for t in TARGETS}
        out[kind] = {"errors": e, "fits": fits, "best": best, "g2_excess": excess}
    return out


def check_R16():
    """Evidence for R16: the G = 2 rule and G* exactly (sympy), the fit on an exact law, and the toy
    verdicts."""
    import sympy as sp

    from grpo_theory.theory.evidence import Evidence

    ev = Evidence("R16")
    c1, c3, g = sp.symbols("c1 c3 G", positive=True)
    f = c1 * g + c3 / g  # N · err(G) − c2 at a fixed budget
    ev.zero("err(3) − err(2) = c1 − c3/6 (so G = 2 is optimal iff c3/c1 ≤ 6)",
            f.subs(g, 3) - f.subs(g, 2) - (c1 - c3 / 6))
    ev.add("G* = √(c3/c1) is the stationary point", sp.solve(sp.diff(f, g), g) == [sp.sqrt(c3 / c1)])
    Gg = np.array(R16_GRID)
    Bg = R16_N / Gg
    fit = fit_budget_constants(Bg, Gg, 1.0 / Bg + 2.0 / (Bg * Gg) + 8.0 / (Bg * Gg**2))
    ev.close("fit recovers (c1, c2, c3) = (1, 2, 8) from the exact law",
             float(np.abs(fit.c - [1, 2, 8]).max()), 0.0, 1e-9)
    table = r16_table()
    for kind in ("binary", "real"):
        t = table[kind]
        ev.add(f"{kind}: against ∇E[r] (scale included) G = 2 has the smallest error", t["best"]["grad"] == 2,
               f"best G = {t['best']['grad']}")
        for target in ("own", "direction"):
            ft = t["fits"][target]
            ev.add(f"{kind}: {target}: best G on the grid is 4, G = 2 is {100 * t['g2_excess'][target]:.0f}% "
                   "worse",
                   t["best"][target] == 4 and 0.0 < t["g2_excess"][target] < 0.5,
                   f"best G = {t['best'][target]}")
            ev.add(f"{kind}: {target}: fitted c3/c1 > 6 (G* = {ft.g_star:.2f}), the law fits to "
                   f"{100 * ft.rel_residual:.1f}%",
                   ft.g2_optimal == "no" and ft.rel_residual < 0.05, ft.summary())
    ev.add("binary: 2-GRPO has no direction bias (λ_2 constant)",
           table["binary"]["errors"]["direction_bias"][0] < 1e-20,
           f"{table['binary']['errors']['direction_bias'][0]:.2g}")
    ev.add("real: 2-GRPO's direction is biased (rank weights)",
           table["real"]["errors"]["direction_bias"][0] > 0.05,
           f"{table['real']['errors']['direction_bias'][0]:.3g}")
    return ev


CHECKS = {"R16": check_R16}
