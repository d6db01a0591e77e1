"""The LLM figures (F6-F9, T1) read a results directory of the documented layout and render.

A synthetic ``results/<experiment>`` (two seeds, the four headline methods or G = 2..16) is written
to a temporary directory with the same files the experiment writes: ``runs/<method>_s<seed>.json``,
``runs/<method>_s<seed>.jsonl`` and ``summary.json`` (made by the experiment's own ``summarize``).
"""

from __future__ import annotations

import json
import math

import pytest

from grpo_theory.figures.data import llm as data
from grpo_theory.figures.plots import llm as plots
from grpo_theory.llm.summary import summarize

HEADLINE = {"16-GRPO": (16, 1.0), "2-GRPO": (2, 0.97), "2-GRPO+RS": (2, 1.0), "online DPO": (2, 0.95)}


def _run(name, G, seed, quality, steps=4):
    log, rollouts, t = [{"step": 0, "eval/greedy_acc": 0.4, "eval/mean_at_k": 0.35, "eval/pass_at_k": 0.7}], 0, 0.0
    for s in range(1, steps + 1):
        rollouts += 8 * G
        t += 0.5 * G
        rec = {"step": s, "train/reward": 0.4 + 0.05 * s, "train/zero_signal_frac": 0.5 + 0.02 * s,
               "count/rollouts": rollouts, "time/train_total": t, "cpu/train_total": 2 * t}
        if s % 2 == 0:
            acc = 0.35 + quality * 0.05 * s + 0.01 * seed
            rec.update({"eval/greedy_acc": acc + 0.05, "eval/mean_at_k": acc, "eval/pass_at_k": min(1.0, acc + 0.3)})
        log.append(rec)
    final = {k: v for k, v in log[-1].items() if k.startswith("eval/")} | {"eval/k": 4}
    result = {"name": name, "config": {"seed": seed, "eval_k": 4}, "rollouts": rollouts, "train_seconds": t,
              "train_cpu_seconds": 2 * t, "steps": steps, "discard_frac": 0.3,
              "final_eval": final, "start_eval": {k: v for k, v in log[0].items() if k.startswith("eval/")} | {"eval/k": 4}}
    return result, log


def _write(tmp_path, methods, reference):
    d = tmp_path / "results"
    (d / "runs").mkdir(parents=True)
    results = {}
    for name, (G, q) in methods.items():
        for seed in (0, 1):
            res, log = _run(name, G, seed, q)
            slug = name.replace("+", "_").replace(" ", "_")
            (d / "runs" / f"{slug}_s{seed}.json").write_text(json.dumps(res))
            (d / "runs" / f"{slug}_s{seed}.jsonl").write_text("\n".join(json.dumps(r) for r in log) + "\n")
            results.setdefault(name, []).append(res)
    (d / "summary.json").write_text(json.dumps(summarize(results, reference)))
    return d


@pytest.fixture
def headline_cfg(tmp_path):
    d = _write(tmp_path, HEADLINE, "16-GRPO")
    return {"experiment": "headline", "dir": str(d), "label": "synthetic", "fingerprint": "x"}


def test_training_curves_and_pass_at_k(headline_cfg, tmp_path):
    got = data.training_curves(headline_cfg)
    assert list(got["methods"]) == list(HEADLINE)
    curve = got["methods"]["2-GRPO"]["curve"]
    assert curve["step"] == [0, 2, 4] and curve["rollouts"] == [0, 32, 64]
    assert math.isclose(curve["mean"][-1], 0.35 + 0.97 * 0.2 + 0.005)
    assert plots.plot_training_curves(got, tmp_path / "F6")[0].stat().st_size > 1000
    pk = data.pass_at_k(headline_cfg)
    assert pk["methods"]["16-GRPO"]["k"] == [1, 4] and "start checkpoint" in pk["methods"]
    assert plots.plot_pass_at_k(pk, tmp_path / "F8")[0].is_file()


def test_headline_table_ratios(headline_cfg, tmp_path):
    t1 = data.headline_table({"sources": [headline_cfg, {**headline_cfg, "label": "second"}]})
    row = t1["sources"][0]["rows"]["2-GRPO"]
    assert math.isclose(row["rollouts_pct"], 12.5) and math.isclose(row["time_pct"], 12.5)
    assert math.isclose(t1["paper"]["2-GRPO"]["retention"], 97.6346, rel_tol=1e-4)
    md, tex = plots.write_headline_table(t1, tmp_path / "T1")
    text = md.read_text()
    assert "12.5" in text and r"\toprule" in tex.read_text()
    assert text.count("this project (second)") == len(HEADLINE)  # one row per method, reference included


def test_ablation_and_discard(tmp_path):
    d = _write(tmp_path, {f"G={g}": (g, 1.0) for g in (2, 4, 8, 16)}, "G=16")
    ab = data.group_size_ablation({"experiment": "ablation", "dir": str(d), "label": "synthetic"})
    assert ab["G"] == [2, 4, 8, 16] and len(ab["metrics"]["mean_at_k"]["per_seed"][0]) == 2
    assert "Qwen-1.5B / MATH" in ab["paper"]
    assert plots.plot_group_size_ablation(ab, tmp_path / "F7")[0].is_file()
    h = _write(tmp_path / "h", HEADLINE, "16-GRPO")
    dr = data.discard_rate({"realcheck": [], "headline": {"experiment": "headline", "dir": str(h), "label": "synthetic"}})
    assert len(dr["headline"]["2-GRPO"]["step"]) == 4 and dr["paper"]["step"][0] == 10
    assert plots.plot_discard_rate(dr, tmp_path / "F9")[0].is_file()


def test_plots_render_without_results(tmp_path):
    empty = {"experiment": "headline", "dir": None, "label": ""}
    plots.plot_training_curves(data.training_curves(empty), tmp_path / "a")
    plots.plot_pass_at_k(data.pass_at_k(empty), tmp_path / "b")
    plots.write_headline_table(data.headline_table(empty), tmp_path / "c")
    plots.plot_group_size_ablation(data.group_size_ablation({**empty, "experiment": "ablation"}), tmp_path / "d")


def test_summary_only_results_give_the_same_end_points(headline_cfg, tmp_path):
    """``runs/`` may be absent from a checkout: F6, F8 and T1 then fall back to ``summary.json``."""
    import shutil
    from pathlib import Path

    full = data.training_curves(headline_cfg)
    d = Path(headline_cfg["dir"])
    (d / "config.json").write_text(json.dumps({"runs": {"16-GRPO": {"eval_k": 4}}}))
    shutil.rmtree(d / "runs")
    only = data.training_curves(headline_cfg)
    for name, m in full["methods"].items():
        c, o = m["curve"], only["methods"][name]["curve"]
        assert math.isclose(c["mean"][-1], o["mean"][-1]) and math.isclose(c["rollouts"][-1], o["rollouts"][-1])
    assert data.pass_at_k(headline_cfg)["methods"]["2-GRPO"]["k"] == [1, 4]
    assert plots.plot_training_curves(only, tmp_path / "F6")[0].is_file()
