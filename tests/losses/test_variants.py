"""CISPO, SAPO, GSPO, GMPO and the per-prompt token mean: fast code against the float64 loop twins,
plus identities that pin each formula (ratio 1 gives REINFORCE, ties give no gradient, hand values)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import token_batches

from grpo_theory.losses import (
    ALL_AGG_MODES,
    aggregate,
    cispo_loss,
    cispo_surrogate,
    gmpo_loss,
    gmpo_sequence_loss,
    group_advantages,
    grpo_loss,
    gspo_loss,
    gspo_surrogate,
    sapo_loss,
    sapo_surrogate,
)
from grpo_theory.losses.reference import ref_aggregate
from grpo_theory.losses.reference_variants import (
    ref_cispo_loss,
    ref_cispo_surrogate,
    ref_gmpo_loss,
    ref_gmpo_sequence_loss,
    ref_gspo_loss,
    ref_sapo_loss,
    ref_sapo_surrogate,
)

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}
MODES = st.sampled_from(ALL_AGG_MODES)
KL = st.sampled_from([{}, {"beta": 0.3, "kl_kind": "k3"}, {"beta": 0.3, "kl_kind": "k3_is"},
                      {"beta": 0.05, "kl_kind": "k2"}])
ADV = st.sampled_from([{}, {"std_ddof": 1, "eps": 1e-4}, {"scale": "none"}, {"scale": "batch"}])


def _grad(loss, x):
    if not loss.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(loss, x, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


def _compare(fast_fn, ref_fn, batch, kw):
    x = batch.logp.clone().requires_grad_()
    fast = fast_fn(x, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **kw)
    ref = ref_fn(x, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **kw)
    torch.testing.assert_close(fast.loss, ref, **TOL)
    torch.testing.assert_close(_grad(fast.loss, x), _grad(ref, x), **TOL)
    assert math.isfinite(fast.metrics["loss"])


@given(batch=token_batches(spread=(0.0, 1.5)), mode=MODES, kl=KL, adv=ADV,
       bounds=st.sampled_from([(5.0, None), (1.2, None), (1.28, 0.8), (None, None), (None, 0.5)]),
       level=st.sampled_from(["token", "sequence"]), clamp=st.sampled_from([None, 0.3, 20.0]),
       empty=st.sampled_from(["count", "skip"]))
def test_cispo_loss_matches_reference(batch, mode, kl, adv, bounds, level, clamp, empty):
    kw = {"loss_agg_mode": mode, "ratio_max": bounds[0], "ratio_min": bounds[1], "level": level,
          "log_ratio_clamp": clamp, "empty_rows": empty, **kl, **adv}
    _compare(cispo_loss, ref_cispo_loss, batch, kw)


@given(batch=token_batches(spread=(0.0, 1.5)), mode=MODES, kl=KL, adv=ADV,
       taus=st.sampled_from([(1.0, 1.05), (0.5, 2.0), (3.0, 3.0)]),
       level=st.sampled_from(["token", "sequence"]), clamp=st.sampled_from([None, 20.0]),
       empty=st.sampled_from(["count", "skip"]))
def test_sapo_loss_matches_reference(batch, mode, kl, adv, taus, level, clamp, empty):
    kw = {"loss_agg_mode": mode, "tau_pos": taus[0], "tau_neg": taus[1], "level": level,
          "log_ratio_clamp": clamp, "empty_rows": empty, **kl, **adv}
    _compare(sapo_loss, ref_sapo_loss, batch, kw)


@given(batch=token_batches(spread=(0.0, 1.0)), mode=MODES, kl=KL, adv=ADV,
       clip=st.sampled_from([(3e-4, 4e-4), (0.2, 0.28), (0.0, 0.0)]),
       cap=st.sampled_from([10.0, None, 0.05]), empty=st.sampled_from(["count", "skip"]))
def test_gspo_token_form_has_the_value_and_gradient_of_the_sequence_form(batch, mode, kl, adv, clip, cap,
                                                                         empty):
    # The fast code routes each token's gradient through its own log-prob (verl); the twin through the
    # sequence mean. They agree after every aggregation mode, which weighs a sequence's tokens equally.
    kw = {"loss_agg_mode": mode, "clip_low": clip[0], "clip_high": clip[1], "log_ratio_max": cap,
          "empty_rows": empty, **kl, **adv}
    _compare(gspo_loss, ref_gspo_loss, batch, kw)


@given(batch=token_batches(spread=(0.0, 1.0)), adv=ADV, kl=KL,
       clip=st.sampled_from([(0.4, 0.4), (0.2, 0.2), (0.0, 0.1)]),
       empty=st.sampled_from(["count", "skip"]), normalizer=st.sampled_from([None, 7.0]),
       kl_mode=st.sampled_from(["token-mean", "seq-mean-token-mean"]))
def test_gmpo_loss_matches_reference(batch, adv, kl, clip, empty, normalizer, kl_mode):
    kw = {"clip_low": clip[0], "clip_high": clip[1], "empty_rows": empty, "normalizer": normalizer,
          "kl_agg_mode": kl_mode, **kl, **adv}
    _compare(gmpo_loss, ref_gmpo_loss, batch, kw)


@settings(max_examples=30)  # loop twins of several losses per example: the slowest here
@given(batch=token_batches(spread=(0.0, 1.5)))
def test_per_token_surrogates_match_reference_jacobians(batch):
    adv = group_advantages(batch.rewards)
    x = batch.logp.clone().requires_grad_()
    w = torch.randn(batch.shape, dtype=F64)
    for fast_fn, ref_fn in ((cispo_surrogate, ref_cispo_surrogate), (sapo_surrogate, ref_sapo_surrogate)):
        fast, _ = fast_fn(x, batch.old_logp, adv, batch.mask)
        ref = ref_fn(x, batch.old_logp, adv, batch.mask)
        torch.testing.assert_close(fast, ref, **TOL)
        torch.testing.assert_close(_grad((fast * w).sum(), x), _grad((ref * w).sum(), x), **TOL)
    fast, _ = gmpo_sequence_loss(x, batch.old_logp, adv, batch.mask)
    ref = ref_gmpo_sequence_loss(x, batch.old_logp, adv, batch.mask)
    w2 = torch.randn(fast.shape, dtype=F64)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad((fast * w2).sum(), x), _grad((ref * w2).sum(), x), **TOL)


@given(batch=token_batches(empty_rows=True), normalizer=st.sampled_from([None, 3.0]),
       empty=st.sampled_from(["count", "skip"]))
def test_prompt_mean_token_mean_matches_reference(batch, normalizer, empty):
    x = batch.logp.clone().requires_grad_()
    fast = aggregate(x, batch.mask, "prompt-mean-token-mean", normalizer=normalizer, empty_rows=empty)
    ref = ref_aggregate(x, batch.mask, "prompt-mean-token-mean", normalizer=normalizer, empty_rows=empty)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad(fast, x), _grad(ref, x), **TOL)


# ------------------------------------------------------------------------------------------ identities


@settings(max_examples=30)  # loop twins of several losses per example: the slowest here
@given(batch=token_batches(spread=(0.0, 1.0), empty_rows=True),
       mode=st.sampled_from(["token-mean", "seq-mean-token-mean", "seq-mean-token-sum",
                             "prompt-mean-token-mean"]))
def test_at_ratio_one_every_variant_has_the_grpo_gradient(batch, mode):
    # On-policy (old = logp): CISPO's weight is 1, SAPO's gate has slope 1, GSPO's s_i = 1 is inside
    # the clip band, so all are REINFORCE -A grad log pi aggregated like GRPO.
    old = batch.logp.detach()
    base = {"loss_agg_mode": mode}
    ref_grad = _grad(grpo_loss((x := batch.logp.clone().requires_grad_()), old, batch.rewards, batch.mask,
                               **base).loss, x)
    for fn in (cispo_loss, sapo_loss, gspo_loss):
        y = batch.logp.clone().requires_grad_()
        torch.testing.assert_close(_grad(fn(y, old, batch.rewards, batch.mask, **base).loss, y), ref_grad,
                                   rtol=1e-12, atol=1e-14)
    # GMPO is a mean over sequences of -A exp(mean_t d_t): at ratio 1, -A / (S n_i) per token.
    y = batch.logp.clone().requires_grad_()
    seq = _grad(grpo_loss((z := batch.logp.clone().requires_grad_()), old, batch.rewards, batch.mask,
                          loss_agg_mode="seq-mean-token-mean").loss, z)
    torch.testing.assert_close(_grad(gmpo_loss(y, old, batch.rewards, batch.mask).loss, y), seq,
                               rtol=1e-12, atol=1e-14)


def test_tied_groups_give_no_gradient_and_hand_values():
    old = torch.tensor([[[-1.0, -2.0], [-0.5, -1.5]]], dtype=F64)
    logp = (old + torch.tensor([[[0.3, -0.2], [2.0, -1.0]]], dtype=F64)).requires_grad_()
    mask = torch.ones(1, 2, 2)
    for fn in (cispo_loss, sapo_loss, gspo_loss, gmpo_loss):
        out = fn(logp, old, torch.tensor([[1.0, 1.0]]), mask)
        assert torch.equal(_grad(out.loss, logp), torch.zeros_like(logp)), fn.__name__
        assert float(out.loss.detach()) == 0.0
    rewards = torch.tensor([[1.0, 0.0]])  # A = (+1, -1)
    # CISPO (cap 5, token-mean over 4 tokens): -(w A logp) summed / 4, w = min(rho, 5)
    rho = torch.exp(logp.detach() - old)
    w = rho.clamp(max=5.0)
    a = torch.tensor([1.0, -1.0], dtype=F64).view(1, 2, 1)
    expected = float((-(w * a * logp.detach())).sum() / 4)
    assert float(cispo_loss(logp, old, rewards, mask).loss.detach()) == pytest.approx(expected, rel=1e-14)
    # SAPO: -(4/tau) sigmoid(tau (rho - 1)) A, tau 1 for A > 0 and 1.05 for A < 0; per-sequence mean
    tau = torch.tensor([1.0, 1.05], dtype=F64).view(1, 2, 1)
    gate = 4 / tau * torch.sigmoid(tau * (rho - 1))
    expected = float((-(gate * a)).mean(-1).mean())
    assert float(sapo_loss(logp, old, rewards, mask).loss.detach()) == pytest.approx(expected, rel=1e-14)
    # GMPO: sequence 1 (A > 0) d = (0.3, -0.2) -> (0.3 capped at 0.4: 0.3, -0.2); sequence 2 (A < 0)
    # d = (2.0, -1.0) -> (2.0, -0.4): ratios e^{0.05} and e^{0.8}
    expected = (-math.exp(0.05) + math.exp(0.8)) / 2
    assert float(gmpo_loss(logp, old, rewards, mask).loss.detach()) == pytest.approx(expected, rel=1e-14)
    # GSPO: s_1 = e^{0.05} > 1 + 4e-4 is capped for A > 0; s_2 = e^{0.5} for A < 0 is not
    expected = (-(1 + 4e-4) + math.exp(0.5)) / 2
    assert float(gspo_loss(logp, old, rewards, mask).loss.detach()) == pytest.approx(expected, rel=1e-14)


def test_cispo_bounds_weights_but_keeps_every_gradient():
    old = torch.zeros(1, 2, 1, dtype=F64)
    logp = torch.log(torch.tensor([[[9.0], [0.1]]], dtype=F64)).requires_grad_()
    a = torch.tensor([[1.0, -1.0]], dtype=F64)
    loss, d = cispo_surrogate(logp, old, a, torch.ones(1, 2, 1), ratio_max=5.0, ratio_min=0.8)
    (g,) = torch.autograd.grad(loss.sum(), logp)
    # d loss / d logp = -w A with w = clip(rho, 0.8, 5): -5 and +0.8 (PPO would give 0 for both)
    torch.testing.assert_close(g.flatten(), torch.tensor([-5.0, 0.8], dtype=F64))
    assert d["clip_frac"] == 1.0 and d["clip_frac_high"] == 0.5


def test_sapo_gate_value_and_slope_at_ratio_one():
    logp = torch.zeros(1, 2, 1, dtype=F64, requires_grad=True)
    loss, d = sapo_surrogate(logp, logp.detach(), torch.tensor([[2.0, -3.0]], dtype=F64), torch.ones(1, 2, 1),
                             tau_pos=0.5, tau_neg=4.0)
    torch.testing.assert_close(loss.detach().flatten(), torch.tensor([-2 * 2 / 0.5, 2 * 3 / 4.0], dtype=F64))
    assert d["gate_mean"] == pytest.approx((2 / 0.5 + 2 / 4.0) / 2, rel=1e-15)
    (g,) = torch.autograd.grad(loss.sum(), logp)
    torch.testing.assert_close(g.flatten(), torch.tensor([-2.0, 3.0], dtype=F64))


def test_gspo_clip_diagnostics():
    # s_1 = e^{0.1} above 1 + 0.05 with A > 0 (clipped, high); s_2 = e^{-0.1} below 1 - 0.05 with A < 0 (low)
    old = torch.zeros(1, 2, 2, dtype=F64)
    logp = torch.tensor([[[0.1, 0.1], [-0.1, -0.1]]], dtype=F64)
    _, d = gspo_surrogate(logp, old, torch.tensor([[1.0, -1.0]], dtype=F64), torch.ones(1, 2, 2),
                          clip_low=0.05, clip_high=0.05)
    assert (d["clip_frac"], d["clip_frac_high"], d["clip_frac_low"]) == (1.0, 0.5, 0.5)
    assert d["ratio_max"] == pytest.approx(math.exp(0.1), rel=1e-15)


def test_gmpo_zero_advantage_is_exactly_zero_with_any_ratio():
    # A reward at its group mean gets A = 0 exactly, so GMPO's sign branch gives 0, never ±(ratio).
    rewards = torch.tensor([[0.1, 0.2, 0.3]], dtype=F64)
    old = torch.zeros(1, 3, 2, dtype=F64)
    logp = torch.tensor([[[0.5, 0.5], [3.0, -3.0], [0.0, 0.0]]], dtype=F64)
    seq, _ = gmpo_sequence_loss(logp, old, group_advantages(rewards), torch.ones(1, 3, 2))
    assert seq[0, 1].item() == 0.0


def test_prompt_mean_token_mean_differs_from_batch_token_mean_when_lengths_differ():
    # Prompt 1: one rollout of 1 token (loss 1) and one of 3 (loss 0); prompt 2: two of 2 tokens (loss 2).
    x = torch.tensor([[[1.0, 0, 0], [0, 0, 0]], [[2.0, 2, 0], [2, 2, 0]]], dtype=F64)
    m = torch.tensor([[[1.0, 0, 0], [1, 1, 1]], [[1.0, 1, 0], [1, 1, 0]]], dtype=F64)
    per_prompt = float(aggregate(x, m, "prompt-mean-token-mean"))
    batch = float(aggregate(x, m, "token-mean"))
    assert per_prompt == pytest.approx((1 / 4 + 2) / 2, rel=1e-15)
    assert batch == pytest.approx(9 / 8, rel=1e-15)
    # equal token counts per prompt: the two coincide
    m_eq = torch.ones_like(x)
    per_prompt = float(aggregate(x, m_eq, "prompt-mean-token-mean"))
    assert per_prompt == pytest.approx(float(aggregate(x, m_eq, "token-mean")))


def test_prompt_mean_token_mean_needs_the_prompt_dimension():
    with pytest.raises(ValueError, match=r"prompt-mean-token-mean.*\[P, G, T\]"):
        aggregate(torch.zeros(2, 3), torch.ones(2, 3), "prompt-mean-token-mean")


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda b: cispo_loss(*b, ratio_max=-1.0), "ratio_max"),
        (lambda b: cispo_loss(*b, ratio_min=2.0, ratio_max=1.0), "ratio_min"),
        (lambda b: sapo_loss(*b, tau_pos=0.0), "tau_pos"),
        (lambda b: sapo_loss(*b, level="seq"), "level"),
        (lambda b: gspo_loss(*b, clip_low=1.0), "clip_low"),
        (lambda b: gspo_loss(*b, log_ratio_max=0.0), "log_ratio_max"),
        (lambda b: gmpo_loss(*b, clip_high=-0.1), "clip_high"),
        (lambda b: gmpo_loss(*b, empty_rows="drop"), "empty_rows"),
        (lambda b: gmpo_loss(*b, beta=0.1), "ref_logp"),
        (lambda b: cispo_loss(*b, kl_kind="k4"), "kl_kind"),
        (lambda b: grpo_loss(*b, kl_kind="k4"), "kl_kind"),
    ],
)
def test_bad_options_fail_with_a_named_error(call, match):
    b = (torch.zeros(1, 2, 1), torch.zeros(1, 2, 1), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2, 1))
    with pytest.raises(ValueError, match=match):
        call(b)
