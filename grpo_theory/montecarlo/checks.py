r"""The Monte Carlo checks, one per result R1-R16 where a distribution is involved (all but R14).

``MC_CHECKS[rid](n_samples, seed) -> McResult``. Each check draws from the fixed toy policies of
:mod:`.fixtures` (or from a reward distribution), computes advantages and estimators through
:mod:`grpo_theory.losses`, and compares with an exact value computed independently (exact
enumeration in :mod:`.exact`, :mod:`.variance`, :mod:`.toy_policy`, or a closed form). A check
made of several comparisons reports the worst one (largest |z|) and lists all of them in
``detail``; vector comparisons use projections on fixed directions with a Bonferroni-equivalent z.
Deterministic identities (R1-R3, the per-pair relations of R4, the inequality of R12, the bound in
R13, the loss-autograd identity of R15) are checked on random draws and reported as exact
(``kind="exact"``, ``max_abs_dev``), without a z; a check mixing both reports the z of its Monte Carlo
parts and the largest deviation of its identity parts (``kind="z+exact"``).

``n_samples`` is the number of Monte Carlo replicates (groups per prompt, pairs, or draws);
:data:`QUICK_SAMPLES` keeps all checks together within a few seconds on 2 cores. Every check runs
on one intra-op thread.

The checks live in :mod:`.checks_identities` (R1-R4, R13), :mod:`.checks_gradients` (R5-R7),
:mod:`.checks_variance` (R8-R12) and :mod:`.checks_real_rewards` (R15, R16).
"""

from __future__ import annotations

from collections.abc import Callable

from grpo_theory.montecarlo.checks_gradients import check_r5, check_r6, check_r7, lambda_case, pooled_lambda
from grpo_theory.montecarlo.checks_identities import (
    check_r1,
    check_r2,
    check_r3,
    check_r4,
    check_r13,
    pair_gradients,
)
from grpo_theory.montecarlo.checks_real_rewards import check_r15, check_r16
from grpo_theory.montecarlo.checks_variance import (
    check_r8,
    check_r9,
    check_r10,
    check_r11,
    check_r12,
    product_variance_rhs,
    variance_of_difference,
)
from grpo_theory.montecarlo.stats import IDENTITY_TOL, McResult
from grpo_theory.montecarlo.threads import single_threaded

QUICK_SAMPLES = 8_000
FULL_SAMPLES = 100_000

MC_CHECKS: dict[str, Callable[[int, int], McResult]] = {
    rid: single_threaded(fn)
    for rid, fn in {
        "R1": check_r1,
        "R2": check_r2,
        "R3": check_r3,
        "R4": check_r4,
        "R5": check_r5,
        "R6": check_r6,
        "R7": check_r7,
        "R8": check_r8,
        "R9": check_r9,
        "R10": check_r10,
        "R11": check_r11,
        "R12": check_r12,
        "R13": check_r13,
        "R15": check_r15,
        "R16": check_r16,
    }.items()
}

__all__ = [
    "FULL_SAMPLES",
    "IDENTITY_TOL",
    "MC_CHECKS",
    "QUICK_SAMPLES",
    "McResult",
    "lambda_case",
    "pair_gradients",
    "pooled_lambda",
    "product_variance_rhs",
    "variance_of_difference",
]
