"""Advantages at the edges of the floating-point range, and exact zeros.

A mixed pair must give exactly ±1 (population std, eps 0) in float16, bfloat16 and float32 for every
reward gap the dtype can hold (1e-30 to 1e30, clipped to the dtype's range), with no NaN/inf
anywhere downstream; a reward at its group mean must give exactly 0.
"""

import math

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from grpo_theory.losses import (
    ADVANTAGE_PRESETS,
    group_advantages,
    grpo_loss,
    policy_surrogate,
    rloo_advantages,
    rloo_loss,
)
from grpo_theory.losses.reference import ref_group_advantages

F64 = torch.float64
LOW = (torch.float16, torch.bfloat16, torch.float32)
EXPONENTS = range(-30, 31)


def _representable(x: float, dtype) -> bool:
    v = torch.tensor(x, dtype=dtype)
    return bool(torch.isfinite(v)) and float(v) != 0.0


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_mixed_pair_is_exactly_plus_minus_one_for_every_representable_gap(dtype):
    checked = 0
    for e in EXPONENTS:
        gap = 10.0**e
        if not _representable(gap, dtype):
            continue
        for offset in (0.0, -gap, 3.0):
            hi, lo = torch.tensor([gap + offset, offset], dtype=dtype)
            if hi == lo or not bool(torch.isfinite(hi)):
                continue  # the offset swallowed the gap in this dtype
            r = torch.stack([torch.stack([hi, lo]), torch.stack([lo, hi])])
            a = group_advantages(r)
            assert a.dtype == dtype
            assert a.tolist() == [[1.0, -1.0], [-1.0, 1.0]], (dtype, gap, offset, a)
            checked += 1
    # float16 holds gaps 1e-7..1e4, bfloat16 and float32 all of 1e-30..1e30
    assert checked >= (25 if dtype == torch.float16 else 150)


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("preset", sorted(ADVANTAGE_PRESETS))
def test_every_preset_is_finite_signed_and_bounded_across_gaps(dtype, preset):
    kw = ADVANTAGE_PRESETS[preset]
    for e in EXPONENTS:
        gap = 10.0**e
        if not _representable(gap, dtype):
            continue
        r = torch.tensor([[gap, 0.0], [0.0, gap], [gap, gap]], dtype=dtype)
        a = group_advantages(r, **kw)
        assert bool(torch.isfinite(a).all()), (preset, gap, a)
        assert a[2].tolist() == [0.0, 0.0]
        # sign(r_i - r_j), magnitude at most |dev| / std: 1 for ddof 0, 1/sqrt(2) for ddof 1, gap/2
        # unnormalized
        assert float(a[0, 0]) >= 0 and float(a[0, 1]) <= 0 and float(a[1, 0]) <= 0
        if kw["scale"] != "none":
            assert float(a.abs().max()) <= 1.0


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_bessel_pair_is_one_over_sqrt2_to_one_ulp(dtype):
    ulp = torch.finfo(dtype).eps
    for e in EXPONENTS:
        if not _representable(10.0**e, dtype):
            continue
        a = group_advantages(torch.tensor([[10.0**e, 0.0]], dtype=dtype), std_ddof=1).to(F64)
        torch.testing.assert_close(a, torch.tensor([[2**-0.5, -(2**-0.5)]], dtype=F64), rtol=ulp, atol=0)


def _finite_floats(dtype):
    if dtype == torch.float16:
        return st.floats(width=16, allow_nan=False, allow_infinity=False)
    # bfloat16 has float32's exponent range: draw float32 and round
    return st.floats(width=32, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("dtype", LOW, ids=str)
@given(data=st.data())
def test_any_two_distinct_finite_rewards_give_their_sign(dtype, data):
    x = torch.tensor([data.draw(_finite_floats(dtype)), data.draw(_finite_floats(dtype))]).to(dtype)
    assume(bool(torch.isfinite(x).all()) and x[0] != x[1])
    a = group_advantages(x.reshape(1, 2))
    s = 1.0 if x[0] > x[1] else -1.0
    assert a.tolist() == [[s, -s]]


@pytest.mark.parametrize("dtype, rtol",
                         [(torch.float32, 1e-5), (torch.bfloat16, 2e-2), (torch.float16, 2e-3)], ids=str)
@given(data=st.data())
def test_low_precision_groups_match_float64_on_the_same_values_at_any_magnitude(dtype, rtol, data):
    g = data.draw(st.integers(2, 6))
    e = data.draw(st.integers(-30, 30) if dtype != torch.float16 else st.integers(-3, 3))
    unit = data.draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=g, max_size=g))
    r = (torch.tensor([unit], dtype=F64) * 10.0**e).to(dtype)
    assume(bool(torch.isfinite(r).all()))
    for kw in ({}, {"std_ddof": 1}, {"scale": "batch"}):
        low = group_advantages(r, **kw).to(F64)
        ref = group_advantages(r.to(F64), **kw)
        assert bool(torch.isfinite(low).all())
        torch.testing.assert_close(low, ref, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_grpo_loss_is_finite_and_gap_independent_for_extreme_pairs(dtype):
    torch.manual_seed(0)
    old = -torch.rand(1, 2, 3)
    logp0 = old + 0.3 * torch.randn(1, 2, 3)
    mask = torch.ones(1, 2, 3)
    unit = grpo_loss(logp0.clone().requires_grad_(), old, torch.tensor([[1.0, 0.0]]), mask)
    for e in EXPONENTS:
        gap = 10.0**e
        if not _representable(gap, dtype):
            continue
        logp = logp0.clone().requires_grad_()
        for preset in ("paper", "trl", "verl"):
            out = grpo_loss(logp, old, torch.tensor([[gap, 0.0]], dtype=dtype), mask,
                            **ADVANTAGE_PRESETS[preset])
            (g,) = torch.autograd.grad(out.loss, logp)
            assert bool(torch.isfinite(out.loss)) and bool(torch.isfinite(g).all()), (dtype, gap, preset)
            if preset == "paper":  # advantages exactly ±1, so the loss is the unit-gap loss exactly
                assert float(out.loss.detach()) == float(unit.loss.detach())


def test_batch_scale_survives_rewards_whose_square_overflows_float32():
    r = torch.tensor([[1e30, 0.0], [0.0, 1e30]], dtype=torch.float32)
    assert group_advantages(r, scale="batch").tolist() == [[1.0, -1.0], [-1.0, 1.0]]
    tiny = torch.tensor([[1e-30, 0.0], [0.0, 1e-30]], dtype=torch.float32)
    assert group_advantages(tiny, scale="batch").tolist() == [[1.0, -1.0], [-1.0, 1.0]]


def test_float64_results_are_unchanged_by_the_rescaling_on_ordinary_rewards():
    # Power-of-two rescaling is exact: the textbook formula (shift, center, std) gives identical bits.
    torch.manual_seed(1)
    r = torch.randn(64, 5, dtype=F64) * 3
    lo = r.amin(-1, keepdim=True)
    s = r - lo
    dev = s - s.sum(-1, keepdim=True) / 5
    textbook = dev / ((dev * dev).sum(-1, keepdim=True) / 5).sqrt()
    assert torch.equal(group_advantages(r), textbook)


# ------------------------------------------------------------------------------------------ exact zeros

MIDDLE_AT_MEAN = [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.7, 0.1, 0.4], [1.1, 2.2, 3.3], [0.2, 0.4, 0.6]]


@pytest.mark.parametrize("row", MIDDLE_AT_MEAN)
@pytest.mark.parametrize("kw", [{"scale": "group"}, {"scale": "none"}, {"scale": "batch"},
                                *[ADVANTAGE_PRESETS[k] for k in ("trl", "verl", "openrlhf")]])
def test_a_reward_at_its_group_mean_gets_exactly_zero(row, kw):
    r = torch.tensor([row], dtype=F64)
    mid = next(i for i, v in enumerate(row) if v == sorted(row)[1])
    # Before the exact-zero rule these gave 1.7e-16 (group) and -2.8e-17 (RLOO).
    assert group_advantages(r, **kw)[0, mid].item() == 0.0
    assert rloo_advantages(r)[0, mid].item() == 0.0
    assert ref_group_advantages(r, **kw)[0, mid].item() == 0.0
    others = [i for i in range(3) if i != mid]
    assert all(abs(group_advantages(r, **kw)[0, i].item()) >= 0.05 for i in others)


@given(a=st.floats(-1e6, 1e6, allow_nan=False), d=st.floats(1e-6, 1e6, allow_nan=False),
       m=st.integers(1, 3), perm_seed=st.integers(0, 1000))
def test_symmetric_groups_give_their_centre_exactly_zero(a, d, m, perm_seed):
    assume(abs(a) <= 4 * d)  # |a| >> d: rounding of a +- kd itself moves the mean (a real deviation)
    vals = [a + k * d for k in range(-m, m + 1)]
    perm = torch.randperm(len(vals), generator=torch.Generator().manual_seed(perm_seed))
    r = torch.tensor([vals], dtype=F64)[:, perm]
    centre = int((perm == m).nonzero())
    assert group_advantages(r)[0, centre].item() == 0.0
    assert group_advantages(r, **ADVANTAGE_PRESETS["trl"])[0, centre].item() == 0.0
    assert rloo_advantages(r)[0, centre].item() == 0.0


def test_genuine_small_deviations_are_kept():
    r = torch.tensor([[0.0, 0.5 + 2.0**-30, 1.0]], dtype=F64)
    a = group_advantages(r)
    ref = ref_group_advantages(r)
    assert a[0, 1].item() != 0.0 and a[0, 1].item() > 0
    torch.testing.assert_close(a, ref, rtol=1e-12, atol=0)


def test_zeroed_advantage_keeps_the_reward_gradient():
    r = torch.tensor([[0.1, 0.2, 0.3]], dtype=F64, requires_grad=True)
    a = group_advantages(r)
    assert a[0, 1].item() == 0.0
    (g,) = torch.autograd.grad(a[0, 1], r)
    # d/dr of (r_2 - mean)/std at a symmetric point: (e_2 - 1/3) / std (the std term vanishes with dev)
    std = math.sqrt(2 / 3) * 0.1
    torch.testing.assert_close(g, torch.tensor([[-1 / 3, 2 / 3, -1 / 3]], dtype=F64) / std, rtol=1e-9,
                               atol=1e-9)


@pytest.mark.parametrize("loss_fn, which", [(grpo_loss, "high"), (rloo_loss, "low")])
def test_clip_fractions_do_not_count_a_zero_advantage(loss_fn, which):
    # ratio 2 (or 0.5) on every token: only rollouts with A > 0 (or A < 0) count as clipped.
    rewards = torch.tensor([[0.1, 0.2, 0.3]], dtype=F64)
    old = torch.full((1, 3, 2), -1.0, dtype=F64)
    shift = math.log(2.0) if which == "high" else math.log(0.5)
    out = loss_fn(old + shift, old, rewards, torch.ones(1, 3, 2))
    assert out.metrics[f"clip_frac_{which}"] == 1 / 3
    assert out.metrics["clip_frac"] == 1 / 3
    _, diag = policy_surrogate(old + shift, old, rloo_advantages(rewards), torch.ones(1, 3, 2))
    assert diag[f"clip_frac_{which}"] == 1 / 3
