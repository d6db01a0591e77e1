"""R15: 2-GRPO with real-valued rewards, exact (sympy and numpy), on softmax bandits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from grpo_theory.theory import expected_bandit_gradient, gradient_scale, win_rate_advantage
from grpo_theory.theory import real_rewards as rr
from grpo_theory.theory import real_rewards_checks as rc

R = sp.Rational


def test_registry_check_r15():
    ev = rc.check_R15()
    assert ev, ev


def test_pair_advantage_is_the_sign_soft_sign_and_sign_over_sqrt2():
    ev = rc.check_pair_advantages()
    assert ev, ev


def test_win_rate_by_hand_with_a_tie():
    # π = (1/2, 1/3, 1/6), r = (1, 1/3, 1): arm 0 beats arm 1 (1/3), ties arms 0 and 2 (1/2 + 1/6) → u_0 = 1/3
    u = win_rate_advantage([R(1, 2), R(1, 3), R(1, 6)], [1, R(1, 3), 1])
    assert list(u) == [R(1, 3), -R(2, 3), R(1, 3)]
    assert np.allclose(win_rate_advantage([0.5, 1 / 3, 1 / 6], [1.0, 1 / 3, 1.0]), [1 / 3, -2 / 3, 1 / 3],
                       atol=1e-15)


def test_expected_two_grpo_gradient_is_pi_times_u_and_matches_brute_force():
    ev = rc.check_win_rate_gradient()
    assert ev, ev


def test_epsilon_soft_sign_ddof_and_binary_lambda():
    ev = rc.check_conventions_and_binary()
    assert ev, ev


def test_order_invariance_angle_and_large_group_limit():
    ev = rc.check_order_invariance_and_angle()
    assert ev, ev


def test_angle_on_the_five_arm_bandit_by_hand():
    # uniform π: E ĝ_2 ∝ centred ranks (−2, −1, 0, 1, 2); ∇E[r] ∝ centred rewards (−.36, −.26, −.16, .14, .64)
    ranks = np.array([-2, -1, 0, 1, 2.0])
    r = np.array(rc.ANGLE_R) - np.mean(rc.ANGLE_R)
    by_hand = ranks @ r / (np.linalg.norm(ranks) * np.linalg.norm(r))
    pi = np.array(rc.ANGLE_PI)
    got = rr.cosine(expected_bandit_gradient(pi, np.array(rc.ANGLE_R), 2),
                    rr.expected_reward_gradient(pi, np.array(rc.ANGLE_R)))
    assert abs(got - by_hand) < 1e-14 and round(got, 2) == 0.94


def _brute_numeric(pi, r, G, ddof=0, eps=0.0):
    K = len(pi)
    out = np.zeros(K)
    for o in itertools.product(range(K), repeat=G):
        w = np.prod(pi[list(o)])
        rv = r[list(o)]
        dev = rv - rv.mean()
        s = np.sqrt((dev**2).sum() / (G - ddof))
        a = np.zeros(G) if np.all(rv == rv[0]) else dev / (s + eps)
        out += w * sum(a[i] * (np.eye(K)[o[i]] - pi) for i in range(G)) / G
    return out


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0.05, 1.0), min_size=3, max_size=4),
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0]), min_size=4, max_size=4),
    st.integers(2, 4),
    st.sampled_from([(0, 0.0), (1, 0.0), (0, 0.1)]),
)
def test_numeric_enumeration_equals_brute_force(weights, rewards, G, conv):
    pi = np.array(weights) / np.sum(weights)
    r = np.array(rewards[: len(pi)])
    ddof, eps = conv
    got = expected_bandit_gradient(pi, r, G, std_ddof=ddof, eps=eps)
    assert np.abs(got - _brute_numeric(pi, r, G, ddof, eps)).max() < 1e-13


@pytest.mark.parametrize("G", [2, 3, 5, 16])
def test_binary_rewards_give_lambda_times_grad_p_numerically(G):
    pi = np.array([0.1, 0.4, 0.3, 0.2])
    r = np.array([1.0, 0.0, 1.0, 0.0])
    p = pi @ r
    assert np.abs(expected_bandit_gradient(pi, r, G) - gradient_scale(G, p) * pi * (r - p)).max() < 1e-14


def test_second_moment_matches_brute_force():
    pi, r, G = np.array([0.4, 0.3, 0.2, 0.1]), np.array([1.0, 0.3, 1.0, 0.0]), 3
    mean, m2 = rr.group_gradient_moments(pi, r, G)
    bm, bm2 = np.zeros(4), np.zeros((4, 4))
    for o in itertools.product(range(4), repeat=G):
        w = np.prod(pi[list(o)])
        rv = r[list(o)]
        a = np.zeros(G) if rv.std() == 0 else (rv - rv.mean()) / rv.std()
        g = sum(a[i] * (np.eye(4)[o[i]] - pi) for i in range(G)) / G
        bm += w * g
        bm2 += w * np.outer(g, g)
    assert np.abs(mean - bm).max() < 1e-15 and np.abs(m2 - bm2).max() < 1e-15


def test_large_group_limit_is_grad_over_sigma():
    pi, r = np.array([0.5, 0.3, 0.2]), np.array([0.0, 0.4, 1.0])
    sigma = np.sqrt(pi @ (r - pi @ r) ** 2)
    assert np.allclose(expected_bandit_gradient(pi, r, "inf"), rr.expected_reward_gradient(pi, r) / sigma,
                       atol=1e-16)
    assert np.all(expected_bandit_gradient(pi, np.ones(3), "inf") == 0)


def test_compositions_count_and_sum():
    m = rr.compositions(5, 3)
    assert m.shape == (21, 3) and np.all(m.sum(1) == 5) and len({tuple(x) for x in m}) == 21


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([0.5, 0.6], [0.0, 1.0], 2), {}, "sum to 1"),
        (([0.5, 0.5], [0.0, 1.0, 2.0], 2), {}, "shape of probs"),
        (([0.5, 0.5], [0.0, np.inf], 2), {}, "finite"),
        (([0.5, 0.5], [0.0, 1.0], 1), {}, "G must be >= 2"),
        (([0.5, 0.5], [0.0, 1.0], 2), {"std_ddof": 2}, "std_ddof"),
        (([0.5, 0.5], [0.0, 1.0], 2), {"eps": -1.0}, "eps must be >= 0"),
        (([0.2] * 5, [0.0, 0.1, 0.2, 0.3, 0.4], 400), {}, "compositions"),
    ],
)
def test_bad_input_is_a_one_line_error(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_bandit_gradient(*args, **kwargs)
