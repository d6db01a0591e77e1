"""F6 (dense curves with bootstrap bands) and F10 (lr sweep) from synthetic results of the documented
layout."""

from __future__ import annotations

import json

import numpy as np

from grpo_theory.figures.data import headline as data
from grpo_theory.figures.plots import headline as plots


def _log(seed: int, steps: int, quality: float, n: int = 20) -> list[dict]:
    rng = np.random.default_rng(seed)
    log, cpu = [], 0.0
    for s in range(steps + 1):
        rec = {"step": s, "count/rollouts": 64.0 * s, "cpu/update": 0.0 if s == 0 else 1.0, "cpu/eval": 5.0}
        if s in (0, steps // 2, steps):
            correct = rng.binomial(8, min(0.9, 0.3 + quality * s / steps), size=n)
            rec.update({"eval/mean_at_k": float(correct.mean() / 8), "eval/n_samples": 8.0, "eval/k": 8.0,
                        "problems/correct": correct.tolist()})
        cpu += rec["cpu/update"]
        log.append(rec)
    return log


def _write(tmp_path):
    d = tmp_path / "headline"
    (d / "runs").mkdir(parents=True)
    for name, slug, steps, q in (("16-GRPO", "16-GRPO", 16, 0.4), ("2-GRPO", "2-GRPO", 2, 0.3)):
        for seed in (0, 1, 2):
            log = _log(seed, steps, q)
            res = {"name": name, "config": {"seed": seed}, "final_eval": {"eval/k": 8.0}}
            (d / "runs" / f"{slug}_s{seed}.json").write_text(json.dumps(res))
            (d / "runs" / f"{slug}_s{seed}.jsonl").write_text("\n".join(json.dumps(r) for r in log) + "\n")
    return d


def test_headline_curves_have_bootstrap_bands(tmp_path):
    d = _write(tmp_path)
    out = data.headline_curves({"experiment": "headline", "dir": str(d), "label": "synthetic"}, n_boot=200)
    c16, c2 = out["methods"]["16-GRPO"], out["methods"]["2-GRPO"]
    assert c16["step"] == [0.0, 8.0, 16.0] and c2["step"] == [0.0, 1.0, 2.0]
    # cumulative training CPU: 1 s per step, evaluation excluded
    assert c16["cpu_seconds"] == [0.0, 8.0, 16.0]
    assert c16["band"].startswith("bootstrap") and c16["seeds"] == 3
    assert all(lo <= m <= hi for lo, m, hi in zip(c16["lo"], c16["mean"], c16["hi"], strict=True))
    assert out["k"] == 8
    paths = plots.plot_headline_curves(out, tmp_path / "F6")
    assert all(p.exists() for p in paths)


def test_lr_sweep_figure(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    summary = {"preset": "full", "methods": {"2-GRPO lr=0.0001": {"steps": [80, 0]}},
               "sweep": {"2-GRPO": {"lrs": [1e-4, 8e-4], "score": [0.5, 0.4], "se": [0.02, 0.02], "n": [1,
                                                                                                        1]}},
               "selected": {"2-GRPO": 1e-4}}
    (sweep / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setattr(data, "REPO_ROOT", tmp_path)
    out = data.lr_sweep({"dir": "sweep"})
    assert out["selected"] == {"2-GRPO": 1e-4} and out["steps"] == {"2-GRPO lr=0.0001": 80}
    assert all(p.exists() for p in plots.plot_lr_sweep(out, tmp_path / "F10"))
    empty = data.lr_sweep({"dir": "missing"})
    assert empty["methods"] == {} and plots.plot_lr_sweep(empty, tmp_path / "F10e")
