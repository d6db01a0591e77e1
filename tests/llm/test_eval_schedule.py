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


def test_random_reward_control_ignores_correctness(tmp_path):
    """reward_mode='random': rewards are coin flips at the given rate, whatever the completions are."""
    import random

    import torch

    from grpo_theory.llm.trainer import Timer, generate_groups

    cfg = micro_cfg(tmp_path, reward_mode="random", random_reward_rate=0.25, group_size=8)
    task = EvenStartTask()
    problems = task.sample(random.Random(0), 64)
    cpu = torch.device("cpu")
    _, r1 = generate_groups(micro_policy(), task, problems, cfg, 123, Timer(cpu), cpu)
    _, r2 = generate_groups(micro_policy(seed=1), task, problems, cfg, 123, Timer(cpu), cpu)
    assert (r1 == r2).all()  # another policy (other completions), the same seed: the same rewards
    # 512 coin flips at 0.25: the mean within 4 standard errors (sd = sqrt(.25 * .75 / 512) = 0.019)
    assert abs(float(r1.mean()) - 0.25) < 4 * (0.25 * 0.75 / 512) ** 0.5
    with pytest.raises(ValueError, match="reward_mode"):
        TrainConfig(reward_mode="noise")
