"""Named identities: "<quantity> equals <other> when <condition>", each exact in float64."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import binary_rewards, reward_groups, token_batches

from grpo_theory.losses import (
    aggregate,
    contrastive_form,
    dr_grpo_loss,
    group_advantages,
    grpo_loss,
    kl_estimate,
    online_dpo_loss,
    policy_surrogate,
    rloo_advantages,
    rloo_loss,
    sequence_logps,
    two_grpo_loss,
)

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}


def _grad(loss, x):
    (g,) = torch.autograd.grad(loss, x)
    return g


# --- G = 2 advantages -------------------------------------------------------------------------


@given(rewards=reward_groups(G=2, kinds=("continuous", "integer", "tied", "near_tied")))
def test_g2_advantage_equals_sign_of_reward_gap_when_population_std_and_eps0(rewards):
    a = group_advantages(rewards, std_ddof=0, eps=0.0)
    expected = torch.sign(rewards[:, :1] - rewards[:, 1:]) * torch.tensor([1.0, -1.0], dtype=F64)
    torch.testing.assert_close(a, expected, **TOL)


@given(rewards=reward_groups(G=2, kinds=("continuous", "integer", "tied", "near_tied")))
def test_g2_advantage_equals_pm_inv_sqrt2_when_bessel_std_and_eps0(rewards):
    a = group_advantages(rewards, std_ddof=1, eps=0.0)
    expected = (
        torch.sign(rewards[:, :1] - rewards[:, 1:]) * torch.tensor([1.0, -1.0], dtype=F64) / math.sqrt(2)
    )
    torch.testing.assert_close(a, expected, **TOL)


@given(rewards=binary_rewards(G=2), eps=st.floats(0.0, 1.0))
def test_g2_binary_advantage_equals_pm_inv_1_plus_2eps_when_population_std(rewards, eps):
    a = group_advantages(rewards, std_ddof=0, eps=eps)
    gap = rewards[:, 0] - rewards[:, 1]  # in {-1, 0, 1}
    torch.testing.assert_close(a[:, 0], gap / (1 + 2 * eps), **TOL)
    torch.testing.assert_close(a[:, 1], -gap / (1 + 2 * eps), **TOL)


@given(rewards=binary_rewards(G=2))
def test_two_grpo_advantage_equals_rloo_and_twice_dr_grpo_when_binary_g2(rewards):
    a = group_advantages(rewards, std_ddof=0, eps=0.0)
    torch.testing.assert_close(a, rloo_advantages(rewards), **TOL)
    torch.testing.assert_close(a, 2 * group_advantages(rewards, scale="none"), **TOL)
    torch.testing.assert_close(a, rewards - rewards.flip(-1), **TOL)  # A_i = r_i - r_j


@given(batch=token_batches(G=2, reward_kinds=("binary",)),
       mode=st.sampled_from(["token-mean", "seq-mean-token-sum"]))
def test_two_grpo_loss_equals_rloo_loss_and_twice_dr_grpo_loss_when_binary(batch, mode):
    lp = batch.logp.clone().requires_grad_()
    kw = {"loss_agg_mode": mode}
    two = two_grpo_loss(lp, batch.old_logp, batch.rewards, batch.mask, **kw).loss
    rloo = rloo_loss(lp, batch.old_logp, batch.rewards, batch.mask, **kw).loss
    dr = dr_grpo_loss(lp, batch.old_logp, batch.rewards, batch.mask, **kw).loss
    torch.testing.assert_close(two, rloo, **TOL)
    torch.testing.assert_close(_grad(two, lp), _grad(rloo, lp), **TOL)
    # Off-policy the clip can bind at A = ±0.5 and ±1 differently, so "twice" is checked on-policy.
    on = batch.old_logp.clone().requires_grad_()
    two_on = two_grpo_loss(on, on.detach(), batch.rewards, batch.mask, **kw).loss
    dr_on = dr_grpo_loss(on, on.detach(), batch.rewards, batch.mask, **kw).loss
    torch.testing.assert_close(_grad(two_on, on), 2 * _grad(dr_on, on), **TOL)
    assert dr.shape == ()


# --- surrogate ----------------------------------------------------------------------------------


@given(batch=token_batches(), clip_low=st.floats(0, 0.99), clip_high=st.floats(0, 5),
       dual=st.sampled_from([None, 1.01, 3.0]))
def test_clipped_surrogate_equals_unclipped_when_ratio_is_one(batch, clip_low, clip_high, dual):
    lp = batch.old_logp.clone().requires_grad_()
    adv = group_advantages(batch.rewards)
    clipped, d = policy_surrogate(lp, lp.detach(), adv, batch.mask, clip_low=clip_low, clip_high=clip_high,
                                  dual_clip=dual)
    unclipped = -adv.unsqueeze(-1) * torch.exp(lp - lp.detach()) * batch.mask
    torch.testing.assert_close(clipped, unclipped, **TOL)
    torch.testing.assert_close(_grad(clipped.sum(), lp), _grad(unclipped.sum(), lp), **TOL)
    assert d["clip_frac"] == 0.0


@given(batch=token_batches(T=1))
def test_sequence_level_ratio_equals_token_level_when_one_token(batch):
    adv = group_advantages(batch.rewards)
    tok, _ = policy_surrogate(batch.logp, batch.old_logp, adv, batch.mask, level="token")
    seq, _ = policy_surrogate(batch.logp, batch.old_logp, adv, batch.mask, level="sequence")
    torch.testing.assert_close(tok, seq, **TOL)


# --- contrastive form ---------------------------------------------------------------------------


@given(batch=token_batches(reward_kinds=("binary",)), cl=st.sampled_from([0.0, 0.2]),
       ch=st.sampled_from([0.0, 0.28, 2.0]))
def test_contrastive_form_equals_grpo_objective_and_gradient(batch, cl, ch):
    lp = batch.logp.clone().requires_grad_()
    c = contrastive_form(lp, batch.old_logp, batch.rewards, batch.mask, clip_low=cl, clip_high=ch).loss
    g = grpo_loss(lp, batch.old_logp, batch.rewards, batch.mask, std_ddof=0, eps=0.0, clip_low=cl,
                  clip_high=ch, loss_agg_mode="seq-mean-token-mean", empty_rows="count").loss
    torch.testing.assert_close(c, g, **TOL)
    torch.testing.assert_close(_grad(c, lp), _grad(g, lp), **TOL)


# --- 2-GRPO vs DPO gradients, for a tabular softmax policy with parameters theta [T, V] ----------


def _policy_logps(theta, tokens):
    """Per-token log-probs [P, 2, T] of token ids [P, 2, T] under position-wise softmax(theta[t])."""
    logpi = torch.log_softmax(theta, dim=-1)  # [T, V]
    T = tokens.shape[-1]
    return logpi[torch.arange(T), tokens]


def _pair_setup(seed, P=3, T=4, V=5, lengths=None):
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(T, V, generator=gen, dtype=F64).requires_grad_()
    tokens = torch.randint(0, V, (P, 2, T), generator=gen)
    mask = torch.ones(P, 2, T, dtype=F64)
    if lengths is not None:
        mask = (torch.arange(T) < torch.tensor(lengths).unsqueeze(-1)).to(F64).reshape(P, 2, T)
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=F64)[:P]
    return theta, tokens, mask, rewards


def _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, beta, mode, ref_logp=None):
    logp = _policy_logps(theta, tokens)
    two = two_grpo_loss(logp, logp.detach(), rewards, mask, loss_agg_mode=mode).loss
    ref = logp.detach() if ref_logp is None else ref_logp
    logp = _policy_logps(theta, tokens)  # a fresh graph for the second backward
    dpo = online_dpo_loss(logp, logp.detach(), rewards, mask, ref_logp=ref, beta=beta).loss
    return _grad(two, theta), _grad(dpo, theta)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("beta", [0.05, 1.0])
def test_two_grpo_grad_equals_inv_beta_L_dpo_grad_when_pi_ref_equal_lengths_seq_mean_token_mean(seed, beta):
    theta, tokens, mask, rewards = _pair_setup(seed, T=4)
    g2, gd = _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, beta, "seq-mean-token-mean")
    L = 4
    torch.testing.assert_close(g2, gd / (beta * L), **TOL)


@pytest.mark.parametrize("seed", range(3))
def test_two_grpo_grad_equals_inv_beta_dpo_grad_when_pi_ref_sequence_summed(seed):
    beta = 0.3
    # unequal lengths are fine here
    theta, tokens, mask, rewards = _pair_setup(seed, lengths=[4, 2, 3, 1, 4, 4])
    g2, gd = _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, beta, "seq-mean-token-sum")
    torch.testing.assert_close(g2, gd / beta, **TOL)


@pytest.mark.parametrize("seed", range(4))
def test_two_grpo_grad_equals_per_pair_factor_times_dpo_grad_away_from_pi_ref(seed):
    beta, L = 0.7, 3
    theta, tokens, mask, rewards = _pair_setup(seed, P=1, T=L)
    gen = torch.Generator().manual_seed(100 + seed)
    ref_theta = theta.detach() + torch.randn(theta.shape, generator=gen, dtype=F64)
    ref_logp = _policy_logps(ref_theta, tokens)
    g2, gd = _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, beta, "seq-mean-token-mean",
                                     ref_logp=ref_logp)
    logp = _policy_logps(theta.detach(), tokens)
    w, lo = (0, 1) if rewards[0, 0] > rewards[0, 1] else (1, 0)
    s = sequence_logps(logp - ref_logp, mask)[0]  # log-ratio per rollout
    delta = beta * (s[lo] - s[w])  # rejected minus chosen implicit reward
    factor = 1.0 / (2 * L * beta * torch.sigmoid(delta))
    assert abs(float(delta)) > 1e-3  # genuinely away from pi_ref
    torch.testing.assert_close(g2, factor * gd, **TOL)


def _cosine(a, b):
    return float((a * b).sum() / (a.norm() * b.norm()))


def test_two_grpo_grad_not_parallel_to_dpo_grad_when_lengths_differ_under_seq_mean_token_mean():
    theta, tokens, mask, rewards = _pair_setup(0, P=1, T=4, lengths=[4, 1])
    g2, gd = _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, 0.5, "seq-mean-token-mean")
    # The condition matters: with equal lengths the cosine is exactly 1 (test above); here it is not.
    assert _cosine(g2, gd) < 1 - 1e-3
    theta, tokens, mask, rewards = _pair_setup(0, P=1, T=4, lengths=[4, 4])
    g2, gd = _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, 0.5, "seq-mean-token-mean")
    assert _cosine(g2, gd) == pytest.approx(1.0, abs=1e-12)


def test_token_mean_two_grpo_grad_equals_2P_over_beta_N_dpo_grad_when_pi_ref_any_lengths():
    # token-mean divides by one batch-global token count N, so it is a sum aggregation up to a constant:
    # parallel to DPO on summed log-probs at pi_ref even for unequal lengths (factor 2P/(beta N)).
    beta = 0.4
    lengths = [4, 1, 2, 3, 4, 2]
    theta, tokens, mask, rewards = _pair_setup(1, lengths=lengths)
    g2, gd = _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, beta, "token-mean")
    P, N = 3, sum(lengths)
    torch.testing.assert_close(g2, gd * 2 * P / (beta * N), **TOL)


def test_token_mean_two_grpo_grad_not_parallel_to_dpo_grad_when_lengths_differ_away_from_pi_ref():
    beta = 0.4
    theta, tokens, mask, rewards = _pair_setup(2, lengths=[4, 1, 2, 3, 4, 2])
    gen = torch.Generator().manual_seed(7)
    ref_logp = _policy_logps(theta.detach() + torch.randn(theta.shape, generator=gen, dtype=F64), tokens)
    g2, gd = _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, beta, "token-mean", ref_logp=ref_logp)
    assert _cosine(g2, gd) < 1 - 1e-3


def test_tied_pairs_give_zero_gradient_in_two_grpo_and_are_dropped_by_online_dpo():
    theta, tokens, mask, _ = _pair_setup(0, P=2)
    rewards = torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=F64)
    g2, gd = _two_grpo_and_dpo_grads(theta, tokens, mask, rewards, 0.5, "seq-mean-token-mean")
    assert torch.equal(g2, torch.zeros_like(g2))
    assert torch.equal(gd, torch.zeros_like(gd))


# --- KL -----------------------------------------------------------------------------------------


@given(batch=token_batches())
def test_k3_plus_gradient_equals_k2_gradient_and_value_equals_k3(batch):
    lp = batch.logp.clone().requires_grad_()
    k3p = kl_estimate(lp, batch.ref_logp, "k3+")
    k2 = kl_estimate(lp, batch.ref_logp, "k2")
    w = torch.randn(lp.shape, dtype=F64)
    torch.testing.assert_close(_grad((k3p * w).sum(), lp), _grad((k2 * w).sum(), lp), **TOL)
    torch.testing.assert_close(k3p.detach(), kl_estimate(batch.logp, batch.ref_logp, "k3"), **TOL)


@given(batch=token_batches())
def test_kl_estimates_equal_zero_when_policy_equals_reference(batch):
    for kind in ("k1", "k2", "k3", "k3+"):
        assert torch.equal(kl_estimate(batch.logp, batch.logp.clone(), kind), torch.zeros_like(batch.logp))


# --- aggregation --------------------------------------------------------------------------------


@given(batch=token_batches(empty_rows=False), L=st.integers(1, 5))
def test_seq_mean_token_mean_equals_token_mean_and_sum_norm_when_all_lengths_equal(batch, L):
    P, G, T = batch.shape
    mask = (torch.arange(T) < min(L, T)).to(F64).expand(P, G, T)
    x = batch.logp
    stm = aggregate(x, mask, "seq-mean-token-mean")
    torch.testing.assert_close(stm, aggregate(x, mask, "token-mean"), **TOL)
    torch.testing.assert_close(stm, aggregate(x, mask, "seq-mean-token-sum-norm", horizon=min(L, T)), **TOL)
    torch.testing.assert_close(stm * min(L, T), aggregate(x, mask, "seq-mean-token-sum"), **TOL)


@given(batch=token_batches())
def test_trl_aliases_equal_their_modes(batch):
    x, m = batch.logp, batch.mask
    assert torch.equal(aggregate(x, m, "grpo"), aggregate(x, m, "seq-mean-token-mean"))
    assert torch.equal(aggregate(x, m, "bnpo"), aggregate(x, m, "token-mean"))
    assert torch.equal(aggregate(x, m, "dapo", normalizer=5.0), aggregate(x, m, "token-mean", normalizer=5.0))
    assert torch.equal(aggregate(x, m, "dr_grpo"), aggregate(x, m, "seq-mean-token-sum-norm"))


def test_underscore_spellings_of_modes_are_rejected():
    x, m = torch.ones(2, 3, dtype=torch.float64), torch.ones(2, 3)
    for mode in ("seq_mean_token_sum", "token_mean"):
        with pytest.raises(ValueError, match="mode must be one of"):
            aggregate(x, m, mode)
