"""R4: the exact 2-GRPO ↔ DPO gradient relation, its constant, and where it breaks.

Symbolic half: grpo_theory.theory.dpo_link on a 3-token policy with exact rational gradients.
Numeric half: the same relation through grpo_theory.losses (two_grpo_loss, dpo_loss) with torch autograd
on a random tabular autoregressive policy, float64.
"""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from grpo_theory.losses import dpo_loss, sequence_logps, two_grpo_loss
from grpo_theory.theory import dpo_link as d


def test_two_grpo_gradient_equals_dpo_gradient_over_beta_L_at_reference():
    assert d.check_constant_at_reference()


def test_two_grpo_gradient_equals_dpo_gradient_over_2_L_beta_sigma_delta_away_from_reference():
    assert d.check_constant_away_from_reference()


def test_token_sum_aggregation_removes_the_length_condition():
    assert d.check_sum_aggregation_any_lengths()


def test_sample_std_multiplies_the_constant_by_one_over_sqrt2():
    assert d.check_sample_std_constant()


def test_unequal_lengths_under_token_mean_break_parallelism():
    assert d.check_unequal_lengths_break_token_mean()


def test_off_policy_ratio_and_active_clip_break_parallelism():
    assert d.check_off_policy_and_clip_break()


def test_k3_kl_gradient_vanishes_at_reference_k1_does_not():
    assert d.check_kl_terms()


def test_tied_pair_gives_no_two_grpo_gradient_but_an_online_dpo_gradient():
    assert d.check_ties()


def test_score_of_a_token_by_hand():
    # ∂/∂w_0 log(w_0 / (w_0 + w_1 + w_2)) = 1/w_0 − 1/S; at w = (1, 2, 3): 1 − 1/6 = 5/6
    s = d.score((0,)).subs(d.AT_REF)
    assert list(s) == [sp.Rational(5, 6), -sp.Rational(1, 6), -sp.Rational(1, 6)]


def test_bad_aggregation_raises():
    with pytest.raises(ValueError):
        d.grpo_pair_surrogate((0,), (1,), d.U, agg="mean")


# ------------------------------------------------------------------------------ through the loss library


def _tabular_logps(theta: torch.Tensor, seqs: torch.Tensor) -> torch.Tensor:
    """Per-token log π(o_t | o_{t-1}) for a first-order tabular policy: theta [V+1, V] (row V = BOS)."""
    prev = torch.cat([torch.full_like(seqs[..., :1], theta.shape[0] - 1), seqs[..., :-1]], dim=-1)
    return torch.log_softmax(theta, dim=-1)[prev, seqs]  # [..., T]


@pytest.mark.parametrize(("beta", "L"), [(0.1, 3), (0.5, 5)])
def test_loss_library_two_grpo_grad_is_dpo_grad_over_beta_L(beta, L):
    gen = torch.Generator().manual_seed(0)
    V = 4
    theta = torch.randn(V + 1, V, generator=gen, dtype=torch.float64, requires_grad=True)
    seqs = torch.randint(0, V, (1, 2, L), generator=gen)  # one prompt, (o+, o-)
    logp = _tabular_logps(theta, seqs)
    mask = torch.ones_like(logp)
    out = two_grpo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]], dtype=torch.float64), mask)
    (g_grpo,) = torch.autograd.grad(out.loss, theta)
    seq = sequence_logps(_tabular_logps(theta, seqs), mask)[0]  # [2]
    loss = dpo_loss(seq[:1], seq[1:], seq[:1].detach(), seq[1:].detach(), beta=beta).sum()
    (g_dpo,) = torch.autograd.grad(loss, theta)
    # both are losses to minimize: ∇loss_2GRPO = ∇L_DPO / (βL) at π = π_old = π_ref
    assert torch.allclose(g_grpo, g_dpo / (beta * L), atol=1e-12, rtol=1e-10)
    assert g_grpo.abs().sum() > 0


def test_batch_token_mean_is_parallel_to_dpo_for_any_lengths():
    assert d.check_batch_token_mean_any_lengths()


def test_loss_library_batch_token_mean_unequal_lengths_constant_is_one_over_beta_mean_length():
    # P = 3 mixed pairs with lengths between 1 and 6 (padding masked): token-mean over the batch gives
    # ∇loss_2GRPO = ∇(mean_pairs L_DPO) / (β L̄), L̄ = (total valid tokens) / (2P)
    gen = torch.Generator().manual_seed(1)
    V, T, P, beta = 4, 6, 3, 0.2
    theta = torch.randn(V + 1, V, generator=gen, dtype=torch.float64, requires_grad=True)
    seqs = torch.randint(0, V, (P, 2, T), generator=gen)
    lengths = torch.tensor([[1, 6], [4, 2], [5, 3]])
    mask = (torch.arange(T) < lengths[..., None]).to(torch.float64)
    logp = _tabular_logps(theta, seqs)
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    out = two_grpo_loss(logp, logp.detach(), rewards, mask, loss_agg_mode="token-mean")
    (g_grpo,) = torch.autograd.grad(out.loss, theta)
    seq = sequence_logps(_tabular_logps(theta, seqs), mask)  # [P, 2]
    chosen = torch.where(rewards[:, 0] == 1.0, seq[:, 0], seq[:, 1])
    rejected = torch.where(rewards[:, 0] == 1.0, seq[:, 1], seq[:, 0])
    loss = dpo_loss(chosen, rejected, chosen.detach(), rejected.detach(), beta=beta).mean()
    (g_dpo,) = torch.autograd.grad(loss, theta)
    mean_len = mask.sum() / (2 * P)
    assert torch.allclose(g_grpo, g_dpo / (beta * mean_len), atol=1e-12, rtol=1e-10)


def test_per_micro_batch_token_normalization_breaks_parallelism():
    ev = d.check_micro_batch_normalization()
    assert ev, ev


def test_loss_library_gradient_accumulation_with_per_micro_batch_token_mean_is_not_parallel_to_dpo():
    # the same 3 pairs as above, split into micro-batches {pairs 0, 1} (13 tokens) and {pair 2} (8 tokens),
    # each loss token-mean over its own micro-batch, gradients accumulated as the mean of the micro-batch losses
    gen = torch.Generator().manual_seed(1)
    V, T, P, beta = 4, 6, 3, 0.2
    theta = torch.randn(V + 1, V, generator=gen, dtype=torch.float64, requires_grad=True)
    seqs = torch.randint(0, V, (P, 2, T), generator=gen)
    lengths = torch.tensor([[1, 6], [4, 2], [5, 3]])
    mask = (torch.arange(T) < lengths[..., None]).to(torch.float64)
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    logp = _tabular_logps(theta, seqs)
    whole = two_grpo_loss(logp, logp.detach(), rewards, mask, loss_agg_mode="token-mean").loss
    (g_whole,) = torch.autograd.grad(whole, theta, retain_graph=True)
    micro = [slice(0, 2), slice(2, 3)]
    acc = sum(two_grpo_loss(logp[s], logp[s].detach(), rewards[s], mask[s], loss_agg_mode="token-mean").loss
              * (s.stop - s.start) / P for s in micro)
    (g_acc,) = torch.autograd.grad(acc, theta)
    seq = sequence_logps(_tabular_logps(theta, seqs), mask)
    chosen = torch.where(rewards[:, 0] == 1.0, seq[:, 0], seq[:, 1])
    rejected = torch.where(rewards[:, 0] == 1.0, seq[:, 1], seq[:, 0])
    (g_dpo,) = torch.autograd.grad(dpo_loss(chosen, rejected, chosen.detach(), rejected.detach(), beta=beta).mean(), theta)
    cos = lambda a, b: float((a * b).sum() / (a.norm() * b.norm()))  # noqa: E731
    assert abs(cos(g_whole, g_dpo) - 1.0) < 1e-12
    assert cos(g_acc, g_dpo) < 1.0 - 1e-3, cos(g_acc, g_dpo)  # pair weights (2/3)/13 vs (1/3)/8 differ
