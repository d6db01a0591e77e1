r"""Data for the small-LLM figures F7-F9 and table T1, read from ``results/`` (F6, F12: :mod:`.headline`).

Where the results are and what happens when they are missing: :mod:`grpo_theory.figures.data.results`
(figures never train). Runs are read with :class:`grpo_theory.llm.runlog.RunLog`: ``summary.json``,
``runs/<method>_s<seed>.json`` (final and start evaluation, rollouts, seconds) and
``runs/<method>_s<seed>.jsonl`` (one record per optimizer step). When ``runs/`` is absent (a checkout
without the per-run files), F7, F8 and T1 fall back to ``summary.json``'s means and stds.

Statistics over seeds are the mean and the sample std (ddof 1) of the per-seed values.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from grpo_theory.figures.cache import fingerprint
from grpo_theory.figures.data.results import (
    READER_CODE,
    SOURCES,
    MissingResultsError,
    _label,
    config_k,
    eval_k,
    experiment_config,
    find_results,
    header,
    load_summary,
    mean_std,
    ordered,
    results_config,
    runs_of,
)
from grpo_theory.figures.paths import REPO_ROOT, RESULTS
from grpo_theory.llm.runlog import RunLog, read_runs


def load_runs(d: Path) -> dict[str, list[dict[str, Any]]]:
    """method -> one ``{"seed", "result", "log"}`` per seed: the plain-dict view of
    :func:`grpo_theory.llm.runlog.read_runs`, for notebooks."""
    return {name: [{"seed": r.seed, "result": r.result, "log": r.records} for r in runs]
            for name, runs in read_runs(Path(d) / "runs").items()}


# ------------------------------------------------------------------------------------------------ F8


def _pass_points(ev: dict[str, Any]) -> dict[int, float]:
    """k -> accuracy of one evaluation: Mean@k at k = 1, ``eval/pass_at_k`` at ``eval/k`` and every
    ``eval/pass_at_<k>`` it stores."""
    pts: dict[int, float] = {}
    if "eval/mean_at_k" in ev:
        pts[1] = float(ev["eval/mean_at_k"])
    if "eval/pass_at_k" in ev and ev.get("eval/k"):
        pts[int(ev["eval/k"])] = float(ev["eval/pass_at_k"])
    for key, v in ev.items():
        m = re.fullmatch(r"eval/pass_at_(\d+)", key)
        if m:
            pts[int(m.group(1))] = float(v)
    return pts


def _pass_at_k_from_summary(out: dict[str, Any], d: Path) -> dict[str, Any]:
    """F8 from ``summary.json`` alone: Mean@k (k = 1) and Pass@k at the evaluation's k."""
    summary = load_summary(d)
    k = config_k(d) or 8
    methods = summary.get("methods", {})
    out["methods"] = {}
    for name in ordered(methods):
        row = methods[name]
        out["methods"][name] = {"k": [1, k], "mean": [row["mean_at_k"][0], row["pass_at_k"][0]],
                                "std": [row["mean_at_k"][1], row["pass_at_k"][1]], "n": [row["n"], row["n"]]}
    if methods:
        first = next(iter(methods.values()))
        start = [first["start_mean_at_k"], first["start_pass_at_k"]]
        out["methods"]["start checkpoint"] = {"k": [1, k], "mean": start, "std": [0.0, 0.0], "n": [1, 1]}
    out["greedy"] = {n: tuple(r["greedy_acc"]) for n, r in methods.items()}
    out["from_summary"] = True
    return out


def pass_at_k(cfg: dict[str, Any]) -> dict[str, Any]:
    """F8: final Pass@k vs k per method (k = 1 is Mean@k, the unbiased Pass@1), mean ± std over seeds.

    Uses every ``eval/pass_at_<k>`` key the evaluation stores, plus ``eval/mean_at_k`` (k = 1) and
    ``eval/pass_at_k`` (k = ``eval/k``); the start checkpoint is included as its own row.
    """
    out = header(cfg)
    if cfg["dir"] is None:
        return {**out, "methods": {}}
    runs = runs_of(cfg)
    if not runs:
        return _pass_at_k_from_summary(out, REPO_ROOT / cfg["dir"])
    rows: dict[str, dict[int, list[float]]] = {}
    starts: dict[Any, dict[str, Any]] = {}  # one start evaluation per seed (all methods share it)
    for name in ordered(runs):
        for r in runs[name]:
            for kk, v in _pass_points(r.final_eval).items():
                rows.setdefault(name, {}).setdefault(kk, []).append(v)
            starts.setdefault(r.seed, r.start_eval)
    for ev in starts.values():
        for kk, v in _pass_points(ev).items():
            rows.setdefault("start checkpoint", {}).setdefault(kk, []).append(v)
    out["methods"] = {}
    for name, by_k in rows.items():
        ks = sorted(by_k)
        stats = [mean_std(by_k[k]) for k in ks]
        out["methods"][name] = {"k": ks, "mean": [m for m, _ in stats], "std": [s for _, s in stats],
                                "n": [len(by_k[k]) for k in ks]}
    out["greedy"] = {name: mean_std([r.final("greedy_acc") for r in runs[name]]) for name in ordered(runs)}
    return out


# ------------------------------------------------------------------------------------------------ F7

ABLATION_METRICS = ("mean_at_k", "pass_at_k", "greedy_acc")


def _paper_table4() -> dict[str, dict[str, list[float]]]:
    """v3 Table 4 at 32 prompts: setting -> {"G", "mean32", "pass32"}."""
    from grpo_theory.paper import V3_TABLE4

    paper: dict[str, dict[str, list[float]]] = {}
    for row in V3_TABLE4:
        m = re.fullmatch(r"(\d+)", str(row.method))
        if m and row.prompts == 32:
            d = paper.setdefault(f"{row.model} / {row.dataset}", {"G": [], "mean32": [], "pass32": []})
            d["G"].append(int(m.group(1)))
            d["mean32"].append(row.avg[0])
            d["pass32"].append(row.avg[1])
    return paper


def _ablation_from_summary(out: dict[str, Any], d: Path) -> dict[str, Any]:
    """F7 from ``summary.json`` alone: means and stds, no per-seed dots."""
    summary = load_summary(d)
    out["k"] = config_k(d)
    for name in ordered(summary.get("methods", {})):
        m = re.fullmatch(r"G=(\d+)", name)
        if not m:
            continue
        row = summary["methods"][name]
        out["G"].append(int(m.group(1)))
        for metric in ABLATION_METRICS:
            cell = out["metrics"].setdefault(metric, {"per_seed": [], "mean": [], "std": []})
            cell["per_seed"].append([])
            cell["mean"].append(row[metric][0])
            cell["std"].append(row[metric][1])
        out.setdefault("start_mean_at_k", row.get("start_mean_at_k", math.nan))
        out.setdefault("rollouts", []).append(row["rollouts"][0])
    out["from_summary"] = True
    return out


def group_size_ablation(cfg: dict[str, Any]) -> dict[str, Any]:
    """F7: final Mean@k, Pass@k and greedy accuracy vs G (per seed and mean ± std), and v3 Table 4."""
    out = {**header(cfg), "paper": _paper_table4(), "G": [], "metrics": {}}
    if cfg["dir"] is None:
        return out
    runs = runs_of(cfg)
    out["k"] = eval_k(runs)
    if not runs:
        return _ablation_from_summary(out, REPO_ROOT / cfg["dir"])
    for name in ordered(runs):
        m = re.fullmatch(r"G=(\d+)", name)
        if not m:
            continue
        out["G"].append(int(m.group(1)))
        for metric in ABLATION_METRICS:
            vals = [r.final(metric) for r in runs[name]]
            cell = out["metrics"].setdefault(metric, {"per_seed": [], "mean": [], "std": []})
            cell["per_seed"].append([float(v) for v in vals if v is not None])
            mu, sd = mean_std(vals)
            cell["mean"].append(mu)
            cell["std"].append(sd)
        out.setdefault("start_mean_at_k", mean_std([r.start("mean_at_k") for r in runs[name]])[0])
        out.setdefault("rollouts", []).append(mean_std([r.result.get("rollouts") for r in runs[name]])[0])
        out.setdefault("prompts_per_step", runs[name][0].config.get("prompts_per_step"))
    return out


# ------------------------------------------------------------------------------------------------ F9

REALCHECK_KEYS = ("step", "measured", "measured_se", "expected_per_prompt", "expected_per_prompt_se",
                  "rbar_formula", "printed_formula", "train_reward")


def discard_files() -> list[Path]:
    d = RESULTS / "realcheck" / "discard_rate"
    return sorted(d.rglob("result.json")) if d.is_dir() else []


def f9_config() -> dict[str, Any]:
    files = discard_files()
    return {"realcheck": [str(f.relative_to(REPO_ROOT)) for f in files], "realcheck_fp": fingerprint(files),
            "headline": experiment_config("headline")}


def _realcheck_discard(rel: str) -> dict[str, Any]:
    """One ``results/realcheck/discard_rate`` result: its per-step columns and summary."""
    from grpo_theory.artifacts import read_json

    res = read_json(REPO_ROOT / rel)
    rows = res.get("steps", [])
    model = str(res.get("config", {}).get("model", rel))
    return {"model": Path(model).name or model, "file": rel,
            **{k: [r.get(k) for r in rows] for k in REALCHECK_KEYS}, "summary": res.get("summary", {})}


def _headline_discard(runs: list[RunLog]) -> dict[str, Any]:
    """Per step, aligned by index over seeds: measured zero-signal fraction (mean, std) and the
    r̄-formula from the same step's training reward."""
    from grpo_theory.theory import zero_signal_probability

    per_seed = [run.with_key("train/zero_signal_frac") for run in runs]
    n = min(len(p) for p in per_seed)
    steps, meas, meas_sd, formula = [], [], [], []
    for i in range(n):
        recs = [p[i] for p in per_seed]
        steps.append(recs[0]["step"])
        m, s = mean_std([r["train/zero_signal_frac"] for r in recs])
        meas.append(m)
        meas_sd.append(s)
        formula.append(mean_std([float(zero_signal_probability(2, r["train/reward"])) for r in recs])[0])
    return {"step": steps, "measured": meas, "measured_std": meas_sd, "rbar_formula": formula,
            "seeds": len(per_seed)}


def discard_rate(cfg: dict[str, Any]) -> dict[str, Any]:
    """F9: measured zero-signal fraction of 2-GRPO per step vs the formulas, and the paper's Table 3.

    * realcheck (if present): measured fraction with its binomial se, the per-prompt prediction
      E_q[p_q² + (1−p_q)²] (unbiased from fresh rollouts), the r̄-formula r̄² + (1−r̄)² (Jensen: a lower
      bound) and the printed 1 − r̄² − (1−r̄)²;
    * headline 2-GRPO runs: measured fraction per step (mean ± std over seeds) and the r̄-formula from
      the same step's training reward.
    """
    from grpo_theory.paper import V3_TABLE3_DISCARD

    out: dict[str, Any] = {"paper": {"step": list(V3_TABLE3_DISCARD),
                                     "p_discard": list(V3_TABLE3_DISCARD.values())},
                           "realcheck": [_realcheck_discard(rel) for rel in cfg["realcheck"]], "headline": {}}
    h = cfg["headline"]
    out["headline_label"] = h["label"]
    if h["dir"] is not None:
        runs = runs_of(h)
        for name in ("2-GRPO", "online DPO"):
            if name in runs:
                out["headline"][name] = _headline_discard(runs[name])
    return out


# ------------------------------------------------------------------------------------------------ T1


def _paper_t1() -> dict[str, dict[str, float]]:
    """The paper's 2-GRPO and 2-GRPO+RS ratios vs 16-GRPO (%): retention, rollouts, time."""
    from grpo_theory.paper import V3_TABLE1, headlines

    h = headlines()
    # 2-GRPO+RS in v3 Table 1: grand-average retention and summed-hours time fraction (as for 2-GRPO).
    tot = {m: [0.0, 0.0] for m in ("16", "2", "2+RS")}
    for row in V3_TABLE1:
        if row.method in tot:
            tot[row.method][0] += row.avg
            tot[row.method][1] += row.time_h or 0.0
    return {
        "2-GRPO": {"retention": 100 * h["v3_mean_retention"], "rollouts": 100 * h["rollout_fraction"],
                   "time": 100 * h["v3_time_fraction"]},
        "2-GRPO+RS": {"retention": 100 * tot["2+RS"][0] / tot["16"][0], "rollouts": math.nan,
                      "time": 100 * tot["2+RS"][1] / tot["16"][1]},
    }


def headline_table(cfg: dict[str, Any]) -> dict[str, Any]:
    """T1: retention, rollouts and wall-clock of each method relative to 16-GRPO, this project vs the paper.

    Ours: ratios of seed means (as ``summary.json``), with the std over seeds of the per-seed ratios
    (method seed s / 16-GRPO seed s). Paper: the recomputed headlines of :mod:`grpo_theory.paper`.
    """
    sources = cfg["sources"] if "sources" in cfg else [cfg]
    return {"paper": _paper_t1(), "sources": [_source_rows(src) for src in sources]}


def t1_config() -> dict[str, Any]:
    """T1 lists every complete headline result (``full`` CPU and ``gpu``); else the one figures use."""
    sources = []
    for sub, label in SOURCES[:3]:
        d = RESULTS / sub / "headline" if sub else RESULTS / "headline"
        if (d / "summary.json").is_file():
            sources.append(results_config(d, _label(d, label), "headline"))
    if not sources:
        sources.append(experiment_config("headline"))
    return {"code": fingerprint(list(READER_CODE)), "sources": sources}


def _per_seed_ratios(runs: list[RunLog], ref_by_seed: dict[Any, RunLog]) -> dict[str, list[float]]:
    """Per seed shared with the reference: 100 x method / reference of Mean@k, rollouts, seconds."""
    out: dict[str, list[float]] = {"retention": [], "rollouts": [], "time": [], "cpu_time": []}
    for r in runs:
        rr = ref_by_seed.get(r.seed)
        if rr is None:
            continue
        out["retention"].append(100 * r.final_eval["eval/mean_at_k"] / rr.final_eval["eval/mean_at_k"])
        for key, cost in (("rollouts", "rollouts"), ("time", "train_seconds"), ("cpu_time",
                                                                                "train_cpu_seconds")):
            out[key].append(100 * r.cost(cost) / rr.cost(cost))
    return out


#: T1 row key -> summary.json row key.
T1_FROM_SUMMARY = {"seeds": "n", "mean_at_k": "mean_at_k", "greedy_acc": "greedy_acc",
                   "pass_at_k": "pass_at_k",
                   "start_mean_at_k": "start_mean_at_k", "retention": "retention_mean_at_k",
                   "gain_retention": "gain_retention_mean_at_k", "rollouts_pct": "rollouts_pct",
                   "time_pct": "time_pct", "cpu_time_pct": "cpu_time_pct", "discard": "discard_frac"}


def _source_rows(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {**header(cfg), "rows": {}}
    if cfg["dir"] is None:
        return out
    summary = load_summary(REPO_ROOT / cfg["dir"])
    runs = runs_of(cfg)
    ref = summary.get("reference", "16-GRPO")
    ref_by_seed = {r.seed: r for r in runs.get(ref, [])}
    out["reference"] = ref
    out["k"] = eval_k(runs)
    arms = summary.get("arms", {})
    for name in ordered(summary["methods"]):
        row = summary["methods"][name]
        per_seed = _per_seed_ratios(runs.get(name, []), ref_by_seed)
        out["rows"][name] = {
            **{key: row.get(src) for key, src in T1_FROM_SUMMARY.items()},
            "std": {k: mean_std(v)[1] for k, v in per_seed.items()},
            "steps": (row.get("steps") or [None])[0],
            # 95% intervals of the paired two-way bootstrap, when the runs carry per-problem outcomes
            "ci": {k: (arms.get(name, {}).get(k) or {}).get("ci95") for k in ("retention", "gain_retention")},
            "paper_claim": (arms.get(name, {}).get("paper_claim") or {}).get("verdict"),
        }
    return out


__all__ = ["MissingResultsError", "discard_rate", "experiment_config", "f9_config",
           "find_results", "group_size_ablation", "headline_table", "load_runs", "load_summary", "pass_at_k",
           "t1_config"]
