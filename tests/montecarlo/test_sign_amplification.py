"""R15 on a real model: a reward gap of 1e-9 gets the full ±1 under 2-GRPO (the tiny addition checkpoint)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from grpo_theory.montecarlo.sign_amplification import distance_reward, sign_amplification

TINY = Path(__file__).resolve().parents[2] / "results" / "checkpoints" / "addition-tiny-seed0"


@pytest.fixture(scope="module")
def tiny_policy():
    if not (TINY / "model.safetensors").is_file():
        pytest.skip("the tiny addition checkpoint is not in results/checkpoints")
    from grpo_theory.realcheck._common import load

    return load(str(TINY), threads=1)


def test_distance_reward_is_real_valued():
    assert distance_reward("0022", 22) == 0.0 and distance_reward(" 0025\n", 22) == pytest.approx(
        -3e-9, rel=1e-12
    )
    assert distance_reward("00x2", 22) == -1.0


def test_gap_of_1e9_gets_the_full_binary_gradient_on_the_tiny_model(tiny_policy):
    # "005+017=" has answer 0022; the completions 0022 and 0023 differ in reward by 1e-9
    completions = ("0022", "0023")
    rewards = tuple(distance_reward(c, 22) for c in completions)
    out = sign_amplification(tiny_policy, "005+017=", completions, rewards)
    assert out["gap"] == pytest.approx(1e-9, rel=1e-6)
    assert out["advantages"]["paper"] == [1.0, -1.0]  # sign(r_1 − r_2): the gap's size is gone
    # the same gradient as for binary rewards (1, 0), bit for bit
    assert out["max_abs_diff_to_binary"] == 0.0 and out["grad_norm"]["paper"] > 1e-2
    # a magnitude-aware estimator (Dr. GRPO, A = r − r̄ = ±gap/2) scales with the gap
    assert out["advantages"]["dr_grpo"] == pytest.approx([5e-10, -5e-10], rel=1e-6)
    assert out["dr_grpo_over_paper"] == pytest.approx(5e-10, rel=1e-3)
    # verl's sample std with ε = 1e-6: A = (gap/2)/(gap/√2 + ε), about 5e-4, so ε tames the amplification
    want = (1e-9 / 2) / (1e-9 / math.sqrt(2) + 1e-6)
    assert out["advantages"]["verl"][0] == pytest.approx(want, rel=1e-6)


def test_tied_rewards_are_rejected(tiny_policy):
    with pytest.raises(ValueError, match="rewards must differ"):
        sign_amplification(tiny_policy, "005+017=", ("0022", "0022"), (0.0, 0.0))
