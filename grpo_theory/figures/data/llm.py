r"""Data for the small-LLM figures F6-F9 and table T1, read from ``results/``.

Sources, in order of preference, for experiment ``E`` (``headline`` or ``ablation``):
``results/E`` (the ``full`` CPU preset), ``results/gpu/E``, ``results/quick/E``; if none has a
``summary.json``, :func:`ensure_results` runs the ``quick`` preset once through the experiment API
into ``paper_figures/data/quick/E`` and the figures say "quick preset".

Layout read (written by :mod:`grpo_theory.llm.experiment`): ``summary.json`` and
``runs/<method>_s<seed>.json`` (final evaluation, rollouts, seconds) plus ``runs/<method>_s<seed>.jsonl``
(one record per optimizer step; evaluation records carry ``eval/*``, and every step carries
``count/rollouts`` and ``time/train_total``, the training wall-clock without evaluation).

Curves over seeds are aligned by evaluation index (the i-th evaluation of each seed's run is at the
same optimizer step): x is the mean over seeds of rollouts / minutes at that evaluation, y the mean
and sample std (ddof 1) of accuracy.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from grpo_theory.artifacts import read_json, read_jsonl
from grpo_theory.figures.cache import fingerprint
from grpo_theory.figures.paths import DATA_DIR, REPO_ROOT, RESULTS
from grpo_theory.llm.summary import mean_std as _mean_std

QUICK_DIR = DATA_DIR / "quick"
SOURCES = (("", "CPU"), ("full", "CPU"), ("gpu", "GPU"), ("quick", "quick preset"))
HEADLINE_ORDER = ("16-GRPO", "2-GRPO", "2-GRPO (8eta)", "2-GRPO+RS", "online DPO", "2-GRPO random reward")


def _label(d: Path, where: str) -> str:
    """``"<preset> preset, <where>"`` from the experiment's summary.json (the preset that made the results)."""
    try:
        summary = json.loads((d / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {}
    preset = summary.get("preset")
    # Results made before the headline protocol (tuned lrs, warm-up, dense evaluation) have no "arms".
    era = "" if "arms" in summary or summary.get("experiment") != "headline" else ", earlier protocol"
    return f"{preset} preset, {where}{era}" if preset else where


def _finished_runs(d: Path) -> int:
    return len(list((d / "runs").glob("*.json"))) if (d / "runs").is_dir() else 0


def find_results(experiment: str) -> tuple[Path | None, str]:
    """``(directory, preset label)`` of the preferred results of ``experiment``, or ``(None, "")``.

    A directory counts when it has ``summary.json``; one whose experiment is still running (finished
    runs but no summary yet) is used too when nothing complete exists, labelled "partial".
    """
    for sub, label in SOURCES:
        d = RESULTS / sub / experiment if sub else RESULTS / experiment
        if (d / "summary.json").is_file():
            return d, _label(d, label)
    for sub, label in SOURCES:
        d = RESULTS / sub / experiment if sub else RESULTS / experiment
        n = _finished_runs(d)
        if n:
            return d, f"{label}, partial: {n} finished runs"
    d = QUICK_DIR / experiment
    if (d / "summary.json").is_file():
        return d, "quick (run by make figures)"
    return None, ""


def ensure_results(experiment: str, *, allow_run: bool = True) -> tuple[Path | None, str]:
    """:func:`find_results`, running the quick preset into ``paper_figures/data/quick`` when nothing exists."""
    d, label = find_results(experiment)
    if d is not None or not allow_run:
        return d, label
    from grpo_theory.llm.experiment import run_experiment
    from grpo_theory.llm.presets import PRESETS

    out = QUICK_DIR / experiment
    print(f"no committed results/{experiment}: running the quick preset into {out.relative_to(REPO_ROOT)}")
    run_experiment(experiment, PRESETS["quick"], out=out, progress=False, log=lambda *a, **k: None)
    return find_results(experiment)


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


def _k_from_config(d: Path) -> int:
    """The evaluation's k from the experiment's ``config.json`` (0 if unknown)."""
    try:
        runs = json.loads((d / "config.json").read_text()).get("runs", {})
        return int(next(iter(runs.values())).get("eval_k", 0))
    except (OSError, ValueError, StopIteration, AttributeError):
        return 0


def load_summary(d: Path) -> dict[str, Any]:
    """``summary.json``, or the same table made by the experiment's own ``summarize`` from finished runs."""
    if (d / "summary.json").is_file():
        return read_json(d / "summary.json")
    from grpo_theory.llm.experiment import reference_of
    from grpo_theory.llm.summary import summarize

    results: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((d / "runs").glob("*.json")):
        res = read_json(path)
        results.setdefault(res.get("name") or path.stem, []).append(res)
    experiment = d.name
    ref = reference_of(experiment, list(results))
    return summarize(results, ref if ref in results else None)


def experiment_config(experiment: str, *, allow_run: bool = True) -> dict[str, Any]:
    """The cache key of a figure built from ``experiment``: where its results are and a content hash."""
    d, label = ensure_results(experiment, allow_run=allow_run)
    return {
        "code": fingerprint([Path(__file__)]),
        "experiment": experiment,
        "dir": str(d.relative_to(REPO_ROOT)) if d is not None else None,
        "label": label,
        "fingerprint": fingerprint(source_files(d)),
    }


# ---------------------------------------------------------------------------------------------- reading


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """:func:`grpo_theory.artifacts.read_jsonl`: one policy for a torn last line everywhere."""
    return read_jsonl(path)


def load_runs(d: Path) -> dict[str, list[dict[str, Any]]]:
    """method -> one dict per seed: ``result`` (the run's JSON) and ``log`` (its JSONL records)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for res_path in sorted((d / "runs").glob("*.json")):
        res = read_json(res_path)
        log_path = res_path.with_suffix(".jsonl")
        log = _read_jsonl(log_path) if log_path.is_file() else []
        name = res.get("name") or res.get("config", {}).get("name") or res_path.stem
        # The file name <method slug>_s<seed> decides the method: a run can be shared between experiments
        # (the ablation's G=16 is the headline's 16-GRPO run, which keeps its own name inside).
        stem_method = res_path.stem.rsplit("_s", 1)[0]
        if re.sub(r"[^A-Za-z0-9.=-]+", "_", name).strip("_") != stem_method:
            name = stem_method
        runs.setdefault(name, []).append({"seed": res.get("config", {}).get("seed"), "result": res, "log": log})
    for name in runs:
        runs[name].sort(key=lambda r: (r["seed"] is None, r["seed"]))
    return runs


def mean_std(xs: list[float]) -> tuple[float, float]:
    """:func:`grpo_theory.llm.summary.mean_std` over the entries that exist (None and NaN skipped)."""
    return _mean_std([float(x) for x in xs if x is not None and not math.isnan(float(x))])


def eval_points(log: list[dict[str, Any]], metric: str) -> list[dict[str, float]]:
    """The evaluation records of one run: step, rollouts, train minutes, the metric (step 0 = start)."""
    pts = []
    for r in log:
        if metric in r:
            pts.append({
                "step": r.get("step", 0),
                "rollouts": float(r.get("count/rollouts", 0.0)),
                "minutes": float(r.get("time/train_total", 0.0)) / 60.0,
                "cpu_minutes": float(r.get("cpu/train_total", 0.0)) / 60.0,
                "y": float(r[metric]),
            })
    return pts


def curve_over_seeds(runs: list[dict[str, Any]], metric: str) -> dict[str, list[float]]:
    """Mean x and mean ± std y over seeds, aligned by evaluation index."""
    per_seed = [eval_points(r["log"], metric) for r in runs]
    n = min((len(p) for p in per_seed), default=0)
    out: dict[str, list[float]] = {k: [] for k in ("step", "rollouts", "minutes", "cpu_minutes", "mean", "std")}
    for i in range(n):
        pts = [p[i] for p in per_seed]
        for k in ("step", "rollouts", "minutes", "cpu_minutes"):
            out[k].append(sum(pt[k] for pt in pts) / len(pts))
        m, s = mean_std([pt["y"] for pt in pts])
        out["mean"].append(m)
        out["std"].append(s)
    out["seeds"] = [float(len(per_seed))]
    return out


def _metric(runs: dict[str, list[dict[str, Any]]]) -> str:
    """The curve metric: Mean@k if the evaluations have it, else greedy accuracy."""
    for rs in runs.values():
        for r in rs:
            if any("eval/mean_at_k" in rec for rec in r["log"]):
                return "eval/mean_at_k"
    return "eval/greedy_acc"


def _eval_k(runs: dict[str, list[dict[str, Any]]]) -> int:
    for rs in runs.values():
        for r in rs:
            k = r["result"].get("final_eval", {}).get("eval/k") or r["result"].get("config", {}).get("eval_k")
            if k:
                return int(k)
    return 0


def _ordered(names, order=HEADLINE_ORDER) -> list[str]:
    def key(n: str):
        m = re.match(r"G=(\d+)", n)
        return (order.index(n) if n in order else len(order), int(m.group(1)) if m else 0, n)

    return sorted(names, key=key)


def _header(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"experiment": cfg["experiment"], "dir": cfg["dir"], "label": cfg["label"]}


def _two_points(row: dict[str, Any], metric: str) -> dict[str, list[float]]:
    """Start (step 0) and final point of one method's ``summary.json`` row."""
    return {"step": [0.0, float(row["steps"][0])], "rollouts": [0.0, float(row["rollouts"][0])],
            "minutes": [0.0, float(row["train_seconds"][0]) / 60.0],
            "cpu_minutes": [0.0, float(row["train_cpu_seconds"][0]) / 60.0],
            "mean": [float(row[f"start_{metric}"]), float(row[metric][0])], "std": [0.0, float(row[metric][1])],
            "seeds": [float(row.get("n", 1))]}


def _curves_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Start and final point of each method from ``summary.json`` alone (when the per-run logs are absent)."""
    methods = {name: {"curve": _two_points(summary["methods"][name], "mean_at_k"),
                      "greedy": _two_points(summary["methods"][name], "greedy_acc")}
               for name in _ordered(summary.get("methods", {}))}
    return {"metric": "eval/mean_at_k", "k": summary.get("k") or 0, "methods": methods, "from_summary": True}


# ------------------------------------------------------------------------------------------------ F6 / F8


def training_curves(cfg: dict[str, Any]) -> dict[str, Any]:
    """F6: held-out accuracy vs training wall-clock and vs rollouts, per method, mean ± std over seeds."""
    out = _header(cfg)
    if cfg["dir"] is None:
        return {**out, "methods": {}}
    runs = load_runs(REPO_ROOT / cfg["dir"])
    if not runs:
        d = REPO_ROOT / cfg["dir"]
        return {**out, **_curves_from_summary(load_summary(d)), "k": _k_from_config(d)}
    metric = _metric(runs)
    out.update({"metric": metric, "k": _eval_k(runs), "methods": {}})
    for name in _ordered(runs):
        out["methods"][name] = {
            "curve": curve_over_seeds(runs[name], metric),
            "greedy": curve_over_seeds(runs[name], "eval/greedy_acc"),
        }
    return out


def pass_at_k(cfg: dict[str, Any]) -> dict[str, Any]:
    """F8: final Pass@k vs k per method (k = 1 is Mean@k, the unbiased Pass@1), mean ± std over seeds.

    Uses every ``eval/pass_at_<k>`` key the evaluation stores, plus ``eval/mean_at_k`` (k = 1) and
    ``eval/pass_at_k`` (k = ``eval/k``); the start checkpoint is included as its own row.
    """
    out = _header(cfg)
    if cfg["dir"] is None:
        return {**out, "methods": {}}
    runs = load_runs(REPO_ROOT / cfg["dir"])
    if not runs:  # summary.json only: Mean@k (k = 1) and Pass@k at the evaluation's k
        summary = load_summary(REPO_ROOT / cfg["dir"])
        k = _k_from_config(REPO_ROOT / cfg["dir"]) or 8
        out["methods"] = {}
        for name in _ordered(summary.get("methods", {})):
            row = summary["methods"][name]
            out["methods"][name] = {"k": [1, k], "mean": [row["mean_at_k"][0], row["pass_at_k"][0]],
                                    "std": [row["mean_at_k"][1], row["pass_at_k"][1]], "n": [row["n"], row["n"]]}
        if summary.get("methods"):
            first = next(iter(summary["methods"].values()))
            out["methods"]["start checkpoint"] = {"k": [1, k], "mean": [first["start_mean_at_k"], first["start_pass_at_k"]],
                                                  "std": [0.0, 0.0], "n": [1, 1]}
        out["greedy"] = {n: tuple(r["greedy_acc"]) for n, r in summary.get("methods", {}).items()}
        out["from_summary"] = True
        return out

    def points(ev: dict[str, Any]) -> dict[int, float]:
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

    rows: dict[str, dict[int, list[float]]] = {}
    starts: dict[Any, dict[str, Any]] = {}  # one start evaluation per seed (all methods share it)
    for name in _ordered(runs):
        for r in runs[name]:
            for kk, v in points(r["result"].get("final_eval", {})).items():
                rows.setdefault(name, {}).setdefault(kk, []).append(v)
            starts.setdefault(r["seed"], r["result"].get("start_eval", {}))
    for ev in starts.values():
        for kk, v in points(ev).items():
            rows.setdefault("start checkpoint", {}).setdefault(kk, []).append(v)
    out["methods"] = {}
    for name, by_k in rows.items():
        ks = sorted(by_k)
        stats = [mean_std(by_k[k]) for k in ks]
        out["methods"][name] = {"k": ks, "mean": [m for m, _ in stats], "std": [s for _, s in stats],
                                "n": [len(by_k[k]) for k in ks]}
    greedy = {}
    for name in _ordered(runs):
        greedy[name] = mean_std([r["result"].get("final_eval", {}).get("eval/greedy_acc") for r in runs[name]])
    out["greedy"] = greedy
    return out


# ------------------------------------------------------------------------------------------------ F7


def group_size_ablation(cfg: dict[str, Any]) -> dict[str, Any]:
    """F7: final Mean@k, Pass@k and greedy accuracy vs G (per seed and mean ± std), and v3 Table 4."""
    from grpo_theory.paper import V3_TABLE4

    out = _header(cfg)
    paper: dict[str, dict[str, list[float]]] = {}
    for row in V3_TABLE4:
        m = re.fullmatch(r"(\d+)", str(row.method))
        if m and row.prompts == 32:
            key = f"{row.model} / {row.dataset}"
            d = paper.setdefault(key, {"G": [], "mean32": [], "pass32": []})
            d["G"].append(int(m.group(1)))
            d["mean32"].append(row.avg[0])
            d["pass32"].append(row.avg[1])
    out["paper"] = paper
    out["G"], out["metrics"] = [], {}
    if cfg["dir"] is None:
        return out
    runs = load_runs(REPO_ROOT / cfg["dir"])
    out["k"] = _eval_k(runs)
    if not runs:  # summary.json only: means and stds, no per-seed dots
        summary = load_summary(REPO_ROOT / cfg["dir"])
        out["k"] = _k_from_config(REPO_ROOT / cfg["dir"])
        for name in _ordered(summary.get("methods", {})):
            m = re.fullmatch(r"G=(\d+)", name)
            if not m:
                continue
            row = summary["methods"][name]
            out["G"].append(int(m.group(1)))
            for metric in ("mean_at_k", "pass_at_k", "greedy_acc"):
                d = out["metrics"].setdefault(metric, {"per_seed": [], "mean": [], "std": []})
                d["per_seed"].append([])
                d["mean"].append(row[metric][0])
                d["std"].append(row[metric][1])
            out.setdefault("start_mean_at_k", row.get("start_mean_at_k", math.nan))
            out.setdefault("rollouts", []).append(row["rollouts"][0])
        out["from_summary"] = True
        return out
    for name in _ordered(runs):
        m = re.fullmatch(r"G=(\d+)", name)
        if not m:
            continue
        out["G"].append(int(m.group(1)))
        for metric in ("mean_at_k", "pass_at_k", "greedy_acc"):
            vals = [r["result"].get("final_eval", {}).get(f"eval/{metric}") for r in runs[name]]
            d = out["metrics"].setdefault(metric, {"per_seed": [], "mean": [], "std": []})
            d["per_seed"].append([float(v) for v in vals if v is not None])
            mu, sd = mean_std(vals)
            d["mean"].append(mu)
            d["std"].append(sd)
        start = [r["result"].get("start_eval", {}).get("eval/mean_at_k") for r in runs[name]]
        out.setdefault("start_mean_at_k", mean_std(start)[0])
        out.setdefault("rollouts", []).append(mean_std([r["result"].get("rollouts") for r in runs[name]])[0])
        out.setdefault("prompts_per_step", runs[name][0]["result"].get("config", {}).get("prompts_per_step"))
    return out


# ------------------------------------------------------------------------------------------------ F9


def discard_files() -> list[Path]:
    d = RESULTS / "realcheck" / "discard_rate"
    return sorted(d.rglob("result.json")) if d.is_dir() else []


def f9_config(*, allow_run: bool = True) -> dict[str, Any]:
    files = discard_files()
    cfg: dict[str, Any] = {"realcheck": [str(f.relative_to(REPO_ROOT)) for f in files], "realcheck_fp": fingerprint(files)}
    cfg["headline"] = experiment_config("headline", allow_run=allow_run)
    return cfg


def discard_rate(cfg: dict[str, Any]) -> dict[str, Any]:
    """F9: measured zero-signal fraction of 2-GRPO per step vs the formulas, and the paper's Table 3.

    * realcheck (if present): measured fraction with its binomial se, the per-prompt prediction
      E_q[p_q² + (1−p_q)²] (unbiased from fresh rollouts), the r̄-formula r̄² + (1−r̄)² (Jensen: a lower
      bound) and the printed 1 − r̄² − (1−r̄)²;
    * headline 2-GRPO runs: measured fraction per step (mean ± std over seeds) and the r̄-formula from
      the same step's training reward.
    """
    from grpo_theory.paper import V3_TABLE3_DISCARD
    from grpo_theory.theory import zero_signal_probability

    out: dict[str, Any] = {"paper": {"step": list(V3_TABLE3_DISCARD), "p_discard": list(V3_TABLE3_DISCARD.values())},
                           "realcheck": [], "headline": {}}
    for rel in cfg["realcheck"]:
        res = json.loads((REPO_ROOT / rel).read_text())
        rows = res.get("steps", [])
        model = str(res.get("config", {}).get("model", rel))
        out["realcheck"].append({
            "model": Path(model).name or model,
            "file": rel,
            **{k: [r.get(k) for r in rows] for k in ("step", "measured", "measured_se", "expected_per_prompt",
                                                      "expected_per_prompt_se", "rbar_formula", "printed_formula",
                                                      "train_reward")},
            "summary": res.get("summary", {}),
        })
    h = cfg["headline"]
    out["headline_label"] = h["label"]
    if h["dir"] is not None:
        runs = load_runs(REPO_ROOT / h["dir"])
        for name in ("2-GRPO", "online DPO"):
            if name not in runs:
                continue
            per_seed = [[r for r in run["log"] if "train/zero_signal_frac" in r] for run in runs[name]]
            n = min(len(p) for p in per_seed)
            steps, meas, meas_sd, formula = [], [], [], []
            for i in range(n):
                recs = [p[i] for p in per_seed]
                steps.append(recs[0]["step"])
                m, s = mean_std([r["train/zero_signal_frac"] for r in recs])
                meas.append(m)
                meas_sd.append(s)
                formula.append(mean_std([float(zero_signal_probability(2, r["train/reward"])) for r in recs])[0])
            out["headline"][name] = {"step": steps, "measured": meas, "measured_std": meas_sd, "rbar_formula": formula,
                                     "seeds": len(per_seed)}
    return out


# ------------------------------------------------------------------------------------------------ T1


def headline_table(cfg: dict[str, Any]) -> dict[str, Any]:
    """T1: retention, rollouts and wall-clock of each method relative to 16-GRPO, this project vs the paper.

    Ours: ratios of seed means (as ``summary.json``), with the std over seeds of the per-seed ratios
    (method seed s / 16-GRPO seed s). Paper: the recomputed headlines of :mod:`grpo_theory.paper`.
    """
    from grpo_theory.paper import V3_TABLE1, headlines

    h = headlines()
    # 2-GRPO+RS in v3 Table 1: grand-average retention and summed-hours time fraction (as for 2-GRPO).
    tot = {m: [0.0, 0.0] for m in ("16", "2", "2+RS")}
    for row in V3_TABLE1:
        if row.method in tot:
            tot[row.method][0] += row.avg
            tot[row.method][1] += row.time_h or 0.0
    paper = {
        "2-GRPO": {"retention": 100 * h["v3_mean_retention"], "rollouts": 100 * h["rollout_fraction"],
                   "time": 100 * h["v3_time_fraction"]},
        "2-GRPO+RS": {"retention": 100 * tot["2+RS"][0] / tot["16"][0], "rollouts": math.nan,
                      "time": 100 * tot["2+RS"][1] / tot["16"][1]},
    }
    sources = cfg["sources"] if "sources" in cfg else [cfg]
    return {"paper": paper, "sources": [_source_rows(src) for src in sources]}


def t1_config(*, allow_run: bool = True) -> dict[str, Any]:
    """T1 lists every complete headline result (``full`` CPU and ``gpu``); else the one figures use."""
    code = fingerprint([Path(__file__)])
    sources = []
    for sub, label in SOURCES[:3]:
        d = RESULTS / sub / "headline" if sub else RESULTS / "headline"
        if (d / "summary.json").is_file():
            sources.append({"experiment": "headline", "dir": str(d.relative_to(REPO_ROOT)), "label": _label(d, label),
                            "fingerprint": fingerprint(source_files(d))})
    if not sources:
        sources.append(experiment_config("headline", allow_run=allow_run))
    return {"code": code, "sources": sources}


def _source_rows(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {**_header(cfg), "rows": {}}
    if cfg["dir"] is None:
        return out
    d = REPO_ROOT / cfg["dir"]
    summary = load_summary(d)
    runs = load_runs(d)
    ref = summary.get("reference", "16-GRPO")
    ref_by_seed = {r["seed"]: r["result"] for r in runs.get(ref, [])}
    out["reference"] = ref
    out["k"] = _eval_k(runs)
    for name in _ordered(summary["methods"]):
        row = summary["methods"][name]
        per_seed: dict[str, list[float]] = {"retention": [], "rollouts": [], "time": [], "cpu_time": []}
        for r in runs.get(name, []):
            rr = ref_by_seed.get(r["seed"])
            if rr is None:
                continue
            res = r["result"]
            per_seed["retention"].append(100 * res["final_eval"]["eval/mean_at_k"] / rr["final_eval"]["eval/mean_at_k"])
            per_seed["rollouts"].append(100 * res["rollouts"] / rr["rollouts"])
            per_seed["time"].append(100 * res["train_seconds"] / rr["train_seconds"])
            per_seed["cpu_time"].append(100 * res["train_cpu_seconds"] / rr["train_cpu_seconds"])
        out["rows"][name] = {
            "seeds": row.get("n"),
            "mean_at_k": row.get("mean_at_k"),
            "greedy_acc": row.get("greedy_acc"),
            "pass_at_k": row.get("pass_at_k"),
            "start_mean_at_k": row.get("start_mean_at_k"),
            "retention": row.get("retention_mean_at_k"),
            "gain_retention": row.get("gain_retention_mean_at_k"),
            "rollouts_pct": row.get("rollouts_pct"),
            "time_pct": row.get("time_pct"),
            "cpu_time_pct": row.get("cpu_time_pct"),
            "discard": row.get("discard_frac"),
            "std": {k: mean_std(v)[1] for k, v in per_seed.items()},
            "steps": (row.get("steps") or [None])[0],
            # 95% intervals of the paired two-way bootstrap, when the runs carry per-problem outcomes
            "ci": {k: (summary.get("arms", {}).get(name, {}).get(k) or {}).get("ci95")
                   for k in ("retention", "gain_retention")},
            "paper_claim": (summary.get("arms", {}).get(name, {}).get("paper_claim") or {}).get("verdict"),
        }
    return out
