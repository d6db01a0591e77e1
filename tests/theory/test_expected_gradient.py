"""R6: E[ĝ_G | q] = λ_G(p) ∇p, by exact enumeration of all 3^G outcomes of a 3-armed bandit."""

from __future__ import annotations

import pytest
import sympy as sp

from grpo_theory.theory import expected_gradient as eg


@pytest.mark.parametrize("G", [2, 3])
def test_expected_group_gradient_is_lambda_times_grad_p_symbolically(G):
    assert eg.check_expected_gradient_is_lambda_grad_p(G)


def test_expected_group_gradient_g4_at_a_rational_point():
    assert eg.check_expected_gradient_is_lambda_grad_p(4)


def test_sample_std_g2_gives_grad_p_over_sqrt2():
    assert eg.check_expected_gradient_is_lambda_grad_p(2, std_ddof=1)


def test_g2_expected_gradient_is_grad_p_by_hand():
    # 2-GRPO is unbiased for ∇p: at w = (1, 1, 2), p = 1/4, ∇_w p = ((S - w0)/S², -w0/S², -w0/S²) = (3/16, -1/16, -1/16)
    g = eg.exact_expected_group_gradient(2).subs(dict(zip(eg.W, (1, 1, 2), strict=True)))
    assert [sp.nsimplify(x) for x in g] == [sp.Rational(3, 16), -sp.Rational(1, 16), -sp.Rational(1, 16)]


def test_registry_checks_r5_r6():
    assert eg.check_R5() and eg.check_R6()
