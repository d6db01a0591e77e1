"""Differential tests: the fast vectorized code against the loop-based float64 reference twins."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import grpo_conventions, reward_groups, token_batches

from grpo_theory.losses import (
    aggregate,
    contrastive_form,
    dpo_loss,
    group_advantages,
    grpo_loss,
    kl_estimate,
    online_dpo_loss,
    policy_surrogate,
    rloo_advantages,
    rloo_loss,
)
from grpo_theory.losses.reference import (
    ref_aggregate,
    ref_contrastive_objective,
    ref_dpo_loss,
    ref_group_advantages,
    ref_grpo_loss,
    ref_kl_estimate,
    ref_online_dpo_loss,
    ref_policy_surrogate,
    ref_rloo_advantages,
)

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}


def _grad(loss, x):
    if not loss.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(loss, x, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


@given(
    rewards=reward_groups(),
    scale=st.sampled_from(["group", "batch", "none"]),
    ddof=st.sampled_from([0, 1]),
    eps=st.sampled_from([0.0, 1e-8, 1e-4, 0.5]),
)
def test_group_advantages_matches_reference(rewards, scale, ddof, eps):
    kw = {"scale": scale, "std_ddof": ddof, "eps": eps}
    torch.testing.assert_close(group_advantages(rewards, **kw), ref_group_advantages(rewards, **kw), **TOL)


@given(rewards=reward_groups(), ddof=st.sampled_from([0, 1]), data=st.data())
def test_group_advantages_nan_mask_matches_reference(rewards, ddof, data):
    holes = data.draw(st.lists(st.booleans(), min_size=rewards.numel(), max_size=rewards.numel()))
    r = rewards.clone().reshape(-1)
    r[torch.tensor(holes)] = float("nan")
    r = r.reshape(rewards.shape)
    fast = group_advantages(r, std_ddof=ddof, nan_policy="mask")
    torch.testing.assert_close(fast, ref_group_advantages(r, std_ddof=ddof, nan_policy="mask"), **TOL)
    assert bool(torch.isfinite(fast).all())
    assert bool((fast[torch.isnan(r)] == 0).all())


@given(rewards=reward_groups())
def test_rloo_advantages_matches_reference(rewards):
    torch.testing.assert_close(rloo_advantages(rewards), ref_rloo_advantages(rewards), **TOL)


@given(batch=token_batches(), conv=grpo_conventions(allow_kl=False))
def test_policy_surrogate_matches_reference_values_and_gradients(batch, conv):
    kw = {k: conv[k] for k in ("clip_low", "clip_high", "dual_clip", "level", "log_ratio_clamp")}
    adv = group_advantages(batch.rewards)
    logp = batch.logp.clone().requires_grad_()
    fast, _ = policy_surrogate(logp, batch.old_logp, adv, batch.mask, **kw)
    ref = ref_policy_surrogate(logp, batch.old_logp, adv, batch.mask, **kw)
    torch.testing.assert_close(fast, ref, **TOL)
    w = torch.randn(fast.shape, dtype=F64)  # random cotangent: compares full Jacobian-vector products
    torch.testing.assert_close(_grad((fast * w).sum(), logp), _grad((ref * w).sum(), logp), **TOL)


@given(batch=token_batches(), kind=st.sampled_from(["k1", "k2", "k3", "k3+"]),
       lrc=st.sampled_from([None, 0.2]), vc=st.sampled_from([None, 0.05]))
def test_kl_estimate_matches_reference(batch, kind, lrc, vc):
    logp = batch.logp.clone().requires_grad_()
    fast = kl_estimate(logp, batch.ref_logp, kind, log_ratio_clamp=lrc, value_clamp=vc)
    ref = ref_kl_estimate(logp, batch.ref_logp, kind, log_ratio_clamp=lrc, value_clamp=vc)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad(fast.sum(), logp), _grad(ref.sum(), logp), **TOL)


@given(batch=token_batches(), mode=st.sampled_from(["token-mean", "seq-mean-token-mean", "seq-mean-token-sum",
                                                    "seq-mean-token-sum-norm", "token-sum", "grpo",
                                                    "dr_grpo"]),
       empty_rows=st.sampled_from(["count", "skip"]), use_norm=st.booleans())
def test_aggregate_matches_reference(batch, mode, empty_rows, use_norm):
    kw = {"empty_rows": empty_rows}
    if use_norm and mode != "token-sum":
        kw["normalizer"] = 7.0
    if mode in ("seq-mean-token-sum-norm", "dr_grpo") and use_norm:
        kw["horizon"] = 11.0
    x = batch.logp.clone().requires_grad_()
    fast = aggregate(x, batch.mask, mode, **kw)
    ref = ref_aggregate(x, batch.mask, mode, **kw)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad(fast, x), _grad(ref, x), **TOL)


@given(batch=token_batches(), conv=grpo_conventions())
def test_grpo_loss_matches_reference_values_and_gradients(batch, conv):
    logp = batch.logp.clone().requires_grad_()
    fast = grpo_loss(logp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **conv).loss
    ref = ref_grpo_loss(logp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **conv)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad(fast, logp), _grad(ref, logp), **TOL)


@given(batch=token_batches(), conv=grpo_conventions())
def test_rloo_loss_matches_reference(batch, conv):
    kw = {k: v for k, v in conv.items() if k not in ("scale", "std_ddof", "eps")}
    logp = batch.logp.clone().requires_grad_()
    fast = rloo_loss(logp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **kw).loss
    adv = ref_rloo_advantages(batch.rewards)
    ref = ref_grpo_loss(logp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp,
                        advantages=adv, **kw)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad(fast, logp), _grad(ref, logp), **TOL)


@given(n=st.integers(1, 5), beta=st.sampled_from([0.05, 0.5, 2.0]),
       loss_type=st.sampled_from(["sigmoid", "ipo", "hinge"]), ls=st.sampled_from([0.0, 0.1]),
       seed=st.integers(0, 2**31 - 1))
def test_dpo_loss_matches_reference(n, beta, loss_type, ls, seed):
    if loss_type != "sigmoid":
        ls = 0.0
    gen = torch.Generator().manual_seed(seed)
    pc, pr, rc, rr = (torch.randn(n, generator=gen, dtype=F64) * 5 for _ in range(4))
    pc.requires_grad_()
    fast = dpo_loss(pc, pr, rc, rr, beta=beta, loss_type=loss_type, label_smoothing=ls)
    ref = ref_dpo_loss(pc, pr, rc, rr, beta=beta, loss_type=loss_type, label_smoothing=ls)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad(fast.sum(), pc), _grad(ref.sum(), pc), **TOL)


@given(batch=token_batches(G=2), beta=st.sampled_from([0.1, 1.0]), ln=st.booleans(),
       loss_type=st.sampled_from(["sigmoid", "ipo", "hinge"]))
def test_online_dpo_matches_reference(batch, beta, ln, loss_type):
    logp = batch.logp.clone().requires_grad_()
    kw = {"beta": beta, "length_normalize": ln, "loss_type": loss_type}
    fast = online_dpo_loss(logp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp,
                           **kw).loss
    ref = ref_online_dpo_loss(logp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **kw)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad(fast, logp), _grad(ref, logp), **TOL)


@given(batch=token_batches(reward_kinds=("binary",)), cl=st.sampled_from([0.0, 0.2]),
       ch=st.sampled_from([0.0, 0.28]))
def test_contrastive_form_matches_reference(batch, cl, ch):
    logp = batch.logp.clone().requires_grad_()
    fast = contrastive_form(logp, batch.old_logp, batch.rewards, batch.mask, clip_low=cl,
                            clip_high=ch).objective
    ref = ref_contrastive_objective(logp, batch.old_logp, batch.rewards, batch.mask, clip_low=cl,
                                    clip_high=ch)
    torch.testing.assert_close(fast, ref, **TOL)
    torch.testing.assert_close(_grad(fast.sum(), logp), _grad(ref.sum(), logp), **TOL)


# --- torch.autograd.gradcheck on fixed, kink-free inputs (finite differences vs autograd) ----------


def _fixed_batch(seed=0, P=2, G=3, T=4, spread=0.1):
    gen = torch.Generator().manual_seed(seed)
    old = -torch.rand(P, G, T, generator=gen, dtype=F64) - 0.1
    logp = old + spread * torch.randn(P, G, T, generator=gen, dtype=F64)
    ref = old + 0.3 * torch.randn(P, G, T, generator=gen, dtype=F64)
    mask = torch.ones(P, G, T, dtype=F64)
    mask[0, 1, 2:] = 0
    mask[1, 0, 1:] = 0
    rewards = torch.tensor([[1.0, 0.0, 0.5], [0.2, 0.9, 0.9]], dtype=F64)[:P, :G]
    return logp, old, ref, mask, rewards


@pytest.mark.parametrize("mode", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
@pytest.mark.parametrize("kl_kind", ["k1", "k2", "k3"])
def test_grpo_loss_gradcheck(mode, kl_kind):
    logp, old, ref, mask, rewards = _fixed_batch()
    logp.requires_grad_()

    def f(lp):
        return grpo_loss(lp, old, rewards, mask, ref_logp=ref, beta=0.1, kl_kind=kl_kind, loss_agg_mode=mode,
                         clip_low=0.05, clip_high=0.05).loss

    # spread 0.1 with clip 0.05 puts some tokens in the clipped (flat) region, none on a kink
    assert torch.autograd.gradcheck(f, (logp,), eps=1e-6, atol=1e-8)


def test_group_advantages_gradcheck_in_rewards():
    r = torch.tensor([[1.0, 0.0, 0.5], [0.2, 0.9, -0.4]], dtype=F64, requires_grad=True)
    for ddof, eps, scale in [(0, 0.0, "group"), (1, 1e-4, "group"), (1, 0.0, "batch"), (0, 0.0, "none")]:
        assert torch.autograd.gradcheck(
            lambda x, d=ddof, e=eps, s=scale: group_advantages(x, std_ddof=d, eps=e, scale=s), (r,)
        )


def test_dpo_and_contrastive_gradcheck():
    pc = torch.tensor([-1.0, -3.0, 0.5], dtype=F64, requires_grad=True)
    z = torch.tensor([-2.0, -1.0, 0.0], dtype=F64)
    for lt in ("sigmoid", "ipo", "hinge"):
        assert torch.autograd.gradcheck(lambda x,
                                        lt=lt: dpo_loss(x, z, z * 0.5, z * 0.1, beta=0.3, loss_type=lt),
                                        (pc,))
    logp, old, _, mask, _ = _fixed_batch()
    rewards = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=F64)
    logp.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda lp: contrastive_form(lp, old, rewards, mask, clip_low=0.05, clip_high=0.05).objective, (logp,)
    )


def test_k3_plus_fails_gradcheck_because_its_gradient_is_k2s():
    lp = torch.tensor([0.3, -0.7], dtype=F64, requires_grad=True)
    ref = torch.tensor([0.0, 0.0], dtype=F64)
    assert torch.autograd.gradcheck(lambda x: kl_estimate(x, ref, "k3"), (lp,))
    assert not torch.autograd.gradcheck(lambda x: kl_estimate(x, ref, "k3+"), (lp,), raise_exception=False)
