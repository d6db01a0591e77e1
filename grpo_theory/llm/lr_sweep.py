"""Choosing each method's learning rate on the validation split (never on test).

The ``lr_sweep`` experiment (:func:`grpo_theory.llm.presets.lr_sweep_runs`) trains every swept method at
every candidate lr on a shorter schedule and evaluates it on the validation split. A method's choice is
the lr with the highest final validation Mean@k, averaged over the sweep's seeds; a tie goes to the
smaller lr (the more conservative step). The choice is what the presets' ``TUNED_LRS`` must hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from grpo_theory.llm.runlog import RunLog

_NAME = re.compile(r"^(?P<method>.+) lr=(?P<lr>[0-9.e+-]+)$")


def parse_run_name(name: str) -> tuple[str, float]:
    """``"2-GRPO lr=0.0001"`` -> ``("2-GRPO", 1e-4)``."""
    m = _NAME.match(name)
    if m is None:
        raise ValueError(f"not a sweep run name (expected '<method> lr=<lr>'): {name!r}")
    return m["method"], float(m["lr"])


def sweep_table(results: Mapping[str, Sequence[RunLog | Mapping[str, Any]]],
                metric: str = "mean_at_k") -> dict[str, Any]:
    """method -> {"lrs": [...], "score": [...], "se": [...], "n": [...]} sorted by lr (validation scores).

    results: run name -> the sweep's runs of that name, one per seed (:class:`~grpo_theory.llm.runlog.RunLog`
    or result dicts). ``se`` is the largest per-run standard error over problems among the seeds (the
    evaluation noise of one run).
    """
    table: dict[str, dict[str, list[float]]] = {}
    for name, given in results.items():
        method, lr = parse_run_name(name)
        runs = [RunLog.of(r) for r in given]
        for r in runs:
            split = r.config.get("eval_split", "validation")
            if split != "validation":
                raise ValueError(f"sweep run {name!r} was evaluated on {split!r}, not validation")
        vals = [float(r.final_eval[f"eval/{metric}"]) for r in runs]
        ses = [float(r.final(f"{metric}_se", 0.0)) for r in runs]
        row = table.setdefault(method, {"lrs": [], "score": [], "se": [], "n": []})
        row["lrs"].append(lr)
        row["score"].append(sum(vals) / len(vals))
        row["se"].append(max(ses))
        row["n"].append(len(vals))
    for row in table.values():
        order = sorted(range(len(row["lrs"])), key=lambda i: row["lrs"][i])
        for k in row:
            row[k] = [row[k][i] for i in order]
    return table


def select_lrs(table: Mapping[str, Mapping[str, Sequence[float]]]) -> dict[str, float]:
    """method -> the lr with the highest validation score (ties: the smaller lr)."""
    out = {}
    for method, row in table.items():
        best = max(range(len(row["lrs"])), key=lambda i: (row["score"][i], -row["lrs"][i]))
        out[method] = float(row["lrs"][best])
    return out
