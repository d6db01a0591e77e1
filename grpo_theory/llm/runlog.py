"""One reader of a finished (or running) run's files: its result and its per-step log.

An experiment stores each run as two files in ``results/<experiment>/runs/`` (see
:mod:`grpo_theory.llm.experiment` and ``METRICS.md``):

* ``<method slug>_s<seed>.json``: the result of ``trainer.train``: ``name``, ``config`` (the TrainConfig,
  ``seed`` included), ``final_eval`` and ``start_eval`` (``eval/*`` entries and the per-problem outcomes
  ``problems/correct``), ``rollouts``, ``steps``, ``train_seconds``, ``train_cpu_seconds``, ``discard_frac``;
* ``<method slug>_s<seed>.jsonl``: one record per optimizer step (plus ``step`` 0, the start evaluation),
  read with :func:`grpo_theory.artifacts.read_jsonl` (a torn last line is dropped).

:class:`RunLog` reads both once and names what the summaries, the headline record, the budget
comparisons and the figures read from them; :func:`read_runs` reads a whole ``runs/`` directory.
Torch-free (numpy only), so figure code can use it without importing the trainer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grpo_theory.artifacts import read_json, read_jsonl

#: ``cpu/`` entries that are not a training phase's cost of this step (see METRICS.md).
NOT_TRAINING = ("eval", "kl_log", "train_total")


def per_problem(ev: Mapping[str, Any]) -> np.ndarray | None:
    """Mean@k per problem (correct samples / n) from an evaluation record, or None if it has none."""
    counts, n = ev.get("problems/correct"), ev.get("eval/n_samples")
    if counts is None or not n:
        return None
    return np.asarray(counts, float) / float(n)


def slug(name: str) -> str:
    """A file-name-safe version of a method name ('2-GRPO+RS' -> '2-GRPO_RS'), as run files are named."""
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", name).strip("_")


@dataclass(frozen=True)
class EvalPoint:
    """One evaluation in a run's log.

    step: optimizer steps done; rollouts: ``count/rollouts`` so far (0 if absent); cpu: cumulative
    training CPU seconds up to and including this step (see :meth:`RunLog.evaluations`); values: the
    record's ``eval/*`` entries; scores: per-problem Mean@k ``[N]`` (None without per-problem outcomes).
    """

    step: int
    rollouts: float
    cpu: float
    values: dict[str, float] = field(repr=False)
    scores: np.ndarray | None = field(repr=False)


class RunLog:
    """A run's result dict and log records, read once, with named accessors.

    Either part may be absent (a log without its result while the run is going, a result dict made in
    memory by ``trainer.train``). ``method`` is the method the run belongs to: the file name's
    ``<slug>`` decides it when it disagrees with the stored name, because one run can serve two
    experiments (the ablation's G=16 is the headline's 16-GRPO run, which keeps its own name).
    """

    def __init__(self, result: Mapping[str, Any] | None = None, records: Sequence[Mapping[str, Any]] = (),
                 *, stem: str | None = None):
        self.result: dict[str, Any] = dict(result or {})
        self.records: list[dict[str, Any]] = [dict(r) for r in records]
        self.stem = stem

    @classmethod
    def read(cls, path: str | Path) -> RunLog:
        """The run stored as ``path`` with suffix ``.json`` and/or ``.jsonl`` (either may be missing)."""
        p = Path(path)
        res, log = p.with_suffix(".json"), p.with_suffix(".jsonl")
        return cls(read_json(res) if res.is_file() else None, read_jsonl(log), stem=p.stem)

    @classmethod
    def of(cls, run: RunLog | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> RunLog:
        """``run`` itself, a result dict as a RunLog, or a list of log records as a RunLog."""
        if isinstance(run, RunLog):
            return run
        if isinstance(run, Mapping):
            return cls(run)
        return cls(None, run)

    # ---------------------------------------------------------------------------------- the result

    @property
    def config(self) -> dict[str, Any]:
        """The run's TrainConfig as stored (``{}`` without a result)."""
        return self.result.get("config") or {}

    @property
    def seed(self) -> int | None:
        """``config.seed``, else the ``_s<seed>`` of the file name, else None."""
        if self.config.get("seed") is not None:
            return int(self.config["seed"])
        if self.stem and re.fullmatch(r".+_s\d+", self.stem):
            return int(self.stem.rsplit("_s", 1)[1])
        return None

    @property
    def name(self) -> str | None:
        """The method name stored in the result (None without one)."""
        return self.result.get("name") or self.config.get("name")

    @property
    def method(self) -> str | None:
        """The method this file belongs to (see the class docstring)."""
        stem_method = self.stem.rsplit("_s", 1)[0] if self.stem else None
        if self.name is not None and (stem_method is None or slug(self.name) == stem_method):
            return self.name
        return stem_method

    @property
    def final_eval(self) -> dict[str, Any]:
        return self.result.get("final_eval") or {}

    @property
    def start_eval(self) -> dict[str, Any]:
        return self.result.get("start_eval") or {}

    def final(self, metric: str, default: Any = None) -> Any:
        """``final_eval["eval/<metric>"]`` (e.g. ``final("mean_at_k")``), or ``default``."""
        return self.final_eval.get(f"eval/{metric}", default)

    def start(self, metric: str, default: Any = None) -> Any:
        """``start_eval["eval/<metric>"]``, or ``default``."""
        return self.start_eval.get(f"eval/{metric}", default)

    @property
    def final_scores(self) -> np.ndarray | None:
        """Per-problem Mean@k of the final evaluation (None without per-problem outcomes)."""
        return per_problem(self.final_eval)

    @property
    def start_scores(self) -> np.ndarray | None:
        return per_problem(self.start_eval)

    def cost(self, key: str) -> Any:
        """One of the result's totals: ``rollouts``, ``steps``, ``train_seconds``, ``train_cpu_seconds``,
        ``discard_frac``; a missing one raises ``KeyError`` naming the run."""
        if key not in self.result:
            raise KeyError(f"run {self.stem or self.name!r} has no {key!r} in its result")
        return self.result[key]

    @property
    def eval_k(self) -> int:
        """The evaluation's k: ``final_eval["eval/k"]``, else ``config.eval_k``, else 0."""
        return int(self.final("k") or self.config.get("eval_k") or 0)

    # -------------------------------------------------------------------------------------- the log

    def with_key(self, key: str) -> list[dict[str, Any]]:
        """The log records that carry ``key`` (e.g. ``train/zero_signal_frac``), in order."""
        return [r for r in self.records if key in r]

    def has(self, key: str) -> bool:
        return any(key in r for r in self.records)

    def evaluations(self, metric: str = "eval/mean_at_k") -> list[EvalPoint]:
        """Every log record that carries ``metric``, in order, as an :class:`EvalPoint`.

        ``cpu`` is the trainer's cumulative ``cpu/train_total`` where the record has it; for older
        logs without it, the running sum of the per-step ``cpu/<phase>`` entries except those in
        :data:`NOT_TRAINING` (evaluation and logging-only passes).
        """
        out, cpu = [], 0.0
        for rec in self.records:
            cpu += sum(v for k, v in rec.items() if k.startswith("cpu/") and k[4:] not in NOT_TRAINING)
            if "cpu/train_total" in rec:
                cpu = float(rec["cpu/train_total"])
            if metric in rec:
                values = {k: v for k, v in rec.items() if k.startswith("eval/")}
                out.append(EvalPoint(int(rec["step"]), float(rec.get("count/rollouts", 0.0)), cpu, values,
                                     per_problem(rec)))
        return out


def read_runs(runs_dir: str | Path) -> dict[str, list[RunLog]]:
    """method -> its runs in ``runs_dir`` (one per ``*.json`` result), sorted by seed (unknown seeds last)."""
    out: dict[str, list[RunLog]] = {}
    for path in sorted(Path(runs_dir).glob("*.json")):
        run = RunLog.read(path)
        out.setdefault(str(run.method), []).append(run)
    for runs in out.values():
        runs.sort(key=lambda r: (r.seed is None, r.seed))
    return out


__all__ = ["NOT_TRAINING", "EvalPoint", "RunLog", "per_problem", "read_runs", "slug"]
