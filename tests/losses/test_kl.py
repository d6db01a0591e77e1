"""KL estimators against the exact KL of two categorical distributions.

Values: Monte Carlo means within 4 standard errors of the exact expectation. Gradients: exact
expectations (sum over the categories, no sampling) of each estimator's gradient.
"""

import math

import pytest
import torch

from grpo_theory.losses import kl_estimate

F64 = torch.float64
N = 40_000
CASES = [  # (policy logits, reference logits): close, moderately apart, far apart
    ([0.0, 0.1, -0.1, 0.2, 0.0, -0.2], [0.05, 0.0, 0.0, 0.1, -0.1, 0.0]),
    ([1.0, 0.0, -1.0, 0.5, 2.0, -0.5], [0.0, 0.5, 0.0, -0.5, 0.0, 1.0]),
    ([3.0, -2.0, 0.0, 1.0, -1.0, 0.5], [-1.0, 1.0, 2.0, 0.0, 0.0, -2.0]),
]


def _exact(p_logits, q_logits):
    logp = torch.log_softmax(torch.tensor(p_logits, dtype=F64), -1)
    logq = torch.log_softmax(torch.tensor(q_logits, dtype=F64), -1)
    p = logp.exp()
    d = logp - logq
    return logp, logq, p, {"kl": float((p * d).sum()), "half_sq": float((p * d * d / 2).sum())}


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("kind", ["k1", "k2", "k3", "k3+"])
def test_kl_estimator_mc_mean_within_4_se_of_its_exact_expectation(case, kind):
    logp, logq, p, ex = _exact(*CASES[case])
    gen = torch.Generator().manual_seed(1234 + case)
    y = torch.multinomial(p, N, replacement=True, generator=gen)
    vals = kl_estimate(logp[y], logq[y], kind)
    mean, se = float(vals.mean()), float(vals.std(unbiased=True)) / N**0.5
    # k1, k3 (and the value of k3+) are unbiased for KL; k2 is unbiased for E[d^2/2], not for KL.
    target = ex["half_sq"] if kind == "k2" else ex["kl"]
    assert abs(mean - target) <= 4 * se, (kind, mean, target, se)


def test_k2_is_biased_for_kl_far_from_reference():
    # Why the k2 test above targets E[d^2/2]: for case 2 the bias is far larger than any tolerance.
    _, _, _, ex = _exact(*CASES[2])
    assert abs(ex["half_sq"] - ex["kl"]) > 0.5


def _expected_grad(p_logits, q_logits, kind):
    """Exact E_{y ~ p_theta}[grad_theta k(y)], the sampling distribution held fixed."""
    theta = torch.tensor(p_logits, dtype=F64, requires_grad=True)
    logq = torch.log_softmax(torch.tensor(q_logits, dtype=F64), -1)
    logp = torch.log_softmax(theta, -1)
    k = kl_estimate(logp, logq, kind)  # one value per category y
    (g,) = torch.autograd.grad((logp.exp().detach() * k).sum(), theta)
    return g


def _kl_grads(p_logits, q_logits):
    theta = torch.tensor(p_logits, dtype=F64, requires_grad=True)
    logp = torch.log_softmax(theta, -1)
    logq = torch.log_softmax(torch.tensor(q_logits, dtype=F64), -1)
    (fwd,) = torch.autograd.grad((logp.exp() * (logp - logq)).sum(), theta, retain_graph=True)
    (rev,) = torch.autograd.grad((logq.exp() * (logq - logp)).sum(), theta)
    return fwd, rev


@pytest.mark.parametrize("case", range(len(CASES)))
def test_expected_k2_and_k3_plus_gradients_equal_kl_gradient(case):
    fwd, _ = _kl_grads(*CASES[case])
    torch.testing.assert_close(_expected_grad(*CASES[case], "k2"), fwd, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(_expected_grad(*CASES[case], "k3+"), fwd, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [1, 2])
def test_expected_k3_gradient_equals_reverse_kl_gradient_not_kl_gradient(case):
    # E_p[grad k3] = E_p[(1 - q/p) grad log p] = -sum_y q grad log p = grad KL(q || p_theta).
    fwd, rev = _kl_grads(*CASES[case])
    g3 = _expected_grad(*CASES[case], "k3")
    torch.testing.assert_close(g3, rev, rtol=1e-10, atol=1e-12)
    assert float((g3 - fwd).norm()) > 1e-2


@pytest.mark.parametrize("case", range(len(CASES)))
def test_expected_k1_pathwise_gradient_is_zero(case):
    # E_p[grad log p] = 0: k1 in the loss carries no KL gradient (fold it into the reward instead).
    g1 = _expected_grad(*CASES[case], "k1")
    torch.testing.assert_close(g1, torch.zeros_like(g1), rtol=0, atol=1e-14)


def test_kl_penalized_rewards_by_hand_and_detached():
    from grpo_theory.losses import kl_penalized_rewards

    lp = torch.tensor([[[-1.0, -1.0], [-2.0, -5.0]]], dtype=F64, requires_grad=True)
    ref = torch.full((1, 2, 2), -1.5, dtype=F64)
    mask = torch.tensor([[[1, 1], [1, 0]]])
    out = kl_penalized_rewards(torch.tensor([[1.0, 0.0]], dtype=F64), lp, ref, mask, beta=0.1)
    # k1 sums: 0.5 + 0.5 = 1 and -0.5 (the masked -3.5 is left out).
    torch.testing.assert_close(out, torch.tensor([[1.0 - 0.1, 0.0 + 0.05]], dtype=F64))
    assert not out.requires_grad
    k3 = kl_penalized_rewards(torch.zeros(1, 2, dtype=F64), lp, ref, mask, beta=1.0, kind="k3")
    expected = -torch.tensor([[2 * (math.exp(-0.5) + 0.5 - 1), math.exp(0.5) - 0.5 - 1]], dtype=F64)
    torch.testing.assert_close(k3, expected)
    with pytest.raises(ValueError, match=r"^beta must be a finite number >= 0"):
        kl_penalized_rewards(torch.zeros(1, 2), lp, ref, mask, beta=-1.0)
    with pytest.raises(ValueError, match=r"^rewards must have shape \[P, G\]"):
        kl_penalized_rewards(torch.zeros(2, 2), lp, ref, mask, beta=1.0)
