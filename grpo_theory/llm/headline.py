"""The headline's per-arm record: the fields ``results/headline/summary.json`` promises, in one place.

For every arm (see :data:`grpo_theory.llm.presets.ARMS`), at equal epochs unless a key says otherwise:

* ``steps``: optimizer steps of one run; ``lr`` and ``lr_selected_on`` ("validation" for a swept method
  whose lr the preset took from the sweep, "rule" for the paper's 8-eta arm and for a preset without a
  sweep result, "2-GRPO's" for the random-reward control);
* ``mean_at_k``: {"mean", "std"} of the final test Mean@k over seeds (sample std, ddof 1);
* ``retention``, ``gain_retention``, ``paired_delta``: {"value", "ci95"} relative to 16-GRPO from the
  paired two-way bootstrap (:mod:`grpo_theory.llm.bootstrap`); retention and gain retention in %,
  the paired delta in accuracy points (fraction);
* ``rollout_share``, ``cpu_time_share``: mean generated rollouts and mean training CPU seconds over
  seeds, as a fraction of 16-GRPO's;
* ``paper_claim``: for the 2-rollout arms, the non-inferiority verdict on the paper's 97.6% retention;
* ``budgets``: the same comparison at equal optimizer steps and at equal CPU seconds
  (:mod:`grpo_theory.llm.budgets`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grpo_theory.llm.bootstrap import non_inferiority
from grpo_theory.llm.budgets import compare_at_budgets
from grpo_theory.llm.presets import PAPER_CLAIMS, REFERENCE, SWEPT, Preset
from grpo_theory.llm.runlog import RunLog


def lr_source(preset: Preset, name: str) -> str:
    if name == "2-GRPO random reward":
        return "2-GRPO's" if "2-GRPO" in preset.lrs else "rule"
    if name in SWEPT and name in preset.lrs:
        return "validation"
    return "rule"


def _read_logs(out: Path, names: Mapping[str, str]) -> dict[str, dict[int, RunLog]]:
    """method -> seed -> the run stored as ``out/runs/<slug>_s<seed>.jsonl`` (``names``: method -> slug)."""
    logs: dict[str, dict[int, RunLog]] = {}
    for name, slug in names.items():
        for path in sorted((out / "runs").glob(f"{slug}_s*.jsonl")):
            run = RunLog.read(path)
            logs.setdefault(name, {})[int(path.stem.rsplit("_s", 1)[1])] = run
    return logs


def headline_record(summary: Mapping[str, Any], preset: Preset, out: Path, slugs: Mapping[str, str],
                    lrs: Mapping[str, float]) -> dict[str, Any]:
    """arm -> the fields of the module docstring, from ``summarize``'s output and the runs' logs."""
    methods = summary["methods"]
    ref = methods.get(REFERENCE)
    budgets = compare_at_budgets(_read_logs(out, slugs), REFERENCE) if ref is not None else {}
    arms: dict[str, Any] = {}
    for name, row in methods.items():
        iv = row.get("intervals", {})
        rec: dict[str, Any] = {
            "seeds": row["seeds"], "steps": row["steps"][0], "lr": lrs.get(name),
            "lr_selected_on": lr_source(preset, name),
            "mean_at_k": {"mean": row["mean_at_k"][0], "std": row["mean_at_k"][1]},
            "start_mean_at_k": row["start_mean_at_k"],
        }
        for stat in ("retention", "gain_retention", "paired_delta"):
            if stat in iv:
                rec[stat] = {"value": iv[stat], "ci95": iv[f"{stat}_ci95"]}
        if ref is not None:
            rec["rollout_share"] = row["rollouts"][0] / ref["rollouts"][0]
            rec["cpu_time_share"] = row["train_cpu_seconds"][0] / ref["train_cpu_seconds"][0]
        if name in ("2-GRPO", "2-GRPO (8eta)", "2-GRPO+RS") and "retention" in rec:
            claim = PAPER_CLAIMS["retention_pct"]
            verdict = non_inferiority(rec["retention"]["ci95"], claim)
            rec["paper_claim"] = {"retention_pct": claim, "verdict": verdict}
        if name in budgets:
            rec["budgets"] = budgets[name]
        arms[name] = rec
    return arms
