"""E[A | r] and λ_G(p) for large G: the windowed sum against the full sum, bounded cost up to G = 10⁹."""

import math
import tracemalloc

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from grpo_theory.theory import advantage as adv
from grpo_theory.theory import expected_advantage, gradient_scale

P_GRID = [0.0, 1e-9, 1e-3, 0.01, 0.1, 0.3, 0.5, 0.77, 0.99, 1 - 1e-9, 1.0]


@pytest.mark.parametrize(("std_ddof", "eps"), [(0, 0.0), (1, 0.0), (1, 1e-4), (0, 0.1)])
@pytest.mark.parametrize("reward", [0, 1])
def test_window_sum_equals_full_sum_at_the_threshold(std_ddof, eps, reward):
    G = adv.EXACT_SUM_MAX_G
    p = np.array(P_GRID)
    full = adv._full_sum(G, reward, std_ddof, eps, p)
    window = adv._window_sum(G, reward, std_ddof, eps, p)
    # Truncation is < 2e-40 sqrt(G); the rest is rounding in two different summation orders.
    np.testing.assert_allclose(window, full, rtol=1e-13, atol=1e-14)


def _mp_expected_advantage(G, p, reward):
    """E[A | r] for ddof 0, eps 0 in 40-digit arithmetic (every term of the sum)."""
    mp.mp.dps = 40
    p, n, tot = mp.mpf(p), G - 1, mp.mpf(0)
    for j in range(G):
        k = j + reward
        if k in (0, G):
            continue
        s = mp.sqrt(mp.mpf(k * (G - k)) / (G * G))
        a = mp.mpf(G - k) / G / s if reward == 1 else -mp.mpf(k) / G / s
        tot += mp.binomial(n, j) * p**j * (1 - p) ** (n - j) * a
    return tot


@pytest.mark.parametrize("p", [0.3])
def test_just_past_the_threshold_the_public_path_is_exact_to_rounding(p):
    G = adv.EXACT_SUM_MAX_G + 1  # the public function uses the window here (reward 0 follows from the
    exact = _mp_expected_advantage(G, p, 1)  # mean-zero identity, tested below)
    got = expected_advantage(G, p, 1)
    assert abs(got - float(exact)) <= 1e-14 * abs(float(exact)), (got, exact)


def test_full_sum_is_exact_to_rounding_below_the_threshold():
    G = 1000
    for reward in (0, 1):
        exact = _mp_expected_advantage(G, 0.3, reward)
        assert abs(expected_advantage(G, 0.3, reward) - float(exact)) <= 1e-14 * abs(float(exact))


@pytest.mark.parametrize("G", [10**6, 10**8, 10**9])
def test_huge_groups_answer_near_the_limit_with_bounded_memory(G):
    tracemalloc.start()
    try:
        lam = gradient_scale(G, 0.3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.1f} MiB"  # 10**8 took 4.7 GB with the full table
    limit = 1 / math.sqrt(0.3 * 0.7)
    # λ_G → λ_∞ with a gap of order 1/G (measured 3e-4 at G = 4096, 1.3e-5 at 10⁵)
    assert abs(lam - limit) < 2.0 / G + 1e-12


def test_gap_to_the_limit_shrinks_like_one_over_g():
    limit = 1 / math.sqrt(0.3 * 0.7)
    gaps = [abs(gradient_scale(G, 0.3) - limit) for G in (10**4, 10**5, 10**6)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert 5 < gaps[0] / gaps[1] < 20 and 5 < gaps[1] / gaps[2] < 20


def test_mean_zero_identity_holds_for_a_large_group():
    G = 10**7
    for p in (1e-6, 0.2, 0.5, 0.9):
        a1, a0 = expected_advantage(G, p, 1), expected_advantage(G, p, 0)
        assert abs(p * a1 + (1 - p) * a0) < 1e-12 * max(1.0, abs(a1))


def test_arrays_of_p_at_large_g_match_scalar_calls():
    p = np.array([[0.0, 0.25], [0.5, 1.0]])
    arr = gradient_scale(10**5, p)
    assert arr.shape == p.shape
    for idx in np.ndindex(p.shape):
        assert arr[idx] == gradient_scale(10**5, float(p[idx]))


def test_endpoints_at_large_g_equal_the_closed_form():
    # λ_G(0) = sqrt(G - 1): the one correct rollout of a group has A = sqrt(G - 1) (ddof 0, eps 0)
    G = 10**9
    assert gradient_scale(G, 0.0) == pytest.approx(math.sqrt(G - 1), rel=1e-12)
    # p in the far subnormal range (where the pmf library overflows) is p = 0 to the last digit
    assert gradient_scale(7, 1e-308) == gradient_scale(7, 0.0) == pytest.approx(math.sqrt(6), rel=1e-15)
    assert gradient_scale(10**6, 5e-324) == gradient_scale(10**6, 0.0)


def test_beyond_the_limits_raise_a_clear_error():
    with pytest.raises(ValueError, match=r"MAX_G"):
        gradient_scale(10**9 + 1, 0.3)
    with pytest.raises(ValueError, match=r"SYMBOLIC_MAX_G.*float"):
        gradient_scale(adv.SYMBOLIC_MAX_G + 1, sp.Rational(1, 3))
    assert gradient_scale("inf", 0.3) == pytest.approx(1 / math.sqrt(0.21))
