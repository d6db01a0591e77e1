"""First identities: G=2 advantages and the named presets (each library's documented formula, by hand)."""

import math

import pytest
import torch

from grpo_theory.losses import ADVANTAGE_PRESETS, LOSSES, dpo_loss, group_advantages, rloo_advantages


def test_g2_advantages_are_pm1_with_population_std():
    r = torch.tensor([[1.0, 0.0], [0.3, 7.0]], dtype=torch.float64)
    a = group_advantages(r, std_ddof=0, eps=0.0)
    assert torch.equal(a, torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=torch.float64))


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("paper", 1.0),
        ("trl", 0.5 / (math.sqrt(0.5) + 1e-4)),
        ("verl", 0.5 / (math.sqrt(0.5) + 1e-6)),
        ("openrlhf", 0.5 / (math.sqrt(0.5) + 1e-9)),
        ("open_instruct", 0.5 / (0.5 + 1e-8)),
        ("nano_aha", 0.5 / (0.5 + 1e-4)),
        ("dr_grpo", 0.5),
    ],
)
def test_presets_reproduce_library_numbers_for_rewards_1_0(preset, expected):
    a = group_advantages(torch.tensor([[1.0, 0.0]], dtype=torch.float64), **ADVANTAGE_PRESETS[preset])
    assert a[0, 0].item() == pytest.approx(expected, rel=1e-12)
    assert a[0, 1].item() == pytest.approx(-expected, rel=1e-12)


def test_library_numbers_for_one_success_in_four():
    r = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    # Hand values: population std sqrt(3)/4, Bessel std 1/2.
    assert group_advantages(r, **ADVANTAGE_PRESETS["paper"])[0].tolist() == pytest.approx(
        [math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3)], rel=1e-12
    )
    assert group_advantages(r, **ADVANTAGE_PRESETS["trl"])[0, 0].item() == pytest.approx(
        0.75 / 0.5001, rel=1e-12
    )
    assert rloo_advantages(r)[0].tolist() == pytest.approx([1.0, -1 / 3, -1 / 3, -1 / 3], rel=1e-12)


def test_registry_entries_share_the_trainer_signature():
    torch.manual_seed(0)
    logp = (-torch.rand(3, 2, 4, dtype=torch.float64)).requires_grad_()
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    mask = torch.ones(3, 2, 4)
    for name in sorted(LOSSES):
        out = LOSSES[name](logp, logp.detach(), rewards, mask, ref_logp=logp.detach())
        assert out.loss.ndim == 0, name
        (g,) = torch.autograd.grad(out.loss, logp)
        # The tied middle group carries no signal in any of these losses.
        assert torch.equal(g[1], torch.zeros_like(g[1])), name
        assert g.abs().sum() > 0, name


def test_dpo_sigmoid_loss_equals_log1p_exp_for_large_margins():
    # -log sigma(z) at z = -25: 25 + log1p(e^-25) = 25 + 1.3887943864771e-11 (the correction must survive;
    # a softplus that switches to the identity above 20 drops it).
    zero = torch.zeros(2, dtype=torch.float64)
    chosen = torch.tensor([-25.0, 25.0], dtype=torch.float64)
    loss = dpo_loss(chosen, zero, zero, zero, beta=1.0)
    expected = torch.tensor([25.0 + math.log1p(math.exp(-25.0)), math.log1p(math.exp(-25.0))],
                            dtype=torch.float64)
    torch.testing.assert_close(loss, expected, rtol=0, atol=1e-15)
