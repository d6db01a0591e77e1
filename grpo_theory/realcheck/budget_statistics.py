r"""R16's statistics: unbiased targets of one (N, G) cell from its replicates, with jackknife CIs.

The targets and their definitions are in :mod:`grpo_theory.realcheck.group_size_budget`.

The population gradient t is estimated by RLOO (:func:`grpo_theory.losses.rloo_loss`, unbiased for
:math:`\mathbb E_q\nabla p_q`) on ``ref_prompts`` × ``ref_group`` rollouts, as two independent halves
:math:`\hat t_1,\hat t_2`. Every quantity is then an unbiased U-statistic: :math:`\|\mu\|^2` from
:math:`\sum_{r\ne s}\langle v_r,v_s\rangle/(R(R-1))`, :math:`\mathbb E\|\hat g\|^2` from the mean of
:math:`\|v_r\|^2`, :math:`\langle\mu,t\rangle` from :math:`a_r=\langle v_r,\hat t_1\rangle`,
:math:`b_r=\langle v_r,\hat t_2\rangle`, :math:`(u^\top\mu)^2\|t\|^2` from
:math:`\sum_{r\ne s}a_rb_s/(R(R-1))`, :math:`\mathbb E\langle\hat g,t\rangle^2` from the mean of
:math:`a_rb_r`, and :math:`\|t\|^2=\langle\hat t_1,\hat t_2\rangle`. The targets are ratios of these;
95% intervals are delete-one-replicate jackknife (bias-corrected estimate ± 1.96 SE; the reference's own
noise is not resampled, it is ~``ref_prompts·ref_group/N`` times smaller than a step's).

μ_G does not depend on B, so the μ-terms (‖μ_G‖², ⟨μ_G, t⟩, (uᵀμ_G)²) pool the replicates of every budget
of one G; tr Σ and uᵀΣu are per cell.
"""

from __future__ import annotations

import math
from typing import Any

import torch

Tensor = torch.Tensor
Z95 = 1.959963984540054
TARGETS = ("own", "grad", "direction")
#: The bias-free part of each target, which :func:`fit_cells` fits.
FIT_KEYS = {"own": "own", "grad": "grad_var", "direction": "direction_var"}


def _u_offdiag(M: Tensor, idx: Tensor) -> float:
    """Mean of ``M[r, s]`` over r ≠ s in ``idx``."""
    sub = M[idx][:, idx]
    R = len(idx)
    return float((sub.sum() - sub.diagonal().sum()) / (R * (R - 1)))


def _derive(m2, mu2, mut, along2, gu2, tt: float) -> dict[str, Tensor]:
    """The targets from the raw moments (tensors, elementwise; NaN where a denominator is not positive)."""
    m2, mu2, mut, along2, gu2 = (torch.as_tensor(x, dtype=torch.float64) for x in (m2, mu2, mut, along2, gu2))
    nan = torch.tensor(math.nan, dtype=torch.float64)
    tr = m2 - mu2  # tr Σ
    usu = gu2 - along2  # uᵀΣu
    out = {
        "mean_sq_norm": m2, "mu_sq_norm": mu2, "trace_cov": tr, "mu_dot_t": mut, "along_sq": along2,
        "u_cov_u": usu, "scale_along_t": mut / tt,
        "cos_mu_t": torch.where(mu2 > 0, mut / torch.sqrt(mu2.clamp(min=1e-300) * tt), nan),
        "own": torch.where(mu2 > 0, tr / mu2, nan),
        "grad_bias": (mu2 - 2 * mut + tt) / tt, "grad_var": tr / tt,
        "direction_bias": torch.where(along2 > 0, (mu2 - along2) / along2, nan),
        "direction_var": torch.where(along2 > 0, (tr - usu) / along2, nan),
    }
    out["grad"] = out["grad_bias"] + out["grad_var"]
    out["direction"] = out["direction_bias"] + out["direction_var"]
    return out


def _targets(K: Tensor, a: Tensor, b: Tensor, tt: float, idx: Tensor, cell: Tensor) -> dict[str, float]:
    """All targets of one cell from the replicates ``idx`` (the slow reference of :func:`_targets_loo`).

    ``K`` [R, R] is the Gram of every replicate of one G (all budgets pooled: each is unbiased for μ_G),
    ``a``, ``b`` [R] their inner products with t̂1, t̂2, ``tt`` = ‖t‖², ``idx`` the replicates in use (the
    jackknife drops one) and ``cell`` [R] bool marks the replicates of this cell's budget (for tr Σ, uᵀΣu).
    """
    own = idx[cell[idx]]
    m2 = float(K.diagonal()[own].mean())  # E‖ĝ‖² at this B
    mu2 = _u_offdiag(K, idx)  # ‖μ_G‖²
    mut = float((a[idx] + b[idx]).mean() / 2)  # ⟨μ_G, t⟩
    ab = torch.outer(a, b)
    along2 = _u_offdiag((ab + ab.T) / 2, idx) / tt  # (uᵀμ_G)²
    gu2 = float((a[own] * b[own]).mean()) / tt  # E⟨ĝ, u⟩² at this B
    return {k: float(v) for k, v in _derive(m2, mu2, mut, along2, gu2, tt).items()}


def _targets_loo(K: Tensor, a: Tensor, b: Tensor, tt: float, cell: Tensor) -> dict[str, Tensor]:
    """:func:`_targets` with replicate r deleted, for every r at once: ``{name: [R]}`` (closed-form updates
    of the sums, O(R²) in all instead of O(R³))."""
    R = K.shape[0]
    R1 = R - 1
    D, rs = K.diagonal(), K.sum(1)
    mu2 = (K.sum() - D.sum() - 2 * (rs - D)) / (R1 * (R1 - 1))
    s = a + b
    mut = (s.sum() - s) / (2 * R1)
    M = (torch.outer(a, b) + torch.outer(b, a)) / 2
    Md = M.diagonal()
    along2 = (M.sum() - Md.sum() - 2 * (M.sum(1) - Md)) / (R1 * (R1 - 1)) / tt
    nc = int(cell.sum())
    ab = a * b
    Dc, ABc = D[cell].sum(), ab[cell].sum()
    m2 = torch.where(cell, (Dc - D) / max(nc - 1, 1), Dc / nc)
    gu2 = torch.where(cell, (ABc - ab) / max(nc - 1, 1), ABc / nc) / tt
    return _derive(m2, mu2, mut, along2, gu2, tt)


def sufficient(V_by_budget: dict[int, Tensor], t1: Tensor, t2: Tensor) -> dict[str, Any]:
    """What the statistics of one G need (all small): Gram ``K`` [R, R] of the replicates of every budget,
    ``a``, ``b`` [R] (inner products with t̂1, t̂2), ``tt`` = ⟨t̂1, t̂2⟩ and the budget ``label`` [R] of each
    row."""
    budgets = sorted(V_by_budget)
    V = torch.cat([V_by_budget[n].to(torch.float64) for n in budgets])
    t1, t2 = t1.to(torch.float64), t2.to(torch.float64)
    return {"K": V @ V.T, "a": V @ t1, "b": V @ t2, "tt": float(t1 @ t2),
            "label": torch.cat([torch.full((V_by_budget[n].shape[0],), n) for n in budgets])}


def group_statistics(suff: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Per budget N: estimates, jackknife bias-corrected values, SEs and 95% CIs of :func:`_targets`.

    ``suff`` is :func:`sufficient` of one G. The jackknife deletes one replicate at a time from the pooled
    set (so the SEs of different budgets of one G share the μ_G part of their noise).
    """
    K, a, b, tt, label = suff["K"], suff["a"], suff["b"], suff["tt"], suff["label"]
    budgets = sorted(int(n) for n in label.unique())
    R = K.shape[0]
    out: dict[int, dict[str, Any]] = {}
    for n in budgets:
        cell = label == n
        full = _targets(K, a, b, tt, torch.arange(R), cell)
        loo = _targets_loo(K, a, b, tt, cell)
        if int(cell.sum()) < 2:  # deleting the cell's only replicate leaves no tr Σ
            raise ValueError(f"budget {n} has fewer than 2 replicates")
        st: dict[str, Any] = {"replicates": int(cell.sum()), "pooled_replicates": R, "t_sq_norm": tt}
        for k, est in full.items():
            vals = loo[k].tolist()
            if not all(math.isfinite(v) for v in [*vals, est]):
                st[k], st[k + "_bc"], st[k + "_se"], st[k + "_ci95"] = est, None, None, None
                continue
            m = sum(vals) / R
            se = math.sqrt((R - 1) / R * sum((v - m) ** 2 for v in vals))
            bc = R * est - (R - 1) * m
            st[k], st[k + "_bc"], st[k + "_se"], st[k + "_ci95"] = est, bc, se, [bc - Z95 * se, bc + Z95 * se]
        out[n] = st
    return out


def fit_cells(cells: list[dict], space: str, reward: str) -> dict[str, Any]:
    """:func:`fit_budget_constants` of each target's bias-free part over the cells, weighted by jackknife SE.

    Points whose estimate is not positive (noise) are left out and counted.
    """
    from grpo_theory.theory.group_size import fit_budget_constants

    out: dict[str, Any] = {}
    for target, key in FIT_KEYS.items():
        pts = [(c["B"], c["G"], c[space][reward][key], c[space][reward].get(key + "_se"))
               for c in cells]
        ok = [p for p in pts if p[2] is not None and p[2] > 0 and p[3] is not None and p[3] > 0]
        entry: dict[str, Any] = {"fitted": key, "points": len(ok), "left_out": len(pts) - len(ok)}
        try:
            f = fit_budget_constants([p[0] for p in ok], [p[1] for p in ok], [p[2] for p in ok],
                                     err_se=[p[3] for p in ok])
        except ValueError as e:
            entry["error"] = str(e)
            out[target] = entry
            continue
        entry.update({"c": f.c.tolist(), "c_se": f.c_se.tolist(), "c_ci95": f.c_ci.tolist(),
                      "c3_over_c1": f.ratio, "c3_over_c1_ci95": list(f.ratio_ci),
                      "G_star": f.g_star, "G_star_ci95": list(f.g_star_ci), "G2_optimal": f.g2_optimal,
                      "max_rel_residual": f.rel_residual, "line": f.summary()})
        out[target] = entry
    return out


def best_by_budget(cells: list[dict], space: str, reward: str) -> dict[str, Any]:
    """Per budget and target (bias included): the measured argmin G and err(G=2)/min err − 1."""
    out: dict[str, Any] = {}
    for n in sorted({c["N"] for c in cells}):
        row = [c for c in cells if c["N"] == n]
        out[str(n)] = {}
        for t in TARGETS:
            vals = [(c["G"], c[space][reward].get(t + "_bc")) for c in row]
            vals = [(g, v) for g, v in vals if v is not None]
            if not vals:
                continue
            g_best, v_best = min(vals, key=lambda x: x[1])
            v2 = next((v for g, v in vals if g == 2), None)
            out[str(n)][t] = {"best_G": g_best, "err_at_best": v_best, "err_at_G2": v2,
                              "G2_excess": v2 / v_best - 1 if v2 is not None and v_best > 0 else None}
    return out
