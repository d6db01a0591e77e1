r"""Fit of the fixed-budget error law err(B, G) ≈ c1/B + c2/(BG) + c3/(BG²) (result R16).

B prompts with G rollouts each (N = BG rollouts per step). The U-statistic analysis of the group
policy gradient (arXiv 2603.01162) bounds the per-step error by this law: c1 is the between-prompt
variance, c2 and c3 the within-group terms. At a fixed budget N,

.. math::  \mathrm{err}(G) = \frac{c_1 G + c_2 + c_3/G}{N},\qquad G^* = \sqrt{c_3/c_1},

and among integers G ≥ 2, G = 2 is optimal iff err(2) ≤ err(3), i.e. c3/c1 ≤ 6 (the error is convex in G
when c1, c3 > 0, so comparing G = 2 and G = 3 suffices; with c3 ≤ 0 < c1 it increases in G).

:func:`fit_budget_constants` is a weighted least-squares fit of (c1, c2, c3) to measured or exact errors
on any grid of (B, G) (one or several budgets), with confidence intervals. Numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: G = 2 is the best integer group size ≥ 2 iff c3/c1 ≤ this value (err(2) ≤ err(3)).
G2_RATIO_BOUND = 6.0


@dataclass(frozen=True)
class BudgetFit:
    """Result of :func:`fit_budget_constants`.

    Attributes:
        c: (c1, c2, c3), shape (3,).
        c_se: their standard errors, shape (3,).
        c_ci: their confidence intervals, shape (3, 2).
        ratio, ratio_ci: c3/c1 and its interval (delta method on the ratio).
        g_star, g_star_ci: √(c3/c1) and its interval (NaN when c3/c1 ≤ 0: no interior minimum).
        g2_optimal: "yes" if the whole ratio interval is ≤ 6, "no" if it is > 6, else "undetermined".
        level: the confidence level; dof: residual degrees of freedom; n: number of points.
        sigma_known: True when ``err_se`` was given (normal quantiles, inflated by the reduced χ² if > 1).
        rel_residual: max |fit − err| / err over the points.
    """

    c: np.ndarray
    c_se: np.ndarray
    c_ci: np.ndarray
    ratio: float
    ratio_ci: tuple[float, float]
    g_star: float
    g_star_ci: tuple[float, float]
    g2_optimal: str
    level: float
    dof: int
    n: int
    sigma_known: bool
    rel_residual: float

    def predict(self, B, G) -> np.ndarray:
        """c1/B + c2/(BG) + c3/(BG²) at arrays (or scalars) B, G."""
        return design(B, G) @ self.c

    def best_integer_G(self, N: int, candidates=None) -> int:
        """argmin of the fitted error at budget N over ``candidates`` (default: the divisors G ≥ 2 of N)."""
        cand = [g for g in range(2, N + 1) if N % g == 0] if candidates is None else list(candidates)
        if not cand:
            raise ValueError(f"no candidate group size for N = {N}")
        errs = [float(self.predict(N / g, g)[0]) for g in cand]
        return int(cand[int(np.argmin(errs))])

    def summary(self) -> str:
        """One line: constants with CIs, G*, and the G = 2 verdict."""
        pct = round(100 * self.level)
        cs = ", ".join(f"c{i + 1} = {v:.4g} [{lo:.4g}, {hi:.4g}]"
                       for i, (v, (lo, hi)) in enumerate(zip(self.c, self.c_ci, strict=True)))
        return (f"{cs} ({pct}% CI); c3/c1 = {self.ratio:.3g} [{self.ratio_ci[0]:.3g}, "
                f"{self.ratio_ci[1]:.3g}]; "
                f"G* = {self.g_star:.3g} [{self.g_star_ci[0]:.3g}, {self.g_star_ci[1]:.3g}]; "
                f"G = 2 optimal: {self.g2_optimal}")


def design(B, G) -> np.ndarray:
    """The design matrix [1/B, 1/(BG), 1/(BG²)], shape (n, 3)."""
    B = np.atleast_1d(np.asarray(B, dtype=float))
    G = np.atleast_1d(np.asarray(G, dtype=float))
    return np.stack([1.0 / B, 1.0 / (B * G), 1.0 / (B * G * G)], axis=-1)


def _as_1d(name: str, x, n: int | None = None) -> np.ndarray:
    arr = np.asarray(x, dtype=float).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}")
    if n is not None and arr.size != n:
        raise ValueError(f"{name} must have the same length as B ({n}), got {arr.size}")
    return arr


def _fit_inputs(B, G, err, err_se, weights: str, level: float) -> tuple[np.ndarray, ...]:
    """Checked 1-d ``B``, ``G``, ``err`` and the least-squares weights (see :func:`fit_budget_constants`)."""
    B_ = _as_1d("B", B)
    n = B_.size
    G_ = _as_1d("G", G, n)
    y = _as_1d("err", err, n)
    if n < 3:
        raise ValueError(f"need at least 3 (B, G) points to fit 3 constants, got {n}")
    if np.any(B_ < 1) or np.any(G_ < 2):
        raise ValueError("B must be >= 1 and G >= 2 at every point")
    if np.any(y <= 0):
        raise ValueError("err must be > 0 at every point")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if err_se is not None:
        se = _as_1d("err_se", err_se, n)
        if np.any(se <= 0):
            raise ValueError("err_se must be > 0 at every point")
        w = 1.0 / se**2
    elif weights == "relative":
        w = 1.0 / y**2
    elif weights == "none":
        w = np.ones(n)
    else:
        raise ValueError(f"weights must be 'relative' or 'none', got {weights!r}")
    return B_, G_, y, w


def _ratio_summary(c: np.ndarray, cov: np.ndarray, q: float):
    """c3/c1 with its CI (delta method), G* = √(c3/c1) with its CI, and the verdict on G = 2."""
    ratio = float(c[2] / c[0]) if c[0] != 0 else math.nan
    # delta method: Var(c3/c1) = r² (v33/c3² + v11/c1² − 2 v13/(c1 c3)), written without dividing by c3
    grad = np.array([-c[2] / c[0] ** 2, 0.0, 1.0 / c[0]]) if c[0] != 0 else np.full(3, math.nan)
    ratio_se = float(math.sqrt(max(float(grad @ cov @ grad), 0.0))) if np.all(np.isfinite(grad)) else math.nan
    ratio_ci = (ratio - q * ratio_se, ratio + q * ratio_se)
    g_star = math.sqrt(ratio) if ratio > 0 else math.nan
    lo, hi = ratio_ci
    g_star_ci = (math.sqrt(lo) if lo > 0 else 0.0 if math.isfinite(lo) else math.nan,
                 math.sqrt(hi) if hi > 0 else (0.0 if math.isfinite(hi) else math.nan))
    if math.isfinite(hi) and hi <= G2_RATIO_BOUND:
        verdict = "yes"
    elif math.isfinite(lo) and lo > G2_RATIO_BOUND:
        verdict = "no"
    else:
        verdict = "undetermined"
    return ratio, ratio_ci, g_star, g_star_ci, verdict


def fit_budget_constants(B, G, err, *, err_se=None, weights: str = "relative",
                         level: float = 0.95) -> BudgetFit:
    r"""Weighted least-squares fit of err ≈ c1/B + c2/(BG) + c3/(BG²), with confidence intervals.

    Args:
      B: prompts per step, shape (n,), each ≥ 1.
      G: rollouts per prompt, shape (n,), each ≥ 2; at least 3 distinct values of G (or of B·G and G)
        so that the three constants are identifiable.
      err: the measured (or exact) error of the per-step gradient estimate at each (B, G), shape (n,), > 0,
        e.g. E‖ĝ − g_target‖² or a direction error; the caller states which target.
      err_se: optional standard errors of ``err`` (Monte Carlo measurements), shape (n,), > 0. Given, the
        weights are 1/err_se², normal quantiles are used and the covariance is inflated by the reduced χ²
        when it exceeds 1 (model misfit). Not given, the covariance is scaled by the residual variance and
        Student-t quantiles with n − 3 degrees of freedom are used (for exact errors the interval then
        measures how well the three-term law describes them).
      weights: without ``err_se``: ``"relative"`` (1/err², i.e. relative errors; default, since errors
        span orders of magnitude across budgets) or ``"none"`` (ordinary least squares).
      level: confidence level in (0, 1).

    Returns:
      a :class:`BudgetFit` (constants, CIs, c3/c1, G* = √(c3/c1), and whether G = 2 is optimal).

    Raises:
      ValueError: on mismatched lengths, non-positive or non-finite inputs, fewer than 3 points, or a
        rank-deficient design.

    Example:
      >>> import numpy as np
      >>> G = np.array([2, 4, 8, 16, 32]); B = 64 / G
      >>> fit = fit_budget_constants(B, G, 1.0 / B + 2.0 / (B * G) + 8.0 / (B * G**2))
      >>> np.round(fit.c, 6).tolist(), round(fit.g_star, 6), fit.g2_optimal
      ([1.0, 2.0, 8.0], 2.828427, 'no')
    """
    B_, G_, y, w = _fit_inputs(B, G, err, err_se, weights, level)
    n = B_.size
    X = design(B_, G_)
    # Column scaling keeps the normal equations well conditioned (the columns differ by factors G).
    scale = np.sqrt((X**2 * w[:, None]).sum(0))
    Xs = X * np.sqrt(w)[:, None] / scale
    if np.linalg.matrix_rank(Xs) < 3:
        raise ValueError("the (B, G) grid does not identify c1, c2, c3 (use at least 3 distinct G)")
    ys = y * np.sqrt(w)
    coef_s, *_ = np.linalg.lstsq(Xs, ys, rcond=None)
    c = coef_s / scale
    resid = ys - Xs @ coef_s
    dof = n - 3
    xtx_inv = np.linalg.inv(Xs.T @ Xs) / np.outer(scale, scale)
    if err_se is not None:
        chi2 = float(resid @ resid) / dof if dof > 0 else 1.0
        cov = xtx_inv * max(1.0, chi2)
        q = float(stats.norm.ppf(0.5 + level / 2))
    else:
        s2 = float(resid @ resid) / dof if dof > 0 else math.nan
        cov = xtx_inv * s2
        q = float(stats.t.ppf(0.5 + level / 2, dof)) if dof > 0 else math.nan
    c_se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    c_ci = np.stack([c - q * c_se, c + q * c_se], axis=-1)
    ratio, ratio_ci, g_star, g_star_ci, verdict = _ratio_summary(c, cov, q)
    fitted = X @ c
    return BudgetFit(
        c=c, c_se=c_se, c_ci=c_ci, ratio=ratio, ratio_ci=ratio_ci, g_star=g_star, g_star_ci=g_star_ci,
        g2_optimal=verdict, level=level, dof=dof, n=n, sigma_known=err_se is not None,
        rel_residual=float(np.max(np.abs(fitted - y) / y)),
    )
