"""Toy policies: their exact tables agree with autograd, enumeration and sampling."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grpo_theory.montecarlo.bandit import bandit_with_success_probs, random_bandit
from grpo_theory.montecarlo.fixtures import check_bandit, check_tabular, generator
from grpo_theory.montecarlo.tabular import enumerate_responses, random_tabular_policy
from grpo_theory.montecarlo.toy_policy import (
    conditional_moments,
    exact_grad_p,
    gather_prompts,
    sample_indices,
    score_mean,
)

F64 = torch.float64


def _policies():
    g = generator(5)
    return [
        check_bandit(),
        check_tabular(),
        random_bandit(4, 5, g, embed=True),
        random_tabular_policy(3, g, vocab=2, max_len=5),
    ]


@pytest.mark.parametrize("vocab,max_len", [(2, 1), (2, 4), (3, 3), (4, 2)])
def test_enumeration_counts_match_closed_form(vocab, max_len):
    visits, lengths, responses = enumerate_responses(vocab, max_len)
    # EOS after each of the sum_{t<L} (V-1)^t states, plus (V-1)^L full-length responses without EOS.
    n_states = sum((vocab - 1) ** t for t in range(max_len))
    assert len(responses) == n_states + (vocab - 1) ** max_len
    assert len(set(responses)) == len(responses)
    assert visits.shape == (len(responses), n_states, vocab)
    assert torch.equal(visits.sum((1, 2)), lengths)


@pytest.mark.parametrize("k", range(4))
def test_tables_agree_with_autograd(k):
    """Score table and exact ∇p against autograd, through random contractions u·J (one backward each)."""
    pol = _policies()[k]
    assert torch.allclose(pol.probs.sum(-1), torch.ones(pol.num_prompts, dtype=F64), atol=1e-12)
    per_prompt_blocks = pol.per_prompt_blocks  # bandit without embedding: theta [Q, K], scores [Q, K, K]
    gen = generator(11 + k)
    for _ in range(3):
        u = torch.randn(pol.num_prompts, pol.num_responses, generator=gen, dtype=F64)
        theta = pol.theta.clone().requires_grad_(True)
        (grad_logp,) = torch.autograd.grad((u * pol.log_prob_fn(theta)).sum(), theta)
        want = torch.einsum("qn,qnd->qd" if per_prompt_blocks else "qn,qnd->d", u, pol.scores)
        torch.testing.assert_close(grad_logp, want, rtol=0, atol=1e-12)
        v = u[:, 0]
        p = (pol.log_prob_fn(theta).exp() * pol.rewards).sum(-1)
        (grad_p,) = torch.autograd.grad((v * p).sum(), theta)
        want_p = v.unsqueeze(-1) * exact_grad_p(pol) if per_prompt_blocks else v @ exact_grad_p(pol)
        torch.testing.assert_close(grad_p, want_p, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", range(4))
def test_score_identity_sum_zero_and_conditional_means_anti_aligned(k):
    pol = _policies()[k]
    assert score_mean(pol, "summed").abs().max() < 1e-12
    mom = conditional_moments(pol)
    p = mom["p"].unsqueeze(-1)
    torch.testing.assert_close(mom["m_minus"], -p / (1 - p) * mom["m_plus"], rtol=0, atol=1e-12)
    assert (mom["var_plus"] >= -1e-12).all() and (mom["var_minus"] >= -1e-12).all()


def test_length_normalized_score_is_not_centered_when_lengths_vary():
    assert score_mean(check_tabular(), "length-normalized").abs().max() > 1e-3


def test_bandit_hits_requested_success_probabilities():
    p = torch.tensor([0.01, 0.3, 0.77, 0.999], dtype=F64)
    pol = bandit_with_success_probs(p, 7, generator(1), num_correct=2)
    torch.testing.assert_close(pol.success_prob(), p, rtol=0, atol=1e-12)


def test_sampling_frequencies_match_probabilities():
    pol = check_tabular()
    n = 20_000
    idx = sample_indices(pol.probs, (n, 1), generator(3)).squeeze(-1)  # (n, Q)
    counts = torch.stack([torch.bincount(idx[:, q],
                                         minlength=pol.num_responses) for q in range(pol.num_prompts)])
    freq = counts.to(F64) / n
    se = (pol.probs * (1 - pol.probs) / n).sqrt()
    z = (freq - pol.probs) / se
    # Q*N = 248 cells; Bonferroni threshold for family-wise rate 6e-5 is about 5.0.
    assert z.abs().max() < 5.0
    zero = pol.probs == 0
    assert counts[zero].sum() == 0
    r = gather_prompts(pol.rewards, idx.unsqueeze(-1)).squeeze(-1)
    zr = (r.mean(0) - pol.success_prob()) / (pol.success_prob() * (1 - pol.success_prob()) / n).sqrt()
    assert zr.abs().max() < 4.0


def test_sampling_never_draws_zero_probability_responses():
    probs = torch.tensor([[0.0, 0.5, 0.0, 0.5], [1.0, 0.0, 0.0, 0.0]], dtype=F64)
    idx = sample_indices(probs, (500, 3), generator(0))
    assert idx.shape == (500, 2, 3)
    assert set(idx[:, 0].unique().tolist()) <= {1, 3}
    assert (idx[:, 1] == 0).all()


@settings(max_examples=10)
@given(perm_seed=st.integers(0, 10_000))
def test_exact_quantities_are_equivariant_under_prompt_permutation(perm_seed):
    pol = check_tabular()
    perm = torch.randperm(pol.num_prompts, generator=generator(perm_seed))
    sub = pol.subset(perm)
    torch.testing.assert_close(sub.success_prob(), pol.success_prob()[perm])
    torch.testing.assert_close(exact_grad_p(sub), exact_grad_p(pol)[perm])
    for key, val in conditional_moments(sub, "length-normalized").items():
        torch.testing.assert_close(val, conditional_moments(pol, "length-normalized")[key][perm])
    torch.testing.assert_close(sub.log_prob_fn(pol.theta), pol.log_prob_fn(pol.theta)[perm])


def test_check_fixtures_have_heterogeneous_prompts():
    p = check_tabular().success_prob()
    assert 0 < float(p.min()) and float(p.max()) < 1 and float(p.max() - p.min()) > 0.5
    assert math.isclose(float(check_bandit().success_prob()[0]), 0.05, abs_tol=1e-12)
