"""The ratio-weighted k3 (``kl_kind="k3_is"``, TRL ``use_bias_correction_kl=True``): loop twin, and exact
expectations on a categorical policy showing what the ratio corrects."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import grpo_conventions, token_batches

from grpo_theory.losses import LOSS_KL_KINDS, grpo_loss, kl_estimate, kl_importance_weighted
from grpo_theory.losses.reference import ref_grpo_loss, ref_kl_importance_weighted

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}


@given(batch=token_batches(spread=(0.0, 2.0)), level=st.sampled_from(["token", "sequence"]),
       kind=st.sampled_from(["k1", "k2", "k3"]))
def test_kl_importance_weighted_matches_reference_values_and_gradients(batch, level, kind):
    x = batch.logp.clone().requires_grad_()
    fast = kl_importance_weighted(x, batch.ref_logp, batch.old_logp, batch.mask, kind=kind, level=level)
    ref = ref_kl_importance_weighted(x, batch.ref_logp, batch.old_logp, batch.mask, kind=kind, level=level)
    m = batch.mask.bool()
    torch.testing.assert_close(fast[m], ref[m], **TOL)
    w = torch.randn(fast.shape, dtype=F64) * batch.mask
    (gf,) = torch.autograd.grad((fast * w).sum(), x)
    (gr,) = torch.autograd.grad((ref * w).sum(), x)
    torch.testing.assert_close(gf, gr, **TOL)


@settings(max_examples=30)  # the loop twin of the whole loss is slow
@given(batch=token_batches(spread=(0.0, 1.0)), conv=grpo_conventions(allow_kl=False))
def test_grpo_loss_with_k3_is_matches_reference(batch, conv):
    conv = {**conv, "beta": 0.2, "kl_kind": "k3_is"}
    x = batch.logp.clone().requires_grad_()
    fast = grpo_loss(x, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **conv).loss
    ref = ref_grpo_loss(x, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **conv)
    torch.testing.assert_close(fast, ref, **TOL)
    (gf,) = torch.autograd.grad(fast, x)
    (gr,) = torch.autograd.grad(ref, x)
    torch.testing.assert_close(gf, gr, **TOL)


def _categorical(seed):
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(6, generator=gen, dtype=F64).requires_grad_()
    old = torch.log_softmax(torch.randn(6, generator=gen, dtype=F64), -1)
    ref = torch.log_softmax(torch.randn(6, generator=gen, dtype=F64), -1)
    return theta, old, ref


def _as_tokens(v):  # the K outcomes as K one-token "rollouts" [1, K, 1]
    return v.view(1, -1, 1)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_k3_expectation_under_the_sampler_is_the_kl_and_its_gradient(seed):
    theta, old, ref = _categorical(seed)
    lp = torch.log_softmax(theta, -1)
    mask = torch.ones(1, 6, 1)
    p_old = old.exp()
    weighted = kl_importance_weighted(_as_tokens(lp), _as_tokens(ref), _as_tokens(old), mask).flatten()
    expect = (p_old * weighted).sum()  # exact E over o ~ pi_old (every outcome enumerated)
    kl = (lp.exp() * (lp - ref)).sum()  # KL(pi_theta || pi_ref)
    torch.testing.assert_close(expect, kl, rtol=1e-13, atol=1e-15)
    (g_w,) = torch.autograd.grad(expect, theta, retain_graph=True)
    (g_kl,) = torch.autograd.grad(kl, theta)
    torch.testing.assert_close(g_w, g_kl, rtol=1e-12, atol=1e-14)
    # plain k3 on the same samples estimates neither (the sampler is not pi_theta)
    plain = (p_old * kl_estimate(lp, ref, "k3")).sum()
    assert abs(float(plain.detach()) - float(kl.detach())) > 1e-3


@pytest.mark.parametrize("seed", range(5))
def test_on_policy_the_ratio_adds_the_score_term_that_plain_k3_misses(seed):
    theta, _, ref = _categorical(seed)
    lp = torch.log_softmax(theta, -1)
    p = lp.exp().detach()
    mask = torch.ones(1, 6, 1)
    weighted = kl_importance_weighted(_as_tokens(lp), _as_tokens(ref), _as_tokens(lp.detach()),
                                      mask).flatten()
    plain = kl_estimate(lp, ref, "k3")
    torch.testing.assert_close(weighted.detach(), plain.detach(), rtol=0, atol=0)  # ratio 1: same value
    (g_w,) = torch.autograd.grad((p * weighted).sum(), theta, retain_graph=True)
    (g_plain,) = torch.autograd.grad((p * plain).sum(), theta, retain_graph=True)
    lp2 = torch.log_softmax(theta, -1)
    # grad KL(pi || ref)
    (g_rev,) = torch.autograd.grad((lp2.exp() * (lp2 - ref)).sum(), theta, retain_graph=True)
    (g_fwd,) = torch.autograd.grad((ref.exp() * (ref - lp2)).sum(), theta)  # grad KL(ref || pi)
    torch.testing.assert_close(g_w, g_rev, rtol=1e-12, atol=1e-14)
    # the expected gradient of plain k3 in the loss is that of the *forward* KL
    torch.testing.assert_close(g_plain, g_fwd, rtol=1e-12, atol=1e-14)


def test_sequence_level_weight_uses_the_geometric_mean_ratio():
    lp = torch.tensor([[[0.0, -1.0, 5.0]]], dtype=F64)
    old = torch.tensor([[[-0.2, -0.6, -9.0]]], dtype=F64)
    ref = torch.tensor([[[-0.5, -0.5, -0.5]]], dtype=F64)
    mask = torch.tensor([[[1.0, 1.0, 0.0]]])  # the padded token's huge log-ratio must not matter
    w = kl_importance_weighted(lp, ref, old, mask, level="sequence")
    rho = torch.exp(torch.tensor((0.2 - 0.4) / 2, dtype=F64))
    torch.testing.assert_close(w[0, 0, :2], rho * kl_estimate(lp, ref, "k3")[0, 0, :2])
    assert bool(torch.isfinite(w).all())


def test_loss_kl_kinds_and_errors():
    assert LOSS_KL_KINDS == ("k1", "k2", "k3", "k3+", "k3_is")
    z = torch.zeros(1, 2, 1)
    with pytest.raises(ValueError, match="level"):
        kl_importance_weighted(z, z, z, torch.ones(1, 2, 1), level="seq")
    with pytest.raises(ValueError, match="kind"):
        kl_importance_weighted(z, z, z, torch.ones(1, 2, 1), kind="k3_is")
