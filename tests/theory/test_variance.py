"""R10 (variance of a product) and R11 (mini-batch variance, hierarchy, GRPO coupling)."""

from __future__ import annotations

import sympy as sp

from grpo_theory.theory import variance as v


def test_product_variance_identity_symbolic():
    assert v.check_R10()


def test_product_variance_by_hand_bernoulli_logit_p_one_tenth():
    # r ~ Bern(1/10), g = r - 1/10: rg = (9/10) r -> Var = (81/100)(9/100) = 729/10000
    p = sp.Rational(1, 10)
    var_rg, main, inter = v.product_variance_terms([(p, 1, 1 - p), (1 - p, 0, -p)])
    assert var_rg == sp.Rational(729, 10000)
    assert main == sp.Rational(9, 100) * sp.Rational(1, 10)  # Var(g)(Var r + (E r)^2) = (9/100)(1/10)
    assert inter == var_rg - main and inter / main == sp.Rational(71, 10)


def test_identity_needs_zero_mean_gradient():
    var_rg, main, inter = v.product_variance_terms([(sp.Rational(1, 2), 1, 1), (sp.Rational(1, 2), 0, 3)])
    # rg in {1, 0}: Var = 1/4; main: Var(g) = 1, Var r + (E r)^2 = 1/2; interaction: Cov(r², g²) = -2, Cov(r,
    # g)² = 1/4
    assert var_rg == sp.Rational(1, 4) and main == sp.Rational(1, 2) and inter == sp.Rational(-9, 4)
    assert var_rg != main + inter


def test_minibatch_and_hierarchical_variance_by_enumeration():
    assert v.check_hierarchical_variance()


def test_grpo_group_terms_are_coupled_within_a_prompt():
    # hand, p = 1/2: mixed pairs give A_1 g_1 = A_2 g_2 = 1/2 (prob 1/2), ties 0:
    # E[A1g1 A2g2] = 1/8, E[A1g1] = E[A2g2] = 1/4, Cov = 1/8 - 1/16 = 1/16
    assert v.grpo_pair_coupling().subs(v.p, sp.Rational(1, 2)) == sp.Rational(1, 16)
    assert v.check_grpo_coupling() and v.check_R11()


def test_var_of_mean_by_hand():
    # one prompt type, g in {0, 2} equally likely: Var g = 1, so Var of the mean of 2 is 1/2
    prompts = [(sp.Integer(1), 0)]
    cond = {0: [(sp.Rational(1, 2), sp.Integer(0)), (sp.Rational(1, 2), sp.Integer(2))]}
    assert v._var_of_mean_by_enumeration(1, 2, prompts, cond) == sp.Rational(1, 2)
    assert v._var_of_mean_by_enumeration(2, 1, prompts, cond) == sp.Rational(1, 2)
