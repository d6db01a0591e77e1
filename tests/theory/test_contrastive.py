"""R1–R3: GRPO's contrastive form, the G = 2 advantages, and 2-GRPO = RLOO = 2 Dr. GRPO.

Symbolic halves use the exact helpers of grpo_theory.theory.contrastive; the numeric halves recompute the
advantages with numpy here (independent code) and compare with grpo_theory.losses in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from grpo_theory.losses import group_advantages as torch_group_advantages
from grpo_theory.losses import rloo_advantages
from grpo_theory.theory import contrastive as c
from grpo_theory.theory.symbols import eps

groups = st.lists(st.sampled_from([0.0, 1.0]), min_size=2, max_size=16)


# -------------------------------------------------------------------------------------------------- R1


def test_sqrt_var_factor_of_positive_and_negative_advantages():
    assert c.check_sqrt_var_factor()


def test_contrastive_identity_exact_for_every_mixed_group_up_to_g5():
    assert c.check_contrastive_identity(max_G=5)


def test_dr_grpo_factor_is_phat_one_minus_phat():
    assert c.check_dr_grpo_identity(max_G=5)


def test_pairwise_form_for_real_rewards():
    assert c.check_pairwise_form(max_G=5)


def test_contrastive_identity_g4_k1_by_hand():
    # G = 4, k = 1: A+ = (3/4)/(√3/4) = √3, A- = -(1/4)/(√3/4) = -1/√3; √(p̂(1-p̂)) = √3/4
    X = sp.symbols("x1:5", real=True)
    lhs = (sp.sqrt(3) * X[0] - (X[1] + X[2] + X[3]) / sp.sqrt(3)) / 4
    rhs = sp.sqrt(3) / 4 * (X[0] - (X[1] + X[2] + X[3]) / 3)
    assert sp.simplify(lhs - rhs) == 0
    a_pos, a_neg = c.advantages_of((1, 0, 0, 0))[:2]
    assert sp.simplify(a_pos - sp.sqrt(3)) == 0 and sp.simplify(a_neg + 1 / sp.sqrt(3)) == 0


@given(groups, st.integers(min_value=0, max_value=2**31 - 1))
def test_contrastive_identity_numeric(rs, seed):
    r = np.array(rs)
    G, k = len(r), int(r.sum())
    x = np.random.default_rng(seed).normal(size=G)
    std = r.std()
    adv = np.zeros(G) if std == 0 else (r - r.mean()) / std
    lhs = (adv * x).mean()
    ph = k / G
    rhs = 0.0 if k in (0, G) else np.sqrt(ph * (1 - ph)) * (x[r == 1].mean() - x[r == 0].mean())
    assert lhs == pytest.approx(rhs, abs=1e-12)


@given(st.lists(st.integers(-50, 50).map(lambda n: n / 10), min_size=2, max_size=8), st.sampled_from([0, 1]),
       st.sampled_from([0.0, 1e-4]))
def test_exact_advantages_match_the_loss_library(rs, ddof, e):
    exact = [float(a) for a in c.advantages_of(tuple(sp.nsimplify(x) for x in rs), std_ddof=ddof,
                                               eps=sp.nsimplify(e))]
    lib = torch_group_advantages(torch.tensor([rs], dtype=torch.float64), std_ddof=ddof, eps=e)[0].tolist()
    assert lib == pytest.approx(exact, abs=1e-9)


# -------------------------------------------------------------------------------------------------- R2


def test_g2_advantages():
    a = c.advantages_of((1, 0), eps=eps)
    assert sp.simplify(a[0] - 1 / (1 + 2 * eps)) == 0 and sp.simplify(a[1] + 1 / (1 + 2 * eps)) == 0
    assert c.advantages_of((1, 0), std_ddof=1) == [1 / sp.sqrt(2), -1 / sp.sqrt(2)]
    assert c.advantages_of((sp.Rational(7, 10), sp.Rational(1, 10))) == [1, -1]  # gap 0.6 -> ±1
    assert c.advantages_of((sp.Integer(-3), sp.Integer(5))) == [-1, 1]
    assert c.advantages_of((2, 2)) == [0, 0]
    assert c.check_R2()


@given(st.floats(-100, 100, allow_nan=False), st.floats(-100, 100, allow_nan=False))
def test_g2_advantage_is_sign_of_gap_in_the_loss_library(a, b):
    # gaps below ~1e-154 underflow when squared (the std becomes 0): outside the float64 range of the claim
    assume(a == b or abs(a - b) > 1e-100)
    adv = torch_group_advantages(torch.tensor([[a, b]], dtype=torch.float64))[0]
    assert adv.tolist() == pytest.approx([float(np.sign(a - b)), float(np.sign(b - a))], abs=1e-9)


def test_bad_group_raises():
    with pytest.raises(ValueError):
        c.advantages_of((1,))


# -------------------------------------------------------------------------------------------------- R3


def test_two_grpo_equals_rloo_equals_twice_dr_grpo_for_binary_rewards():
    X1, X2 = sp.symbols("X_1 X_2", real=True)
    e = c.pair_estimators(sp.Integer(1), sp.Integer(0))
    assert sp.simplify(e["2grpo"] - (X1 - X2) / 2) == 0  # hand: A = (1, -1), (1/2) Σ A_i X_i
    assert sp.simplify(e["dr_grpo"] - (X1 - X2) / 4) == 0  # A = (1/2, -1/2)
    assert c.check_R3()


def test_two_grpo_differs_from_rloo_for_non_binary_rewards():
    e = c.pair_estimators(sp.Rational(1, 2), sp.Integer(0))
    X1, X2 = sp.symbols("X_1 X_2", real=True)
    assert sp.simplify(e["2grpo"] - (X1 - X2) / 2) == 0 and sp.simplify(e["rloo"] - (X1 - X2) / 4) == 0


def test_loss_library_rloo_equals_grpo_at_g2_binary():
    r = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    assert torch.equal(rloo_advantages(r), torch_group_advantages(r))


def test_tied_group_contributes_nothing():
    X = sp.symbols("x1:5", real=True)
    for r in ((1, 1, 1, 1), (0, 0, 0, 0), (sp.Rational(2, 3),) * 4):
        adv = c.advantages_of(r)
        assert adv == [0, 0, 0, 0] and sum(a * x for a, x in zip(adv, X, strict=True)) == 0


def test_g2_mean_and_stds_by_hand():
    # rewards (5, 1): mean 3, deviations ±2, population std 2 = |d|/2, sample std 2√2 = |d|/√2
    r = (sp.Integer(5), sp.Integer(1))
    assert c.advantages_of(r) == [1, -1]  # 2 / 2
    assert c.advantages_of(r, std_ddof=1) == [1 / sp.sqrt(2), -1 / sp.sqrt(2)]  # 2 / (2√2)
    a = c.advantages_of(r, eps=sp.Rational(1, 2))
    assert a == [sp.Rational(4, 5), -sp.Rational(4, 5)]  # 2 / (2 + 1/2) = |d|/(|d| + 2ε) with d = 4
