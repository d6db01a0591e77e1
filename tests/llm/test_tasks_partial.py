"""The partial-credit addition reward: fraction of answer digits in place; 1 iff exact."""

from __future__ import annotations

import random

import pytest

from grpo_theory.llm.tasks import AdditionTask, eval_problems, make_task


@pytest.mark.parametrize(("completion", "reward"), [
    ("0022", 1.0), (" 0022\n", 1.0), ("0023", 0.75), ("9922", 0.5), ("", 0.0), ("00", 0.5),
    ("00220", 0.75),  # an extra character: never full credit
    ("x", 0.0),
])
def test_partial_reward_hand_values(completion, reward):
    task = make_task("addition_partial")
    p = task.make(5, 17)  # 005+017= -> 0022
    assert task.reward(p, completion) == reward


def test_same_problems_as_addition_and_exact_iff_one():
    a, b = make_task("addition"), make_task("addition_partial")
    prompts_a = [p.prompt for p in a.sample(random.Random(3), 50)]
    assert prompts_a == [p.prompt for p in b.sample(random.Random(3), 50)]
    assert [p.prompt for p in eval_problems(a, 20, 0)] == [p.prompt for p in eval_problems(b, 20, 0)]
    rng = random.Random(0)
    for p in b.sample(rng, 200):
        text = "".join(rng.choice([c, "0", "9"]) for c in p.answer)
        assert (b.reward(p, text) == 1.0) == (AdditionTask().reward(p, text) == 1.0)
