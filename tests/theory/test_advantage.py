"""R5, R6: expected advantage and gradient scale λ_G, against hand-derived closed forms.

Expected values are derived by hand in proofs/R5-expected-advantage.md and proofs/R6-gradient-scale.md,
or recomputed here by brute-force enumeration of all 2^G reward vectors (an independent code path).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from grpo_theory.theory import expected_advantage, gradient_scale, group_advantages, zero_signal_probability
from grpo_theory.theory.symbols import eps, p

GRID = [sp.Integer(0), sp.Rational(1, 4), sp.Rational(1, 2), sp.Rational(3, 4), sp.Integer(1)]
probs = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def _zero(expr) -> bool:
    return sp.simplify(expr) == 0


# ------------------------------------------------------------------------------------------------ R5


def test_expected_advantage_g2_is_r_minus_p_over_1_plus_2eps():
    for r in (0, 1):
        assert _zero(expected_advantage(2, p, r, eps=eps) - (r - p) / (1 + 2 * eps))


def test_expected_advantage_g2_sample_std_is_r_minus_p_over_sqrt2():
    for r in (0, 1):
        assert _zero(expected_advantage(2, p, r, std_ddof=1) - (r - p) / sp.sqrt(2))


def test_expected_advantage_g3_is_sqrt2_times_r_minus_p():
    for r in (0, 1):
        assert _zero(expected_advantage(3, p, r) - sp.sqrt(2) * (r - p))


@pytest.mark.parametrize("G", [2, 3, 4, 5, 16])
def test_expected_advantage_has_mean_zero(G):
    # Σ_i A_i = 0 in every group, so p E[A|1] + (1-p) E[A|0] = 0 (a polynomial in p: expand suffices).
    assert sp.expand(p * expected_advantage(G, p, 1) + (1 - p) * expected_advantage(G, p, 0)) == 0


def test_expected_advantage_limit_eps_to_zero_g2():
    for r in (0, 1):
        assert sp.limit(expected_advantage(2, p, r, eps=eps), eps, 0) == r - p


def test_expected_advantage_large_group_limit_formula():
    for r in (0, 1):
        assert _zero(expected_advantage("inf", p, r) - (r - p) / sp.sqrt(p * (1 - p)))
    # Prop. 5.1's "differ by a scaling factor": lim_{ε→0} E_∞ / E_2 = 1/√(p(1-p))
    ratio = expected_advantage(math.inf, p, 1, eps=eps) / expected_advantage(2, p, 1, eps=eps)
    assert _zero(sp.limit(ratio, eps, 0) - 1 / sp.sqrt(p * (1 - p)))


def test_expected_advantage_converges_to_limit_as_g_grows():
    gaps = [
        abs(expected_advantage(G, 0.3, 1) - expected_advantage(math.inf, 0.3, 1)) for G in (16, 256, 4096)
    ]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 2e-3


def test_expected_advantage_endpoint_limits():
    assert expected_advantage("inf", sp.Integer(0), 1) == sp.oo
    assert expected_advantage("inf", sp.Integer(0), 0) == 0
    assert expected_advantage("inf", 1.0, 0) == -math.inf
    assert expected_advantage(2, 0.0, 0) == 0.0


@given(probs)
def test_reward_flip_symmetry(x):
    # relabelling correct <-> incorrect maps p -> 1-p and A -> -A
    assert expected_advantage(4, x, 0) == pytest.approx(-expected_advantage(4, 1 - x, 1), abs=1e-12)


# ------------------------------------------------------------------------------------------------ R6


def test_lambda2_is_one_over_1_plus_2eps_and_lambda3_is_sqrt2():
    assert _zero(gradient_scale(2, p, eps=eps) - 1 / (1 + 2 * eps))
    assert _zero(gradient_scale(3, p) - sp.sqrt(2))


def test_lambda_sample_std_g2_g3():
    assert _zero(gradient_scale(2, p, std_ddof=1) - 1 / sp.sqrt(2))
    assert _zero(gradient_scale(3, p, std_ddof=1) - 2 / sp.sqrt(3))


def test_lambda4_closed_form_and_grid():
    lam4 = sp.sqrt(3) * (p**2 + (1 - p) ** 2) + 3 * p * (1 - p)
    assert _zero(gradient_scale(4, p) - lam4)
    expected = {
        0: sp.sqrt(3),
        sp.Rational(1, 4): 5 * sp.sqrt(3) / 8 + sp.Rational(9, 16),
        sp.Rational(1, 2): sp.sqrt(3) / 2 + sp.Rational(3, 4),
        sp.Rational(3, 4): 5 * sp.sqrt(3) / 8 + sp.Rational(9, 16),
        1: sp.sqrt(3),
    }
    for x in GRID:
        assert _zero(gradient_scale(4, x) - expected[x])


@pytest.mark.parametrize("G", [2, 3, 4, 16])
def test_lambda_at_p0_is_sqrt_g_minus_1(G):
    # at p = 0 only the own success can be positive: k = 1, A+ = ((G-1)/G) / (√(G-1)/G) = √(G-1)
    assert _zero(gradient_scale(G, sp.Integer(0)) - sp.sqrt(G - 1))


def test_lambda_infinity():
    assert _zero(gradient_scale("inf", p) - 1 / sp.sqrt(p * (1 - p)))
    assert _zero(gradient_scale(math.inf, sp.Rational(1, 4)) - 4 / sp.sqrt(3))
    assert gradient_scale(math.inf, sp.Rational(1, 2)) == 2
    assert gradient_scale("inf", sp.Integer(0)) == sp.oo
    assert gradient_scale(math.inf, 1.0) == math.inf


def _brute_force_lambda(G: int, x: float) -> float:
    """λ_G(x) by enumerating all 2^G reward vectors, population std, ε = 0 (independent of the code)."""
    rs = np.array(list(itertools.product((0.0, 1.0), repeat=G)))  # (2^G, G)
    w = np.prod(np.where(rs == 1.0, x, 1.0 - x), axis=1)
    mean, std = rs.mean(axis=1), rs.std(axis=1)
    a1 = np.where(std > 0, (rs[:, 0] - mean) / np.where(std > 0, std, 1.0), 0.0)
    pos = rs[:, 0] == 1.0
    return float((w * a1)[pos].sum() / w[pos].sum() - (w * a1)[~pos].sum() / w[~pos].sum())


@pytest.mark.parametrize(("G", "x"), [(5, 0.3), (16, 0.5), (16, 0.05)])
def test_lambda_matches_brute_force_enumeration(G, x):
    assert gradient_scale(G, x) == pytest.approx(_brute_force_lambda(G, x), rel=1e-12)


def _lambda_from_contrastive_weight(G: int, x):
    """λ_G = E_k[√(k(G−k))/G · 1{0<k<G}] / (p(1−p)) with k ~ Bin(G, p): a second, independent closed form.

    By R1 the per-prompt update is √(p̂(1−p̂)) (ḡ⁺ − ḡ⁻); given k the two sample means have expectations m^±,
    so its mean is E_k[√(k(G−k))/G] (m⁺ − m⁻), and m⁺ − m⁻ = m⁺/(1−p) = ∇p/(p(1−p)) by the score identity.
    """
    w = sum(sp.binomial(G, k) * x**k * (1 - x) ** (G - k) * sp.sqrt(k * (G - k)) / G for k in range(1, G))
    return w / (x * (1 - x))


@pytest.mark.parametrize("G", [2, 3, 4, 16])
def test_lambda_exact_on_interior_grid_equals_contrastive_weight_form(G):
    for x in GRID[1:-1]:
        assert sp.expand(gradient_scale(G, x) - _lambda_from_contrastive_weight(G, x)) == 0


def test_lambda16_at_one_half_and_one_twentieth():
    assert round(gradient_scale(16, 0.5), 2) == 1.93
    assert round(gradient_scale(16, 0.05), 2) == 3.27


@given(probs)
def test_lambda_symmetric_in_p(x):
    assert gradient_scale(7, x) == pytest.approx(gradient_scale(7, 1 - x), rel=1e-12)


@given(st.integers(min_value=2, max_value=16), st.floats(min_value=0.01, max_value=0.99))
def test_ddof_rescales_lambda_by_sqrt_g_minus_d_over_g(G, x):
    assert gradient_scale(G, x, std_ddof=1) == pytest.approx(math.sqrt((G - 1) / G) * gradient_scale(G, x),
                                                             rel=1e-12)


def test_lambda_increases_with_g_at_fixed_interior_p():
    lams = [gradient_scale(G, 0.2) for G in (2, 3, 4, 8, 16)] + [gradient_scale(math.inf, 0.2)]
    assert all(a < b for a, b in itertools.pairwise(lams))


# ------------------------------------------------------------------------------------ types and inputs


def test_types_float_array_sympy():
    assert isinstance(gradient_scale(16, 0.3), float)
    grid = np.linspace(0.0, 1.0, 11)
    out = gradient_scale(16, grid)
    assert isinstance(out, np.ndarray) and out.shape == (11,)
    assert out[5] == pytest.approx(gradient_scale(16, 0.5))
    assert gradient_scale("inf", grid).shape == (11,)
    assert isinstance(gradient_scale(3, sp.Rational(1, 3)), sp.Basic)
    assert zero_signal_probability(16, grid).shape == (11,)


def test_group_advantages_values():
    assert group_advantages(2, 1) == (1, -1)
    assert group_advantages(2, 1, std_ddof=1) == (1 / sp.sqrt(2), -1 / sp.sqrt(2))
    assert group_advantages(3, 1) == (sp.sqrt(2), -1 / sp.sqrt(2))
    assert group_advantages(4, 4) == (0, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: gradient_scale(1, 0.5),
        lambda: gradient_scale("big", 0.5),
        lambda: gradient_scale(2.5, 0.5),
        lambda: gradient_scale(2, 1.5),
        lambda: gradient_scale(2, np.array([0.2, -0.1])),
        lambda: gradient_scale(2, 0.5, std_ddof=2),
        lambda: gradient_scale(2, 0.5, eps=-1e-6),
        lambda: expected_advantage(2, 0.5, 0.5),
        lambda: gradient_scale(2, sp.Rational(3, 2)),
        lambda: zero_signal_probability(0, 0.5),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_docstring_examples_run():
    import doctest

    from grpo_theory.theory import advantage

    result = doctest.testmod(advantage)
    assert result.attempted >= 6 and result.failed == 0
