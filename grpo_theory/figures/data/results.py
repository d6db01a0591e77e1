r"""Where the LLM figures find an experiment's results, and the cache key of a figure built from them.

For experiment ``E`` the figures read, in order of preference, ``results/E``, ``results/full/E``,
``results/gpu/E`` and ``results/quick/E``: the first with a ``summary.json``, else the first with
finished runs (an experiment still running, labelled "partial"). Figures only read: when none of
these exists, :func:`require_results` raises :class:`MissingResultsError`, one line naming the
command that makes the results. Runs are read with :mod:`grpo_theory.llm.runlog`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpo_theory.llm.runlog as runlog
from grpo_theory.artifacts import UsageError, read_json
from grpo_theory.figures.cache import fingerprint
from grpo_theory.figures.paths import REPO_ROOT, RESULTS
from grpo_theory.llm.runlog import RunLog, read_runs
from grpo_theory.llm.summary import mean_std as _mean_std

#: (subdirectory of results/, label); "" is results/<experiment> itself.
SOURCES = (("", "CPU"), ("full", "CPU"), ("gpu", "GPU"), ("quick", "quick preset"))
HEADLINE_ORDER = ("16-GRPO", "2-GRPO", "2-GRPO (8eta)", "2-GRPO+RS", "online DPO", "2-GRPO random reward")


class MissingResultsError(UsageError):
    """An experiment a figure reads has no results; the message names the command that makes them."""


def make_command(experiment: str) -> str:
    """The command that writes ``results/<experiment>``, the first place the figures look."""
    return f"python -m grpo_theory experiment {experiment} --preset paper --commit-results"


def _candidates(experiment: str) -> list[tuple[Path, str]]:
    return [(RESULTS / sub / experiment if sub else RESULTS / experiment, label) for sub, label in SOURCES]


def _label(d: Path, where: str) -> str:
    """``"<preset> preset, <where>"`` from the experiment's summary.json (the preset that made them)."""
    try:
        summary = read_json(d / "summary.json")
    except (OSError, ValueError):
        summary = {}
    preset = summary.get("preset")
    # Results made before the headline protocol (tuned lrs, warm-up, dense evaluation) have no "arms".
    era = "" if "arms" in summary or summary.get("experiment") != "headline" else ", earlier protocol"
    return f"{preset} preset, {where}{era}" if preset else where


def _finished_runs(d: Path) -> int:
    return len(list((d / "runs").glob("*.json"))) if (d / "runs").is_dir() else 0


def find_results(experiment: str) -> tuple[Path | None, str]:
    """``(directory, preset label)`` of the preferred results of ``experiment``, or ``(None, "")``."""
    for d, label in _candidates(experiment):
        if (d / "summary.json").is_file():
            return d, _label(d, label)
    for d, label in _candidates(experiment):
        n = _finished_runs(d)
        if n:
            return d, f"{label}, partial: {n} finished runs"
    return None, ""


def require_results(experiment: str) -> tuple[Path, str]:
    """:func:`find_results`, or :class:`MissingResultsError` naming the command that makes them."""
    d, label = find_results(experiment)
    if d is None:
        looked = ", ".join(str(c.relative_to(REPO_ROOT)) for c, _ in _candidates(experiment))
        raise MissingResultsError(f"no results of experiment {experiment!r} (looked in {looked}); "
                                  f"make them with: {make_command(experiment)}")
    return d, label


def source_files(d: Path | None) -> list[Path]:
    """The files whose content keys the cache: ``summary.json`` and ``config.json`` of a finished experiment.

    ``summary.json`` is rewritten whenever a run of the experiment changes, so it stands for the
    per-run files too; these (``runs/``) may be left out of version control, and keying on them would
    make a fresh checkout recompute from incomplete inputs instead of using the committed figure data.
    An experiment still in progress has no summary and is keyed by its finished runs.
    """
    if d is None:
        return []
    if (d / "summary.json").is_file():
        return [d / "summary.json", d / "config.json"]
    return [*sorted((d / "runs").glob("*.json")), *sorted((d / "runs").glob("*.jsonl"))]


def config_k(d: Path) -> int:
    """The evaluation's k from the experiment's ``config.json`` (0 if unknown)."""
    try:
        runs = read_json(d / "config.json").get("runs", {})
        return int(next(iter(runs.values())).get("eval_k", 0))
    except (OSError, ValueError, StopIteration, AttributeError):
        return 0


def load_summary(d: Path) -> dict[str, Any]:
    """``summary.json``, or the same table made by :func:`grpo_theory.llm.summary.summarize` from the
    finished runs, relative to the reference that the experiment's ``config.json`` names."""
    if (d / "summary.json").is_file():
        return read_json(d / "summary.json")
    from grpo_theory.llm.summary import summarize

    results = {name: runs for name, runs in read_runs(d / "runs").items()}
    try:
        ref = read_json(d / "config.json").get("reference")
    except (OSError, ValueError):
        ref = None
    return summarize(results, ref if ref in results else None)


#: The code a results figure's data depend on (its cache key includes their content).
READER_CODE = (Path(__file__), Path(__file__).with_name("llm.py"), Path(runlog.__file__))


def results_config(d: Path, label: str, experiment: str) -> dict[str, Any]:
    """``{"experiment", "dir", "label", "fingerprint"}`` of results directory ``d``."""
    return {"experiment": experiment, "dir": str(d.relative_to(REPO_ROOT)), "label": label,
            "fingerprint": fingerprint(source_files(d))}


def experiment_config(experiment: str) -> dict[str, Any]:
    """The cache key of a figure built from ``experiment``: where its results are, a content hash of
    them and of the reading code. Raises :class:`MissingResultsError` when there are none."""
    d, label = require_results(experiment)
    return {"code": fingerprint(list(READER_CODE)), **results_config(d, label, experiment)}


def runs_of(cfg: dict[str, Any]) -> dict[str, list[RunLog]]:
    """method -> runs (sorted by seed) of the results directory a figure config names."""
    return read_runs(REPO_ROOT / cfg["dir"] / "runs")


def mean_std(xs: Sequence[float | None]) -> tuple[float, float]:
    """:func:`grpo_theory.llm.summary.mean_std` over the entries that exist (None and NaN skipped)."""
    return _mean_std([float(x) for x in xs if x is not None and not math.isnan(float(x))])


def ordered(names, order=HEADLINE_ORDER) -> list[str]:
    """Method names in the figures' order: ``order`` first, then ``G=<n>`` by n, then by name."""
    def key(n: str):
        m = re.match(r"G=(\d+)", n)
        return (order.index(n) if n in order else len(order), int(m.group(1)) if m else 0, n)

    return sorted(names, key=key)


def header(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"experiment": cfg["experiment"], "dir": cfg["dir"], "label": cfg["label"]}


def eval_k(runs: dict[str, list[RunLog]]) -> int:
    """The evaluation's k of the first run that knows it (0 if none does)."""
    return next((r.eval_k for rs in runs.values() for r in rs if r.eval_k), 0)
