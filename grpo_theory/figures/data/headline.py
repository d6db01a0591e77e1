"""Data of F6 (the headline's dense curves with interval bands) and F10 (the learning-rate sweep).

F6 reads ``results/headline/runs/*.jsonl``: for every arm and evaluation index, the seeds' per-problem
Mean@k outcomes are stacked into ``[S, N]`` and the point is the mean with the 95% interval of the
paired two-way bootstrap over seeds and problems (:mod:`grpo_theory.llm.bootstrap`); x is the mean over
seeds of optimizer steps, rollouts and cumulative training CPU seconds at that evaluation
(:meth:`grpo_theory.llm.runlog.RunLog.evaluations`). Evaluations without per-problem outcomes fall back
to the mean ± 1 std over seeds. F10 reads ``results/headline/lr_sweep/summary.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grpo_theory.artifacts import read_json
from grpo_theory.figures.data.results import header, ordered, runs_of
from grpo_theory.figures.paths import REPO_ROOT, RESULTS
from grpo_theory.llm.bootstrap import paired_bootstrap
from grpo_theory.llm.presets import ARMS

SWEEP_DIR = RESULTS / "headline" / "lr_sweep"


def _band(scores: list[np.ndarray | None], ys: list[float], n_boot: int) -> tuple[float, float, float]:
    if all(s is not None for s in scores) and len({s.shape for s in scores}) == 1:  # type: ignore[union-attr]
        x = np.stack(scores)  # type: ignore[arg-type]
        ci = paired_bootstrap({"m": x}, x, "m", n_boot=n_boot)["m"]["accuracy_ci95"]
        return float(x.mean()), float(ci[0]), float(ci[1])
    m = float(np.mean(ys))
    s = float(np.std(ys, ddof=1)) if len(ys) > 1 else 0.0
    return m, m - s, m + s


def headline_curves(cfg: dict[str, Any], *, n_boot: int = 1000) -> dict[str, Any]:
    """F6: per arm, ``{"step", "rollouts", "cpu_seconds", "mean", "lo", "hi", "seeds", "band"}``."""
    out = {**header(cfg), "methods": {}}
    if cfg["dir"] is None:
        return out
    runs = runs_of(cfg)
    for name in ordered(runs, ARMS):
        per_seed = [r.evaluations("eval/mean_at_k") for r in runs[name]]
        n = min((len(p) for p in per_seed), default=0)
        curve: dict[str, Any] = {k: [] for k in ("step", "rollouts", "cpu_seconds", "mean", "lo", "hi")}
        banded = True
        for i in range(n):
            pts = [p[i] for p in per_seed]
            for key, src in (("step", "step"), ("rollouts", "rollouts"), ("cpu_seconds", "cpu")):
                curve[key].append(float(np.mean([getattr(p, src) for p in pts])))
            scores = [p.scores for p in pts]
            banded &= all(s is not None for s in scores)
            m, lo, hi = _band(scores, [float(p.values["eval/mean_at_k"]) for p in pts], n_boot)
            curve["mean"].append(m)
            curve["lo"].append(lo)
            curve["hi"].append(hi)
        curve["seeds"] = len(per_seed)
        curve["band"] = "bootstrap 95% CI (seeds x problems)" if banded else "mean ± 1 std over seeds"
        out["methods"][name] = curve
    out["k"] = next((int(r.final("k", 0)) for rs in runs.values() for r in rs), 0)
    return out


def curves_config(experiment: str) -> dict[str, Any]:
    """Cache key of F6 / F12: the experiment's results and the code that turns them into curves."""
    import grpo_theory.llm.bootstrap as bootstrap
    from grpo_theory.figures.cache import fingerprint
    from grpo_theory.figures.data.results import experiment_config

    code = [Path(__file__), Path(bootstrap.__file__)]
    return {**experiment_config(experiment), "curves_code": fingerprint(code)}


#: The command that writes :data:`SWEEP_DIR` (the sweep the presets' tuned learning rates come from).
SWEEP_COMMAND = ("python -m grpo_theory experiment lr_sweep --preset full --seeds 0 "
                 "--out results/headline/lr_sweep")


def lr_sweep_config() -> dict[str, Any]:
    """Cache key of F10; :class:`~grpo_theory.figures.data.results.MissingResultsError` without the sweep."""
    from grpo_theory.figures.cache import fingerprint
    from grpo_theory.figures.data.results import MissingResultsError

    path = SWEEP_DIR / "summary.json"
    if not path.is_file():
        raise MissingResultsError(f"no learning-rate sweep ({path.relative_to(REPO_ROOT)}); "
                                  f"make it with: {SWEEP_COMMAND}")
    return {"code": fingerprint([Path(__file__)]), "dir": str(SWEEP_DIR.relative_to(REPO_ROOT)),
            "fingerprint": fingerprint([path] if path.is_file() else [])}


def lr_sweep(cfg: dict[str, Any]) -> dict[str, Any]:
    """F10: validation Mean@k vs lr per swept method, the selected lr, and the sweep's schedule."""
    path = REPO_ROOT / cfg["dir"] / "summary.json"
    if not path.is_file():
        return {"dir": cfg["dir"], "methods": {}, "selected": {}}
    s = read_json(path)
    steps = {name: row["steps"][0] for name, row in s.get("methods", {}).items()}
    return {"dir": cfg["dir"], "methods": s.get("sweep", {}), "selected": s.get("selected", {}),
            "steps": steps, "preset": s.get("preset")}
