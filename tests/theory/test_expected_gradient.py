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
    # 2-GRPO is unbiased for ∇p: at w = (1, 1, 2), p = 1/4, ∇_w p = ((S - w0)/S², -w0/S², -w0/S²) = (3/16,
    # -1/16, -1/16)
    g = eg.exact_expected_group_gradient(2).subs(dict(zip(eg.W, (1, 1, 2), strict=True)))
    assert [sp.nsimplify(x) for x in g] == [sp.Rational(3, 16), -sp.Rational(1, 16), -sp.Rational(1, 16)]


def test_two_rollout_sample_space_with_sympy_stats():
    # independent of the package: sympy.stats on X1, X2 ~ Bern(p), A_1 = sign(X1 - X2) (0 on ties)
    from sympy.stats import Bernoulli, E

    p = sp.Symbol("p", positive=True)
    X1, X2 = Bernoulli("X1", p), Bernoulli("X2", p)
    A1 = sp.Piecewise((0, sp.Eq(X1, X2)), (sp.sign(X1 - X2), True))
    assert sp.simplify(E(A1, sp.Eq(X1, 1)) - (1 - p)) == 0 and sp.simplify(E(A1, sp.Eq(X1, 0)) + p) == 0
    # Bernoulli-logit policy: g = r - p, ∂p/∂θ = p(1-p); ĝ_2 = ½ Σ A_i g_i = ½ 1{X1 ≠ X2}
    g2 = (X1 - X2) * (X1 - p) / 2 + (X2 - X1) * (X2 - p) / 2
    assert sp.simplify(E(g2) - p * (1 - p)) == 0  # λ_2 = 1: unbiased for ∂p/∂θ
    # hand: Var(½ 1{mixed}) = ¼ · 2p(1-p) · (1 - 2p(1-p)) = ½ p(1-p)(p² + (1-p)²)
    assert sp.simplify(E(g2**2) - E(g2) ** 2 - p * (1 - p) * (p**2 + (1 - p) ** 2) / 2) == 0
