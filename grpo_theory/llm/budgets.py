"""The headline at three budgets: equal epochs, equal optimizer steps and equal CPU seconds.

At equal epochs (the paper's comparison) every method ends after the same passes over the prompt set,
so 2-GRPO has taken 1/8 of 16-GRPO's optimizer steps and rollouts. The two other budgets are read off
the reference run's dense evaluation curve (``eval_steps``), seed by seed:

* equal optimizer steps: 16-GRPO evaluated after as many steps as the method's run took (the presets
  place a 16-GRPO evaluation at each 2-rollout evaluation step, so no interpolation is needed);
* equal CPU seconds: the 16-GRPO evaluation point whose cumulative training CPU time is nearest to the
  method's total training CPU time (nearest, not interpolated: per-problem outcomes cannot be
  interpolated; the step used is reported).

Training CPU time is the trainer's cumulative ``cpu/train_total`` (generation, reward, log-prob passes and
updates; evaluation excluded); for older logs without it, the running sum of the per-step ``cpu/<phase>``
entries except ``eval`` and logging-only passes (``kl_log``); both are read by
:meth:`grpo_theory.llm.runlog.RunLog.evaluations`. Each comparison is a
:func:`~grpo_theory.llm.bootstrap.paired_bootstrap` of the method against 16-GRPO-at-that-budget, paired
by seed and problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grpo_theory.llm.bootstrap import paired_bootstrap
from grpo_theory.llm.runlog import EvalPoint, RunLog


def _at_budget(points: list[EvalPoint], key: str, value: float) -> EvalPoint | None:
    """The reference's evaluation at ``value`` steps (None if it has none there: a preset without dense
    evaluation), or its evaluation nearest to ``value`` CPU seconds."""
    if key == "step":
        return next((p for p in points if p.step == value), None)
    return min(points, key=lambda p: abs(p.cpu - value))


def compare_at_budgets(
    logs: Mapping[str, Mapping[int, RunLog | Sequence[Mapping[str, Any]]]],
    reference: str,
    *,
    n_boot: int = 4000,
) -> dict[str, dict[str, Any]]:
    """Each method vs the reference at equal optimizer steps and at equal CPU seconds.

    logs: method -> seed -> the run (a :class:`~grpo_theory.llm.runlog.RunLog`, or its log records).
    Seeds missing from the reference are left out. Returns method -> budget ("equal_steps",
    "equal_cpu") -> {"reference_steps": [per seed], "accuracy", "reference_accuracy", "retention",
    "retention_ci95", "paired_delta", "paired_delta_ci95", ...}. A budget is left out when the
    reference was not evaluated there (equal steps needs a reference evaluation at the method's last
    step).
    """
    ref_points = {s: RunLog.of(log).evaluations() for s, log in logs.get(reference, {}).items()}
    out: dict[str, dict[str, Any]] = {}
    for name, by_seed in logs.items():
        if name == reference:
            continue
        seeds = sorted(s for s in by_seed if s in ref_points)
        if not seeds:
            continue
        pts = {s: RunLog.of(by_seed[s]).evaluations() for s in seeds}
        if any(not p or p[-1].scores is None or p[0].scores is None for p in pts.values()):
            continue
        # checked above: neither end has None scores
        start = np.stack([np.asarray(pts[s][0].scores) for s in seeds])
        final = np.stack([np.asarray(pts[s][-1].scores) for s in seeds])
        lasts = [pts[s][-1] for s in seeds]
        row: dict[str, Any] = {}
        for budget, key in (("equal_steps", "step"), ("equal_cpu", "cpu")):
            found = [_at_budget(ref_points[s], key, getattr(last, key))
                     for s, last in zip(seeds, lasts, strict=True)]
            if any(m is None or m.scores is None for m in found):
                continue  # no reference evaluation at this budget: the comparison is not made
            matched = [m for m in found if m is not None]
            ref_scores = np.stack([np.asarray(m.scores) for m in matched])
            stats = paired_bootstrap({reference: ref_scores, name: final}, start, reference, n_boot=n_boot)
            row[budget] = {"reference_steps": [m.step for m in matched],
                           "steps": [last.step for last in lasts],
                           "cpu_seconds": [last.cpu for last in lasts],
                           "reference_cpu_seconds": [m.cpu for m in matched],
                           "reference_accuracy": stats[reference]["accuracy"], **stats[name]}
        out[name] = row
    return out
