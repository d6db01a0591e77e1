"""Dense evaluation: ``eval_steps`` adds evaluation points at chosen optimizer steps."""

from __future__ import annotations

import json

import pytest

from grpo_theory.llm.config import TrainConfig
from grpo_theory.llm.trainer import train
from tests.llm.test_trainer import EvenStartTask, micro_cfg, micro_policy


def test_eval_steps_adds_evaluation_points(tmp_path):
    cfg = micro_cfg(tmp_path, eval_size=4, eval_k=2, eval_steps="1,3", eval_at_start=True)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    lines = [json.loads(s) for s in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    evaluated = [r["step"] for r in lines if "eval/mean_at_k" in r]
    assert evaluated == [0, 1, 3, cfg.total_steps]
    last = next(r for r in reversed(lines) if "eval/mean_at_k" in r)
    assert len(last["problems/greedy"]) == len(last["problems/correct"]) == 4


@pytest.mark.parametrize("bad", ["0", "a,2", "3,-1"])
def test_eval_steps_rejects_non_positive_or_non_integer(bad):
    with pytest.raises(ValueError, match="eval_steps"):
        TrainConfig(eval_steps=bad)
