"""Vectorized estimators: equal to the loop twin, to autograd through the loss library, and equivariant."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grpo_theory.losses import grpo_loss, rloo_loss
from grpo_theory.montecarlo.estimators import (
    ESTIMATORS,
    group_gradients,
    group_gradients_loop,
    minibatch_gradients,
    sample_groups,
)
from grpo_theory.montecarlo.fixtures import check_bandit, check_tabular, generator

F64 = torch.float64


@pytest.mark.parametrize("estimator", [*ESTIMATORS, {"scale": "batch", "std_ddof": 1, "eps": 0.0}])
@pytest.mark.parametrize("kind", ["summed", "length-normalized"])
def test_vectorized_equals_loop_twin(estimator, kind):
    pol = check_tabular()
    idx = sample_groups(pol, 3, 4, generator(1))
    fast = group_gradients(pol, idx, estimator, kind=kind)
    slow = group_gradients_loop(pol, 4, 3, generator(0), estimator, kind=kind, idx=idx)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-13)


def test_estimator_is_gradient_of_loss_library_objective():
    """Q · (−∇θ loss) = Σ_q ĝ_q for the library's grpo_loss / rloo_loss at ratio 1 (on-policy).

    Each sampled response enters the loss as a one-token sequence carrying its sequence log-prob,
    so every aggregation mode reduces to the sequence-sum score function.
    """
    for pol in (check_bandit(), check_tabular()):
        for g, est, loss_fn in ((2, "paper", grpo_loss), (5, "verl", grpo_loss), (4, "rloo", rloo_loss)):
            idx = sample_groups(pol, 2, g, generator(g))
            want = group_gradients(pol, idx, est)  # (R, Q, D)
            for r in range(idx.shape[0]):
                theta = pol.theta.clone().requires_grad_(True)
                logp_all = pol.log_prob_fn(theta)  # (Q, N)
                logp = torch.gather(logp_all, 1, idx[r]).unsqueeze(-1)  # (Q, G, 1)
                rewards = torch.gather(pol.rewards, 1, idx[r])
                kwargs = {} if est == "rloo" else {"std_ddof": 1, "eps": 1e-6} if est == "verl" else {}
                out = loss_fn(logp, logp.detach(), rewards, torch.ones_like(logp),
                              loss_agg_mode="seq-mean-token-mean", **kwargs)
                (grad,) = torch.autograd.grad(out.loss, theta)
                # the loss averages over the Q prompts of the batch: −∇L = (1/Q) Σ_q ĝ_q
                flat = -grad.reshape(pol.num_prompts, -1) if pol.per_prompt_blocks else -grad
                expect = want[r] if pol.per_prompt_blocks else want[r].sum(0)
                torch.testing.assert_close(flat * pol.num_prompts, expect, rtol=0, atol=1e-12)


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), g=st.integers(2, 6))
def test_prompt_permutation_permutes_estimates(seed, g):
    pol = check_tabular()
    gen = generator(seed)
    perm = torch.randperm(pol.num_prompts, generator=gen)
    idx = sample_groups(pol, 3, g, gen)
    base = group_gradients(pol, idx, "paper")
    permuted = group_gradients(pol.subset(perm), idx[:, perm], "paper")
    torch.testing.assert_close(permuted, base[:, perm], rtol=0, atol=1e-13)


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), g=st.integers(2, 6),
       est=st.sampled_from(["paper", "rloo", "dr_grpo", "trl"]))
def test_rollout_permutation_leaves_estimates_unchanged(seed, g, est):
    pol = check_tabular()
    gen = generator(seed)
    idx = sample_groups(pol, 3, g, gen)
    shuffled = idx[:, :, torch.randperm(g, generator=gen)]
    torch.testing.assert_close(group_gradients(pol, shuffled, est), group_gradients(pol, idx, est), rtol=0,
                               atol=1e-13)


def test_tied_groups_contribute_nothing():
    pol = check_tabular()
    # every prompt: 4 copies of its first correct response
    first = torch.stack([torch.nonzero(pol.rewards[q])[0] for q in range(pol.num_prompts)])  # (Q, 1)
    idx = first.expand(-1, 4).unsqueeze(0)
    for est in ESTIMATORS:
        assert group_gradients(pol, idx, est).abs().max() == 0


def test_minibatch_of_one_prompt_population_equals_group_estimator_distribution():
    """With a one-prompt population, mini-batch estimates are averages of Q group estimates: check the
    mean."""
    pol = check_tabular().subset(torch.tensor([1]))
    x = minibatch_gradients(pol, 2, 4, 20_000, generator(2), "rloo")
    from grpo_theory.montecarlo.toy_policy import exact_grad_p

    mean, se = x.mean(0), x.std(0) / 20_000**0.5
    z = (mean - exact_grad_p(pol)[0]) / se
    assert z[se > 0].abs().max() < 5.0  # 45 components, family-wise threshold
