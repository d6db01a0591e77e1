"""R8 (Prop. 4.1, with the Cov² typo) and R9 (score identity, law of total covariance)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from grpo_theory.theory import control_variate as cv


def test_variance_of_difference_by_hand():
    # V+ = 4, V- = 1, C = 1: c = 1 -> 4 + 1 - 2 = 3; c* = 1 gives (1 - ρ²) V+ = (1 - 1/4) 4 = 3
    assert cv.variance_of_difference(4, 1, 1, 1) == 3


def test_printed_bound_with_cov_squared_is_false():
    # ρ = 1/2; c = 6 is inside [0, 2C²/V-] = [0, 8] but outside [0, 2C/V-] = [0, 4]
    vp, vm, C, c = 16, 1, 2, 6
    assert cv.variance_of_difference(vp, vm, C, c) == 28 > vp


@given(st.floats(0.1, 10), st.floats(0.1, 10), st.floats(-0.99, 0.99).filter(lambda x: abs(x) > 1e-3),
       st.floats(0, 1))
def test_reduction_iff_c_between_zero_and_two_cov_over_var(vp, vm, rho, t):
    C = rho * (vp * vm) ** 0.5
    bound = 2 * C / vm  # the interval is [0, bound] (or [bound, 0] when Cov < 0)
    assert cv.variance_of_difference(vp, vm, C, t * bound) <= vp * (1 + 1e-12)
    for outside in ((1.01 + t) * bound, -(0.01 + t) * bound):
        assert cv.variance_of_difference(vp, vm, C, outside) > vp


def test_grpo_c_equals_one_needs_cov_at_least_half_var():
    assert cv.variance_of_difference(1, 1, 0.5, 1) == 1  # boundary C = V-/2: no change
    assert cv.variance_of_difference(1, 1, 0.4, 1) > 1


def test_registry_check_r8():
    assert cv.check_R8()


def test_score_identity_anti_aligned_conditional_means():
    assert cv.check_score_identity((1, 1, 0)) and cv.check_score_identity((1, 0, 0))


def test_law_of_total_covariance_within_term_zero():
    assert cv.check_total_covariance()


def test_minimum_at_c_star_is_one_minus_rho_squared_times_var():
    from fractions import Fraction as F

    vp, vm, C = 9, 4, 3  # ρ² = 9/36 = 1/4, c* = C/V⁻ = 3/4
    at_star = cv.variance_of_difference(vp, vm, C, F(3, 4))
    assert at_star == F(27, 4) == (1 - F(1, 4)) * vp
    assert all(cv.variance_of_difference(vp, vm, C, F(3, 4) + d) > at_star for d in (F(-1, 10), F(1, 10)))
