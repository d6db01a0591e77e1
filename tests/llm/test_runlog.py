"""RunLog reads a run's result and log once: its accessors on a small synthetic run of the documented
layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grpo_theory.artifacts import CorruptFileError
from grpo_theory.llm.runlog import RunLog, read_runs, slug

RESULT = {"name": "2-GRPO+RS", "config": {"seed": 3, "eval_k": 4, "eval_split": "test"},
          "rollouts": 96, "steps": 3, "train_seconds": 1.5, "train_cpu_seconds": 3.0, "discard_frac": 0.25,
          "final_eval": {"eval/mean_at_k": 0.75, "eval/k": 4.0, "eval/n_samples": 4.0,
                         "problems/correct": [4, 2, 3]},
          "start_eval": {"eval/mean_at_k": 0.25, "eval/greedy_acc": 0.5}}
RECORDS = [
    {"step": 0, "eval/mean_at_k": 0.25, "eval/n_samples": 4.0, "problems/correct": [1, 1, 1]},
    {"step": 1, "count/rollouts": 32, "cpu/update": 1.0, "cpu/gen": 0.5, "cpu/eval": 9.0,
     "train/zero_signal_frac": 0.5, "train/reward": 0.4},
    {"step": 2, "count/rollouts": 64, "cpu/update": 1.0, "cpu/gen": 0.5, "cpu/kl_log": 7.0,
     "train/zero_signal_frac": 0.25, "train/reward": 0.5, "eval/mean_at_k": 0.5},
    {"step": 3, "count/rollouts": 96, "cpu/update": 1.0, "cpu/gen": 0.5, "eval/mean_at_k": 0.75,
     "eval/n_samples": 4.0, "problems/correct": [4, 2, 3]},
]


def _write(d, stem, result=RESULT, records=RECORDS, torn=True):
    d.mkdir(parents=True, exist_ok=True)
    if result is not None:
        (d / f"{stem}.json").write_text(json.dumps(result))
    text = "".join(json.dumps(r) + "\n" for r in records)
    (d / f"{stem}.jsonl").write_text(text + ('{"step": 4, "count/rol' if torn else ""))
    return d / f"{stem}.json"


def test_accessors_on_a_run_with_a_torn_last_line(tmp_path):
    run = RunLog.read(_write(tmp_path, "2-GRPO_RS_s3"))
    assert [r["step"] for r in run.records] == [0, 1, 2, 3]  # the half-written step 4 is dropped
    assert (run.name, run.method, run.seed, run.eval_k) == ("2-GRPO+RS", "2-GRPO+RS", 3, 4)
    assert run.final("mean_at_k") == 0.75 and run.start("greedy_acc") == 0.5
    assert run.final("pass_at_k") is None
    assert run.final("pass_at_k", float("nan")) != run.final("pass_at_k", float("nan"))  # the default: NaN
    assert [run.cost(k) for k in ("rollouts", "steps", "train_cpu_seconds")] == [96, 3, 3.0]
    np.testing.assert_array_equal(run.final_scores, [1.0, 0.5, 0.75])
    assert run.start_scores is None  # no per-problem outcomes in that evaluation
    assert [r["step"] for r in run.with_key("train/zero_signal_frac")] == [1, 2] and run.has("cpu/gen")
    with pytest.raises(KeyError, match=r"2-GRPO_RS_s3.*'wall'"):
        run.cost("wall")


def test_evaluations_count_training_cpu_only(tmp_path):
    pts = RunLog.read(_write(tmp_path, "m_s3")).evaluations()
    assert [p.step for p in pts] == [0, 2, 3] and [p.rollouts for p in pts] == [0.0, 64.0, 96.0]
    # 1.5 s of update + generation per step; cpu/eval and cpu/kl_log are not training
    assert [p.cpu for p in pts] == [0.0, 3.0, 4.5]
    assert pts[1].scores is None and pts[1].values == {"eval/mean_at_k": 0.5}
    np.testing.assert_array_equal(pts[0].scores, [0.25, 0.25, 0.25])
    assert [p.step for p in RunLog(None, RECORDS).evaluations("train/reward")] == [1, 2]


def test_evaluations_take_the_trainers_cumulative_cpu():
    """``cpu/train_total`` is already cumulative: it is read, not added to the per-phase seconds."""
    log = [{"step": s, "cpu/update": 1.0, "cpu/gen": 0.5, "cpu/eval": 9.0, "cpu/train_total": 1.5 * s,
            **({"eval/mean_at_k": 0.5} if s % 2 == 0 else {})} for s in range(1, 7)]
    assert [p.cpu for p in RunLog(None, log).evaluations()] == [3.0, 6.0, 9.0]
    without = [{k: v for k, v in r.items() if k != "cpu/train_total"} for r in log]
    assert [p.cpu for p in RunLog(None, without).evaluations()] == [3.0, 6.0, 9.0]  # the same from the phases


def test_the_file_name_decides_the_method_and_a_missing_part_is_empty(tmp_path):
    """The ablation's G=16 is the headline's 16-GRPO run, stored under its own name."""
    d = tmp_path / "runs"
    _write(d, "G=16_s1", {**RESULT, "name": "16-GRPO", "config": {"seed": 1}})
    _write(d, "G=16_s0", {**RESULT, "name": "16-GRPO", "config": {"seed": 0}}, torn=False)
    _write(d, "G=2_s0", {**RESULT, "name": "G=2", "config": {"seed": 0}})
    runs = read_runs(d)
    assert list(runs) == ["G=16", "G=2"] and [r.seed for r in runs["G=16"]] == [0, 1]
    log_only = RunLog.read(_write(tmp_path / "live", "2-GRPO_s7", result=None))
    assert (log_only.seed, log_only.method, log_only.result, log_only.eval_k) == (7, "2-GRPO", {}, 0)
    assert RunLog.of(RESULT).final("mean_at_k") == 0.75 and RunLog.of(RECORDS).records[0]["step"] == 0
    assert slug("2-GRPO (8eta)") == "2-GRPO_8eta" and slug("online DPO") == "online_DPO"


def test_a_log_broken_before_its_last_line_is_an_error(tmp_path):
    _write(tmp_path, "m_s0", torn=False)
    p = tmp_path / "m_s0.jsonl"
    lines = p.read_text().splitlines()
    p.write_text("\n".join([lines[0], '{"step": 1, "x', *lines[1:]]) + "\n")
    with pytest.raises(CorruptFileError, match=r"m_s0\.jsonl is corrupt: line 2"):
        RunLog.read(tmp_path / "m_s0.json")
