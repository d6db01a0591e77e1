"""Interval estimates for the headline: retention, gain retention and paired differences, bootstrapped.

Data: for method m, run seed s and evaluation problem i, the score x[m][s, i] in [0, 1] (Mean@k of one
problem is c_i / n, greedy accuracy is 0/1). The start checkpoint has its own x[start][s, i] (its
evaluation of seed s). A method's accuracy is the mean over seeds and problems,
``acc_m = mean_{s,i} x[m][s, i]``, and relative to the reference method (16-GRPO):

* retention       = 100 acc_m / acc_ref                                  (the paper's 97.6 %)
* gain retention  = 100 (acc_m - acc_start) / (acc_ref - acc_start)      (the part RL is responsible for)
* paired delta    = acc_m - acc_ref                                      (accuracy points, same seeds)

Intervals: a **paired two-way bootstrap**. Each replicate draws S seeds with replacement and N problems
with replacement, the *same* draws for every method and for the start checkpoint, so that the pairing
by seed (same start evaluation, same data seed) and by problem is kept; the statistic is recomputed on
the replicate and the interval is the percentile interval. Both sources of noise are resampled: which
seeds were run (training randomness) and which problems were drawn (evaluation randomness). With 3
seeds the seed draw is coarse; the intervals say what 3 seeds can say, no more (rliable's practice:
interval estimates, not point estimates).

Non-inferiority of the paper's claim (2-GRPO keeps 97.6 % of 16-GRPO's accuracy): ``supported`` when
the whole interval of the retention lies at or above 97.6, ``rejected`` when it lies below, and
``inconclusive`` when 97.6 is inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

STATS = ("retention", "gain_retention", "paired_delta")


def _counts(rng: np.random.Generator, n_boot: int, n: int) -> np.ndarray:
    """``[n_boot, n]`` multiplicities of a with-replacement draw of n out of n (each row sums to n)."""
    idx = rng.integers(0, n, size=(n_boot, n))
    out = np.zeros((n_boot, n))
    np.add.at(out, (np.arange(n_boot)[:, None], idx), 1.0)
    return out


def replicate_means(x: np.ndarray, seed_w: np.ndarray, prob_w: np.ndarray) -> np.ndarray:
    """Mean of ``x`` ``[S, N]`` under each replicate's multiplicities ``[B, S]`` and ``[B, N]`` -> ``[B]``."""
    s, n = x.shape
    return np.einsum("bs,sn,bn->b", seed_w, x, prob_w) / (s * n)


def point_stats(acc: Any, acc_ref: Any, acc_start: Any) -> dict[str, Any]:
    """The three statistics from the three accuracies (scalars or aligned arrays)."""
    acc, acc_ref, acc_start = (np.asarray(a, float) for a in (acc, acc_ref, acc_start))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            # ratio first, then x 100: a method equal to the reference gets exactly 100
            "retention": 100.0 * (acc / acc_ref),
            # no reference gain: nothing to retain, undefined rather than +-inf
            "gain_retention": np.where(acc_ref == acc_start, np.nan,
                                       100.0 * ((acc - acc_start) / (acc_ref - acc_start))),
            "paired_delta": acc - acc_ref,
        }


def paired_bootstrap(
    scores: Mapping[str, np.ndarray],
    start: np.ndarray,
    reference: str,
    *,
    n_boot: int = 4000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Point values and percentile intervals of :data:`STATS` for every method in ``scores``.

    scores: method -> ``[S, N]`` per-seed, per-problem scores; rows are aligned by seed and columns by
        problem across methods and ``start`` (the same S seeds, the same N problems, the same order).
    start: ``[S, N]`` scores of the start checkpoint.
    reference: the method the ratios are relative to (its own retention is 100 by construction).
    Returns method -> {"accuracy": value, "accuracy_ci95": [lo, hi], stat: value, stat + "_ci95": [lo, hi]}
    (the key says 95 for ``level=0.95``; other levels are named by their percentage).
    """
    if reference not in scores:
        raise ValueError(f"reference {reference!r} not among the methods {sorted(scores)}")
    shape = start.shape
    for name, x in scores.items():
        if x.shape != shape:
            raise ValueError(f"scores of {name!r} have shape {x.shape}, the start checkpoint's {shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    seed_w, prob_w = _counts(rng, n_boot, shape[0]), _counts(rng, n_boot, shape[1])
    rep = {name: replicate_means(np.asarray(x, float), seed_w, prob_w) for name, x in scores.items()}
    rep_start = replicate_means(np.asarray(start, float), seed_w, prob_w)
    q = [50 * (1 - level), 50 * (1 + level)]
    tag = f"ci{round(100 * level)}"
    out: dict[str, dict[str, Any]] = {}
    for name, x in scores.items():
        row: dict[str, Any] = {"accuracy": float(np.mean(x))}
        row[f"accuracy_{tag}"] = [float(v) for v in np.percentile(rep[name], q)]
        point = point_stats(np.mean(x), np.mean(scores[reference]), np.mean(start))
        row.update({k: float(v) for k, v in point.items()})
        reps = point_stats(rep[name], rep[reference], rep_start)
        for stat in STATS:
            vals = np.asarray(reps[stat], float)
            vals = vals[np.isfinite(vals)]
            row[f"{stat}_{tag}"] = ([float(v) for v in np.percentile(vals, q)] if vals.size
                                    else [np.nan, np.nan])
        out[name] = row
    return out


def non_inferiority(ci: tuple[float, float] | list[float], claim: float) -> str:
    """``supported`` (interval >= claim), ``rejected`` (interval < claim) or ``inconclusive`` (claim
    inside)."""
    lo, hi = ci
    if lo >= claim:
        return "supported"
    if hi < claim:
        return "rejected"
    return "inconclusive"
