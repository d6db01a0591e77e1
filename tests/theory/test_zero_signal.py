"""R7: P0(G, p) = p^G + (1−p)^G, the Jensen gap, and the v3 App. D.3 erratum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from grpo_theory.paper import V3_TABLE3_DISCARD
from grpo_theory.theory import zero_signal as z
from grpo_theory.theory import zero_signal_probability

half, quarter = sp.Rational(1, 2), sp.Rational(1, 4)


def test_p0_exact_grid():
    # hand: P0(2, 1/4) = 1/16 + 9/16; P0(3, 1/4) = 1/64 + 27/64; P0(16, 1/2) = 2 / 2^16
    assert zero_signal_probability(2, quarter) == sp.Rational(5, 8)
    assert zero_signal_probability(3, quarter) == sp.Rational(7, 16)
    assert zero_signal_probability(16, half) == sp.Rational(1, 2**15)
    assert zero_signal_probability(4, sp.Rational(3, 4)) == sp.Rational(82, 256)
    for G in (2, 3, 4, 16):
        assert (
            zero_signal_probability(G, sp.Integer(0)) == 1 and zero_signal_probability(G, sp.Integer(1)) == 1
        )


def test_p0_rounded_values_for_g2_and_g16():
    assert zero_signal_probability(2, 0.05) == pytest.approx(0.905)
    assert zero_signal_probability(2, 0.2) == pytest.approx(0.68)
    assert zero_signal_probability(16, 0.05) == pytest.approx(0.440, abs=5e-4)
    assert zero_signal_probability(16, 0.2) == pytest.approx(0.028, abs=5e-4)


def test_p0_infinite_group():
    assert list(zero_signal_probability("inf", np.array([0.0, 0.3, 1.0]))) == [1.0, 0.0, 1.0]
    assert zero_signal_probability(math.inf, half) == 0


@given(st.lists(st.floats(0, 1), min_size=1, max_size=20), st.integers(2, 16))
def test_jensen_mean_p0_at_least_p0_of_mean(ps, G):
    mean_p0 = sum(zero_signal_probability(G, x) for x in ps) / len(ps)
    assert mean_p0 >= zero_signal_probability(G, sum(ps) / len(ps)) - 1e-12


def test_g2_jensen_gap_is_twice_the_variance_by_hand():
    # prompts with p = 0 and p = 1/2, equally likely: E P0 = (1 + 1/2)/2 = 3/4, P0(1/4) = 5/8, Var p = 1/16
    mean_p0 = (zero_signal_probability(2, sp.Integer(0)) + zero_signal_probability(2, half)) / 2
    assert mean_p0 - zero_signal_probability(2, quarter) == 2 * sp.Rational(1, 16)


def test_expected_informative_prompts():
    assert z.expected_informative_prompts(2, [0.5, 0.5]) == pytest.approx(1.0)  # 2 x (1 - 1/2)
    assert z.expected_informative_prompts(2, [0.0, 1.0, 0.5], n_prompts=300) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        z.expected_informative_prompts(2, [])


def test_printed_discard_formula_cannot_exceed_one_half():
    grid = np.linspace(0, 1, 101)
    assert max(z.printed_discard_formula(x) for x in grid) == pytest.approx(0.5)
    assert all(v > 0.5 for v in V3_TABLE3_DISCARD.values())


def test_implied_mean_rewards_of_table3():
    implied = [round(z.implied_mean_reward(v), 2) for v in V3_TABLE3_DISCARD.values()]
    assert implied == [0.62, 0.81, 0.80, 0.87, 0.83]
    with pytest.raises(ValueError):
        z.implied_mean_reward(0.4)


def test_registry_check_r7():
    assert z.check_R7()


def test_a_measured_tie_rate_with_mean_reward_one_half_fits_table3():
    # Table 3 does not identify r̄: half the prompts at ½ − δ, half at ½ + δ have tie rate ½ + 2δ²
    for v in V3_TABLE3_DISCARD.values():
        lo, hi = z.two_point_prompts_with_tie_rate(v)
        assert abs((lo + hi) / 2 - 0.5) < 1e-15
        measured = (lo**2 + (1 - lo) ** 2 + hi**2 + (1 - hi) ** 2) / 2
        assert abs(measured - v) < 1e-12 and measured >= 0.5
    with pytest.raises(ValueError, match="Jensen"):
        z.two_point_prompts_with_tie_rate(0.4)
