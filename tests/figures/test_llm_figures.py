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
    log, rollouts, t = [{"step": 0, "eval/greedy_acc": 0.4, "eval/mean_at_k": 0.35,
                         "eval/pass_at_k": 0.7}], 0, 0.0
    for s in range(1, steps + 1):
        rollouts += 8 * G
        t += 0.5 * G
        rec = {"step": s, "train/reward": 0.4 + 0.05 * s, "train/zero_signal_frac": 0.5 + 0.02 * s,
               "count/rollouts": rollouts, "time/train_total": t, "cpu/train_total": 2 * t}
        if s % 2 == 0:
            acc = 0.35 + quality * 0.05 * s + 0.01 * seed
            rec.update({"eval/greedy_acc": acc + 0.05, "eval/mean_at_k": acc,
                        "eval/pass_at_k": min(1.0, acc + 0.3)})
        log.append(rec)
    final = {k: v for k, v in log[-1].items() if k.startswith("eval/")} | {"eval/k": 4}
    result = {"name": name, "config": {"seed": seed, "eval_k": 4}, "rollouts": rollouts, "train_seconds": t,
              "train_cpu_seconds": 2 * t, "steps": steps, "discard_frac": 0.3,
              "final_eval": final,
              "start_eval": {k: v for k, v in log[0].items() if k.startswith("eval/")} | {"eval/k": 4}}
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


def test_pass_at_k(headline_cfg, tmp_path):
    pk = data.pass_at_k(headline_cfg)
    assert list(pk["methods"]) == [*HEADLINE, "start checkpoint"]
    assert pk["methods"]["16-GRPO"]["k"] == [1, 4] and pk["methods"]["16-GRPO"]["n"] == [2, 2]
    # 2-GRPO's final Mean@k: 0.35 + 0.97 * 0.05 * 4 + 0.01 * seed, averaged over seeds 0 and 1
    assert math.isclose(pk["methods"]["2-GRPO"]["mean"][0], 0.35 + 0.97 * 0.2 + 0.005)
    assert pk["methods"]["start checkpoint"]["mean"] == [0.35, 0.7]
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
    dr = data.discard_rate({"realcheck": [], "headline": {"experiment": "headline", "dir": str(h),
                                                          "label": "synthetic"}})
    assert len(dr["headline"]["2-GRPO"]["step"]) == 4 and dr["paper"]["step"][0] == 10
    assert plots.plot_discard_rate(dr, tmp_path / "F9")[0].is_file()


def test_plots_render_without_results(tmp_path):
    empty = {"experiment": "headline", "dir": None, "label": ""}
    plots.plot_pass_at_k(data.pass_at_k(empty), tmp_path / "b")
    plots.write_headline_table(data.headline_table(empty), tmp_path / "c")
    plots.plot_group_size_ablation(data.group_size_ablation({**empty, "experiment": "ablation"}),
                                   tmp_path / "d")


def test_summary_only_results_give_the_same_end_points(headline_cfg, tmp_path):
    """``runs/`` may be absent from a checkout: F8 and T1 then fall back to ``summary.json``."""
    import shutil
    from pathlib import Path

    full, t1 = data.pass_at_k(headline_cfg), data.headline_table(headline_cfg)
    d = Path(headline_cfg["dir"])
    (d / "config.json").write_text(json.dumps({"runs": {"16-GRPO": {"eval_k": 4}}}))
    shutil.rmtree(d / "runs")
    only = data.pass_at_k(headline_cfg)
    assert only["from_summary"] and only["methods"]["2-GRPO"]["k"] == [1, 4]
    for name, m in full["methods"].items():
        assert only["methods"][name]["mean"] == pytest.approx(m["mean"]), name
    rows, rows_only = t1["sources"][0]["rows"], data.headline_table(headline_cfg)["sources"][0]["rows"]
    pct, pct_only = ({n: r["rollouts_pct"] for n, r in rs.items()} for rs in (rows, rows_only))
    assert pct == pct_only
    assert plots.plot_pass_at_k(only, tmp_path / "F8")[0].is_file()


def test_the_notebook_view_of_the_runs(headline_cfg):
    """``load_runs``: the plain-dict view of :func:`grpo_theory.llm.runlog.read_runs` notebook 04 reads."""
    from pathlib import Path

    runs = data.load_runs(Path(headline_cfg["dir"]))
    assert sorted(runs) == sorted(HEADLINE) and [r["seed"] for r in runs["2-GRPO+RS"]] == [0, 1]
    assert runs["2-GRPO"][1]["result"]["config"]["seed"] == 1 and runs["2-GRPO"][1]["log"][-1]["step"] == 4
