r"""Monte Carlo summaries: means with standard errors, z-scores, and a multiple-testing correction.

Every estimator in :mod:`grpo_theory.montecarlo` returns per-replicate values with the replicate
axis first (``[R, ...]``). The functions here turn them into ``(mean, stderr)`` pairs and compare
them with exact values, always in standard errors:

.. math::

    z = \frac{\hat\mu - \mu_{\rm exact}}{\widehat{\rm se}},\qquad
    \widehat{\rm se} = \sqrt{\widehat{\rm Var}/R}.

A check passes when :math:`|z| \le 4` (two-sided false-alarm rate 6.3e-5 per comparison). When a
check compares M components at once, the largest :math:`|z|` is converted into one equivalent z by
the Bonferroni rule, so that the same threshold 4 applies to the whole vector.

A deterministic identity checked on random draws is not a Monte Carlo comparison: it has no standard
error and no z. It is reported as ``kind="exact"`` with its largest absolute deviation ``max_abs_dev``
and passes when that is at most 4 × :data:`IDENTITY_TOL` (:func:`identity_result`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.special import log_ndtr, ndtri

Tensor = torch.Tensor

#: The pass threshold on |z| used by every check.
Z_THRESHOLD = 4.0

#: Float64 tolerance for identities checked draw by draw (see :func:`identity_result`).
IDENTITY_TOL = 1e-10


@dataclass(frozen=True)
class McResult:
    """One Monte Carlo check: an estimate, the exact value it should match, and its z-score.

    Attributes:
        estimate: the Monte Carlo estimate (for ``kind="exact"``: the largest deviation).
        exact: the exact value (closed form or exact enumeration), computed independently.
        stderr: the standard error of ``estimate`` (for ``kind="exact"``: the float64 tolerance).
        z: ``(estimate - exact) / stderr``; for a vector check, the Bonferroni-equivalent z of its
            components (:func:`bonferroni_z`); for a check made of several sub-checks, the z of the
            worst stochastic one (:func:`worst`). NaN for ``kind="exact"``: an identity has no z.
        passed: ``|z| <= 4`` and every identity part within 4 tolerances.
        detail: free text: what was compared, sample sizes, secondary numbers.
        kind: ``"z"`` (a Monte Carlo comparison), ``"exact"`` (only deterministic identities), or
            ``"z+exact"`` (both; ``z`` is that of the stochastic parts).
        max_abs_dev: the largest |deviation| of the identity parts (NaN when there are none).
    """

    estimate: float
    exact: float
    stderr: float
    z: float
    passed: bool
    detail: str = ""
    kind: str = "z"
    max_abs_dev: float = math.nan


def mean_stderr(samples: Tensor, dim: int = 0) -> tuple[Tensor, Tensor]:
    """Sample mean and its standard error along ``dim`` (replicates).

    Args:
        samples: ``[R, ...]`` i.i.d. replicates (R >= 2) along ``dim``.
        dim: the replicate axis.

    Returns:
        ``(mean, stderr)``, each of the shape of ``samples`` without ``dim``;
        ``stderr = std(ddof=1) / sqrt(R)``.
    """
    n = samples.shape[dim]
    if n < 2:
        raise ValueError(f"need at least 2 replicates along dim {dim}, got {n}")
    return samples.mean(dim=dim), samples.std(dim=dim, correction=1) / math.sqrt(n)


def batch_means(statistic, samples: tuple[Tensor, ...], n_batches: int = 40) -> tuple[float, float]:
    """Mean and standard error of a nonlinear ``statistic`` by the method of batch means.

    The ``R`` replicates (first axis of every tensor in ``samples``) are cut into ``n_batches``
    equal contiguous batches; ``statistic(*batch)`` is evaluated on each, and the batch values are
    averaged. Its bias is O(batch size⁻¹), which is what the batch count trades against.

    Args:
        statistic: callable mapping tensors ``[R_b, ...]`` to a float.
        samples: tensors sharing their first (replicate) axis.
        n_batches: number of batches (>= 2).

    Returns:
        ``(mean over batches, std over batches / sqrt(n_batches))``.
    """
    n = samples[0].shape[0]
    size = n // n_batches
    if size < 2:
        raise ValueError(f"{n} replicates cannot make {n_batches} batches of at least 2")
    vals = torch.tensor(
        [float(statistic(*(s[b * size : (b + 1) * size] for s in samples))) for b in range(n_batches)],
        dtype=torch.float64,
    )
    m, se = mean_stderr(vals)
    return float(m), float(se)


def z_score(estimate: float, exact: float, stderr: float) -> float:
    """``(estimate - exact) / stderr``; 0 when both the gap and ``stderr`` vanish, ±inf when only the gap
    does not."""
    gap = estimate - exact
    if stderr > 0:
        return gap / stderr
    if gap == 0:
        return 0.0
    return math.copysign(math.inf, gap)


def bonferroni_z(z: Tensor) -> tuple[float, float, int]:
    """Combines M per-component z-scores into one equivalent |z| (Bonferroni).

    With :math:`z_{\\max} = \\max_m |z_m|` and :math:`p = 2\\Phi(-z_{\\max})`, the corrected
    two-sided p-value is :math:`\\min(1, M p)` and the equivalent z is :math:`\\Phi^{-1}(1 - Mp/2)`
    (0 when :math:`Mp \\ge 1`). Comparing it with 4 controls the family-wise false-alarm rate at
    6.3e-5 whatever M is.

    Args:
        z: per-component z-scores, any shape (NaN entries, from zero-variance components whose
            estimate equals the exact value, are ignored).

    Returns:
        ``(equivalent z >= 0, raw max |z|, M)``.
    """
    flat = z.reshape(-1).to(torch.float64)
    flat = flat[~torch.isnan(flat)]
    m = int(flat.numel())
    if m == 0:
        return 0.0, 0.0, 0
    zmax = float(flat.abs().max())
    if math.isinf(zmax):
        return math.inf, zmax, m
    log_p = math.log(2.0) + float(log_ndtr(-zmax)) + math.log(m)
    if log_p >= 0.0:
        return 0.0, zmax, m
    # Phi^{-1}(1 - P/2) = -Phi^{-1}(P/2).
    half = math.exp(log_p - math.log(2.0))
    zeq = float(-ndtri(half)) if half > 1e-300 else zmax
    return max(zeq, 0.0), zmax, m


def componentwise_z(mean: Tensor, stderr: Tensor, exact: Tensor) -> Tensor:
    """Per-component z-scores ``(mean - exact) / stderr``; NaN where stderr and the gap are both 0.

    Components whose sample variance is exactly 0 (e.g. a parameter the policy never moves) carry
    no information; a nonzero gap there is reported as ±inf.
    """
    gap = mean - exact
    z = gap / stderr
    both_zero = (stderr == 0) & (gap.abs() <= 1e-12 * (1 + exact.abs()))
    return torch.where(both_zero, torch.full_like(z, float("nan")), z)


def result(estimate: float, exact: float, stderr: float, detail: str = "", *,
           z: float | None = None) -> McResult:
    """Builds an :class:`McResult`, computing ``z`` unless given, and ``passed = |z| <= 4``."""
    if z is None:
        z = z_score(estimate, exact, stderr)
    return McResult(
        estimate=float(estimate),
        exact=float(exact),
        stderr=float(stderr),
        z=float(z),
        passed=bool(abs(z) <= Z_THRESHOLD),
        detail=detail,
    )


def _line(name: str, r: McResult) -> str:
    if r.kind == "exact":
        head = f"{name}: exact, max |Δ| = {r.max_abs_dev:.2g}"
    else:
        head = f"{name}: est={r.estimate:.6g} exact={r.exact:.6g} se={r.stderr:.3g} z={r.z:+.2f}"
    return head + (f" ({r.detail})" if r.detail else "")


def worst(results: list[tuple[str, McResult]]) -> McResult:
    """Folds several sub-checks into one result: the stochastic one with the largest |z|.

    ``estimate``, ``exact``, ``stderr`` and ``z`` are those of the worst stochastic sub-check; identity
    sub-checks (``kind="exact"``) contribute their largest deviation to ``max_abs_dev``. ``passed`` holds
    iff every sub-check passes; the family-wise false-alarm rate is at most M × 6.3e-5 for the M stochastic
    sub-checks (stated in ``detail``, with every sub-check).
    """
    stochastic = [(n, r) for n, r in results if r.kind != "exact"]
    devs = [r.max_abs_dev for _, r in results if not math.isnan(r.max_abs_dev)]
    max_dev = max(devs) if devs else math.nan
    passed = all(r.passed for _, r in results)
    m = len(stochastic)
    if not stochastic:
        name, w = max(results, key=lambda nr: nr[1].max_abs_dev)
        lines = [f"{len(results)} identities, all exact to {max_dev:.2g} (worst {name})"]
        return McResult(w.estimate, 0.0, w.stderr, math.nan, passed,
                        "; ".join(lines + [_line(n, r) for n, r in results]), "exact", max_dev)
    name, w = max(stochastic, key=lambda nr: abs(nr[1].z))
    lines = [
        f"worst of {m} Monte Carlo sub-checks: {name} (family-wise false-alarm rate <= {m * 6.3e-5:.1e})"
    ]
    if devs:
        lines.append(f"{len(results) - m} identity sub-checks exact to {max_dev:.2g}")
    return McResult(
        estimate=w.estimate,
        exact=w.exact,
        stderr=w.stderr,
        z=w.z,
        passed=passed,
        detail="; ".join(lines + [_line(n, r) for n, r in results]),
        kind="z+exact" if devs else "z",
        max_abs_dev=max_dev,
    )


def with_detail(res: McResult, extra: str) -> McResult:
    """``res`` with ``extra`` appended to its detail."""
    return McResult(res.estimate, res.exact, res.stderr, res.z, res.passed, f"{res.detail}; {extra}",
                    res.kind, res.max_abs_dev)


def identity_result(max_dev: float, tol: float, n: int, what: str) -> McResult:
    """Result for a deterministic identity checked on ``n`` random draws (``kind="exact"``, no z).

    ``estimate`` and ``max_abs_dev`` are the largest absolute deviation, ``exact`` 0, ``stderr`` the
    float64 tolerance ``tol``; the check passes when every draw agrees to ``4 tol``.
    """
    return McResult(float(max_dev), 0.0, float(tol), math.nan, bool(max_dev <= Z_THRESHOLD * tol),
                    f"{what}: max |deviation| over {n} draws = {max_dev:.3g} (tolerance {tol:.0e})",
                    "exact", float(max_dev))


def projected_z(samples: Tensor, exact: Tensor, directions: Tensor) -> Tensor:
    """z-scores of projections of a vector estimate onto fixed directions.

    Projecting onto dense directions averages over all components, so the projected replicates
    are close to Gaussian even when single components are driven by rare responses (whose
    per-component z is unreliable at moderate R).

    Args:
        samples: ``[R, Q, D]`` replicates of a per-prompt vector estimate.
        exact: ``[Q, D]`` exact expectations.
        directions: ``[Q, M, D]`` directions per prompt.

    Returns:
        ``[Q, M]`` z-scores.
    """
    proj = torch.einsum("rqd,qmd->rqm", samples, directions)
    m, se = mean_stderr(proj)
    return componentwise_z(m, se, torch.einsum("qd,qmd->qm", exact, directions))


def covariance_trace(x: Tensor, y: Tensor) -> tuple[float, float]:
    """Unbiased :math:`\\mathrm{tr}\\,\\mathrm{Cov}(x, y)` from paired replicates ``[R, D]``, with its stderr.

    The per-replicate terms :math:`u_r = \\frac{R}{R-1}\\langle x_r - \\bar x, y_r - \\bar y\\rangle` average
    to the unbiased estimate; their standard error (ignoring the O(1/R) dependence through the
    sample means) is the reported stderr.
    """
    n = x.shape[0]
    u = ((x - x.mean(0)) * (y - y.mean(0))).reshape(n, -1).sum(-1) * n / (n - 1)
    m, se = mean_stderr(u)
    return float(m), float(se)


def variance_trace(x: Tensor) -> tuple[float, float]:
    """Unbiased :math:`\\mathrm{tr}\\,\\mathrm{Var}(x)` from replicates ``[R, D]``, with its stderr (see
    :func:`covariance_trace`)."""
    return covariance_trace(x, x)
