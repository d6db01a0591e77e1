"""A trainer's flat micro-batch ``[B, 1, T]`` (advantages already computed, groups split apart).

Engines such as TRL shuffle rollouts and cut them into micro-batches, so a micro-batch holds no whole
group. Functions that receive advantages accept G = 1 and give exactly what the grouped layout gives,
in float64, for values and gradients; functions that make advantages from rewards still need G >= 2.
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import grpo_conventions, token_batches

from grpo_theory.losses import group_advantages, grpo_loss, policy_loss_from_advantages, policy_surrogate

F64 = torch.float64


def _flat(x):
    """[P, G, T] -> [P*G, 1, T]; [P, G] -> [P*G, 1]."""
    return x.reshape(-1, 1, *x.shape[2:])


@given(batch=token_batches(), conv=grpo_conventions())
def test_flat_micro_batch_equals_grouped_layout(batch, conv):
    adv_kw = {k: conv.pop(k) for k in ("scale", "std_ddof", "eps")}
    adv = group_advantages(batch.rewards, **adv_kw)
    # Every aggregation counts rows and tokens, never groups: P*G rows in both layouts.
    lp_g = batch.logp.clone().requires_grad_()
    lp_f = batch.logp.clone().requires_grad_()
    grouped = policy_loss_from_advantages(lp_g, batch.old_logp, adv, batch.mask, ref_logp=batch.ref_logp,
                                          **conv)
    flat = policy_loss_from_advantages(_flat(lp_f), _flat(batch.old_logp), _flat(adv), _flat(batch.mask),
                                       ref_logp=_flat(batch.ref_logp), **conv)
    torch.testing.assert_close(flat.loss, grouped.loss, rtol=1e-13, atol=1e-13)
    (gg,) = torch.autograd.grad(grouped.loss, lp_g)
    (gf,) = torch.autograd.grad(flat.loss, lp_f)
    torch.testing.assert_close(gf, gg, rtol=1e-13, atol=1e-13)
    for key in ("clip_frac", "clip_frac_low", "clip_frac_high", "num_tokens"):
        assert flat.metrics[key] == pytest.approx(grouped.metrics[key], abs=1e-12)


@given(batch=token_batches(), level=st.sampled_from(["token", "sequence"]))
def test_policy_surrogate_on_flat_rows_is_the_grouped_surrogate_reshaped(batch, level):
    adv = group_advantages(batch.rewards)
    grouped, _ = policy_surrogate(batch.logp, batch.old_logp, adv, batch.mask, level=level)
    flat, _ = policy_surrogate(_flat(batch.logp), _flat(batch.old_logp), _flat(adv), _flat(batch.mask),
                               level=level)
    assert torch.equal(flat.reshape(grouped.shape), grouped)


def test_rewards_still_need_two_rollouts_per_group():
    lp = torch.zeros(3, 1, 2, dtype=F64)
    with pytest.raises(ValueError, match="rewards must have G >= 2"):
        grpo_loss(lp, lp, torch.zeros(3, 1, dtype=F64), torch.ones(3, 1, 2, dtype=F64))
