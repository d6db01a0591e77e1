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
entries except ``eval`` and logging-only passes (``kl_log``). Each comparison is a :func:`~grpo_theory.llm.bootstrap.
paired_bootstrap` of the method against 16-GRPO-at-that-budget, paired by seed and problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grpo_theory.llm.bootstrap import paired_bootstrap

#: ``cpu/`` entries that are not a training phase's cost of this step (see METRICS.md).
NOT_TRAINING = ("eval", "kl_log", "train_total")


def per_problem(ev: Mapping[str, Any]) -> np.ndarray | None:
    """Mean@k per problem (correct samples / n) from an evaluation record, or None if it has none."""
    counts, n = ev.get("problems/correct"), ev.get("eval/n_samples")
    if counts is None or not n:
        return None
    return np.asarray(counts, float) / float(n)


def eval_points(log: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``[{"step", "rollouts", "cpu", "scores"}]`` at every evaluation of a run's log, in order.

    ``cpu`` is the cumulative training CPU time up to and including that step; ``scores`` the per-problem
    Mean@k (None for an evaluation without per-problem outcomes).
    """
    out, cpu = [], 0.0
    for rec in log:
        cpu += sum(v for k, v in rec.items() if k.startswith("cpu/") and k[4:] not in NOT_TRAINING)
        if "cpu/train_total" in rec:
            cpu = float(rec["cpu/train_total"])  # the trainer's own cumulative count
        if "eval/mean_at_k" in rec:
            out.append({"step": int(rec["step"]), "rollouts": float(rec.get("count/rollouts", 0.0)), "cpu": cpu,
                        "scores": per_problem(rec)})
    return out


def _at_budget(points: list[dict[str, Any]], key: str, value: float) -> dict[str, Any] | None:
    """The reference's evaluation at ``value`` steps (None if it has none there: a preset without dense
    evaluation), or its evaluation nearest to ``value`` CPU seconds."""
    if key == "step":
        return next((p for p in points if p["step"] == value), None)
    return min(points, key=lambda p: abs(p[key] - value))


def compare_at_budgets(
    logs: Mapping[str, Mapping[int, Sequence[Mapping[str, Any]]]],
    reference: str,
    *,
    n_boot: int = 4000,
) -> dict[str, dict[str, Any]]:
    """Each method vs the reference at equal optimizer steps and at equal CPU seconds.

    logs: method -> seed -> the run's log records (the JSONL lines). Seeds missing from the reference
    are left out. Returns method -> budget ("equal_steps", "equal_cpu") -> {"reference_steps": [per
    seed], "accuracy", "reference_accuracy", "retention", "retention_ci95", "paired_delta",
    "paired_delta_ci95", ...}. A budget is left out when the reference was not evaluated there (equal
    steps needs a reference evaluation at the method's last step).
    """
    ref_points = {s: eval_points(log) for s, log in logs.get(reference, {}).items()}
    out: dict[str, dict[str, Any]] = {}
    for name, by_seed in logs.items():
        if name == reference:
            continue
        seeds = sorted(s for s in by_seed if s in ref_points)
        if not seeds:
            continue
        pts = {s: eval_points(by_seed[s]) for s in seeds}
        if any(not p or p[-1]["scores"] is None or p[0]["scores"] is None for p in pts.values()):
            continue
        start = np.stack([pts[s][0]["scores"] for s in seeds])
        final = np.stack([pts[s][-1]["scores"] for s in seeds])
        row: dict[str, Any] = {}
        for budget, key in (("equal_steps", "step"), ("equal_cpu", "cpu")):
            found = [_at_budget(ref_points[s], key, pts[s][-1][key]) for s in seeds]
            if any(m is None or m["scores"] is None for m in found):
                continue  # no reference evaluation at this budget: the comparison is not made
            matched = [m for m in found if m is not None]
            ref_scores = np.stack([m["scores"] for m in matched])
            stats = paired_bootstrap({reference: ref_scores, name: final}, start, reference, n_boot=n_boot)
            row[budget] = {"reference_steps": [m["step"] for m in matched],
                           "steps": [pts[s][-1]["step"] for s in seeds],
                           "cpu_seconds": [pts[s][-1]["cpu"] for s in seeds],
                           "reference_cpu_seconds": [m["cpu"] for m in matched],
                           "reference_accuracy": stats[reference]["accuracy"], **stats[name]}
        out[name] = row
    return out
