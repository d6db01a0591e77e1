"""R4: the exact 2-GRPO ↔ DPO gradient relation, its constant, and where it breaks.

Symbolic half: grpo_theory.theory.dpo_link on a 3-token policy with exact rational gradients.
Numeric half: the same relation through grpo_theory.losses (two_grpo_loss, dpo_loss) with torch autograd
on a random tabular autoregressive policy, float64.
"""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from grpo_theory.losses import dpo_loss, online_dpo_loss, sequence_logps, two_grpo_loss
from grpo_theory.theory import dpo_link as d
from grpo_theory.vocab import ALL_AGG_MODES, SCORE_KINDS


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
    # each loss token-mean over its own micro-batch, gradients accumulated as the mean of the micro-batch
    # losses
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
    (g_dpo,) = torch.autograd.grad(
        dpo_loss(chosen, rejected, chosen.detach(), rejected.detach(), beta=beta).mean(), theta
    )
    cos = lambda a, b: float((a * b).sum() / (a.norm() * b.norm()))  # noqa: E731
    assert abs(cos(g_whole, g_dpo) - 1.0) < 1e-12
    assert cos(g_acc, g_dpo) < 1.0 - 1e-3, cos(g_acc, g_dpo)  # pair weights (2/3)/13 vs (1/3)/8 differ


# ------------------------------------------------ two_grpo_dpo_factor against the loss library's autograd

FACTOR_LENGTHS = {
    "equal": [[3, 3], [3, 3], [3, 3]],
    "unequal": [[1, 4], [3, 2], [4, 4]],
    "equal pair totals": [[1, 3], [2, 2], [3, 1]],
}


def _library_gradients(lengths, mode, dpo_logps, *, std_ddof=0, beta=0.3, ref_shift=0.0):
    """Gradients w.r.t. the per-token log-probs ``[P, 2, T]`` of 2-GRPO (ratio 1) and online DPO."""
    gen = torch.Generator().manual_seed(3)
    lengths = torch.tensor(lengths)
    P, T = lengths.shape[0], int(lengths.max()) + 1  # one padded column: C = T differs from every length
    mask = (torch.arange(T) < lengths[..., None]).to(torch.float64)
    logp = (-torch.rand(P, 2, T, generator=gen, dtype=torch.float64)).requires_grad_(True)
    ref = logp.detach().clone()
    ref[:, 0] -= ref_shift  # π(o⁺) above π_ref(o⁺): σ(Δ) < ½
    rewards = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(P, 2)
    horizon = float(T) if mode == "seq-mean-token-sum-norm" else None
    grpo = two_grpo_loss(logp, logp.detach(), rewards, mask, loss_agg_mode=mode, std_ddof=std_ddof, eps=0.0,
                         horizon=horizon).loss
    (g_grpo,) = torch.autograd.grad(grpo, logp)
    dpo = online_dpo_loss(logp, logp.detach(), rewards, mask, ref_logp=ref, beta=beta,
                          length_normalize=dpo_logps == "length-normalized").loss
    (g_dpo,) = torch.autograd.grad(dpo, logp)
    norm = mask.sum(-1) if dpo_logps == "length-normalized" else torch.ones(P, 2, dtype=torch.float64)
    u = ((logp.detach() - ref) * mask).sum(-1) / norm
    sigma = torch.sigmoid(beta * (u[:, 1] - u[:, 0]))  # σ(Δ), Δ = β[(log π/π_ref)(o⁻) − (log π/π_ref)(o⁺)]
    return g_grpo, g_dpo, T, sigma


@pytest.mark.parametrize("dpo_logps", SCORE_KINDS)
@pytest.mark.parametrize("mode", ALL_AGG_MODES)
@pytest.mark.parametrize("case", list(FACTOR_LENGTHS))
def test_factor_matches_the_loss_library_at_reference(case, mode, dpo_logps):
    lengths = FACTOR_LENGTHS[case]
    g_grpo, g_dpo, T, _ = _library_gradients(lengths, mode, dpo_logps)
    kappa = d.two_grpo_dpo_factor(mode, 0.3, lengths, horizon=T, dpo_logps=dpo_logps)
    if kappa is None:  # no constant: the two gradients are not parallel
        cos = float((g_grpo * g_dpo).sum() / (g_grpo.norm() * g_dpo.norm()))
        assert cos < 1 - 1e-3, (case, mode, dpo_logps, cos)
    else:
        torch.testing.assert_close(g_grpo, kappa * g_dpo, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("mode", "dpo_logps"), [("seq-mean-token-sum", "summed"),
                                                 ("seq-mean-token-mean", "summed"),
                                                 ("seq-mean-token-mean", "length-normalized"),
                                                 ("token-mean", "summed")])
def test_factor_matches_the_loss_library_away_from_reference_one_pair_sample_std(mode, dpo_logps):
    lengths = [[3, 3]]
    g_grpo, g_dpo, _, sigma = _library_gradients(lengths, mode, dpo_logps, std_ddof=1, ref_shift=0.7)
    assert abs(float(sigma[0]) - 0.5) > 0.01  # really away from π_ref
    kappa = d.two_grpo_dpo_factor(mode, 0.3, lengths, sigma=float(sigma[0]), adv=2**-0.5, dpo_logps=dpo_logps)
    torch.testing.assert_close(g_grpo, kappa * g_dpo, rtol=1e-12, atol=1e-14)


def test_factor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="agg must be one of"):
        d.two_grpo_dpo_factor("token_mean", 0.1, [(1, 1)])
    with pytest.raises(ValueError, match="dpo_logps must be one of"):
        d.two_grpo_dpo_factor("token-mean", 0.1, [(1, 1)], dpo_logps="sum")
    with pytest.raises(ValueError, match="horizon"):
        d.two_grpo_dpo_factor("seq-mean-token-sum-norm", 0.1, [(1, 1)])
    with pytest.raises(ValueError, match="lengths"):
        d.two_grpo_dpo_factor("token-mean", 0.1, [])
