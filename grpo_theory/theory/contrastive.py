r"""GRPO as a positive-minus-negative (contrastive) update; the G = 2 advantages (R1, R2, R3).

R1 (v2 Prop. 3.1 / v3 Prop. 3.2). Binary rewards, k of G correct, p̂ = k/G, population std, ε = 0. For any
per-rollout quantity X_i (a score function, a clipped surrogate, ...):

.. math::  \frac1G\sum_i A_i X_i = \sqrt{\hat p(1-\hat p)}\,(\bar X^+ - \bar X^-),

and without the std (Dr. GRPO, A_i = r_i − r̄) the factor is p̂(1−p̂). For real rewards the centered form
is a sum over pairs: (1/G) Σ_i (r_i − r̄) X_i = (1/G²) Σ_{i<j} (r_i − r_j)(X_i − X_j).

R2. G = 2: a mixed pair gets ±1/(1+2ε) (ddof 0), ±1/√2 (ddof 1, ε = 0); for any real rewards and ε = 0
the advantage is sign(r_i − r_j): the reward gap's size is discarded.

R3. Binary rewards, G = 2, ddof 0, ε = 0: 2-GRPO = RLOO(G=2) = 2 × Dr. GRPO(G=2)
= ½ (r_1 − r_2)(X_1 − X_2). For non-binary rewards 2-GRPO and RLOO differ (sign vs difference).
"""

from __future__ import annotations

import itertools

import sympy as sp

from grpo_theory.theory.advantage import group_advantages
from grpo_theory.theory.evidence import Evidence
from grpo_theory.theory.symbols import eps, phat, q1, reals


def advantages_of(rewards: tuple, *, std_ddof: int = 0, eps: sp.Expr = sp.S.Zero) -> list[sp.Expr]:
    """Exact GRPO advantages (r_i − r̄)/(s_d + ε) of one group of (real, sympy) rewards; 0 if all tie."""
    G = len(rewards)
    if G < 2:
        raise ValueError(f"a group needs G >= 2 rewards, got {G}")
    r = [sp.sympify(x) for x in rewards]
    mean = sum(r) / G
    ss = sum((x - mean) ** 2 for x in r)
    if sp.simplify(ss) == 0:
        return [sp.Integer(0)] * G
    s = sp.sqrt(ss / (G - std_ddof))
    return [(x - mean) / (s + eps) for x in r]


# -------------------------------------------------------------------------------------------------- R1


def check_sqrt_var_factor() -> Evidence:
    """A⁺ p̂ = √(p̂(1−p̂)) and A⁻ (1−p̂) = −√(p̂(1−p̂)), with q1 = 1 − p̂ (proof R1, step 2)."""
    ev = Evidence("√(p̂(1−p̂)) factor")
    a_pos, a_neg = q1 / sp.sqrt(phat * q1), -phat / sp.sqrt(phat * q1)
    s = sp.sqrt(phat * q1)
    ev.zero("A⁺ p̂ = √(p̂(1−p̂))", a_pos * phat - s)
    ev.zero("A⁻ (1−p̂) = −√(p̂(1−p̂))", a_neg * q1 + s)
    return ev


def check_contrastive_identity(max_G: int = 5) -> Evidence:
    """(1/G) Σ A_i X_i = √(p̂(1−p̂)) (X̄⁺ − X̄⁻) for every G ≤ max_G and every mixed k (symbolic X_i)."""
    ev = Evidence("contrastive identity")
    for G in range(2, max_G + 1):
        X = reals("X", G)
        for k in range(1, G):
            a_pos, a_neg = group_advantages(G, k)
            A = k * [a_pos] + (G - k) * [a_neg]  # rollouts 1..k correct (order is irrelevant)
            lhs = sum(a * x for a, x in zip(A, X, strict=True)) / G
            ph = sp.Rational(k, G)
            rhs = sp.sqrt(ph * (1 - ph)) * (sum(X[:k]) / k - sum(X[k:]) / (G - k))
            ev.zero(f"G = {G}, k = {k}", lhs - rhs)
    return ev


def check_dr_grpo_identity(max_G: int = 5) -> Evidence:
    """(1/G) Σ (r_i − r̄) X_i = p̂(1−p̂)(X̄⁺ − X̄⁻) for binary rewards (Dr. GRPO)."""
    ev = Evidence("Dr. GRPO identity")
    for G in range(2, max_G + 1):
        X = reals("X", G)
        for k in range(1, G):
            ph = sp.Rational(k, G)
            lhs = sum(((1 if i < k else 0) - ph) * X[i] for i in range(G)) / G
            rhs = ph * (1 - ph) * (sum(X[:k]) / k - sum(X[k:]) / (G - k))
            ev.zero(f"G = {G}, k = {k}", lhs - rhs)
    return ev


def check_pairwise_form(max_G: int = 5) -> Evidence:
    """(1/G) Σ (r_i − r̄) X_i = (1/G²) Σ_{i<j} (r_i − r_j)(X_i − X_j) for real symbolic rewards."""
    ev = Evidence("pairwise form")
    for G in range(2, max_G + 1):
        r, X = reals("r", G), reals("X", G)
        mean = sum(r) / G
        lhs = sum((r[i] - mean) * X[i] for i in range(G)) / G
        rhs = sum((r[i] - r[j]) * (X[i] - X[j]) for i, j in itertools.combinations(range(G), 2)) / G**2
        residual = sp.expand(lhs - rhs)
        ev.add(f"G = {G}", residual == 0, f"residual {residual}")
    return ev


def check_R1() -> Evidence:
    ev = Evidence("R1")
    for fn in (check_sqrt_var_factor, check_contrastive_identity, check_dr_grpo_identity,
               check_pairwise_form):
        ev.extend(fn.__name__.removeprefix("check_"), fn())
    return ev


# -------------------------------------------------------------------------------------------------- R2


def check_R2() -> Evidence:
    """G = 2 advantages: ±1/(1+2ε), ±1/√2, and sign(r_i − r_j) for real rewards (both signs of the gap)."""
    ev = Evidence("R2")
    one, zero = sp.Integer(1), sp.Integer(0)
    a = advantages_of((one, zero), eps=eps)
    ev.zero("A⁺ = 1/(1+2ε)", a[0] - 1 / (1 + 2 * eps))
    ev.zero("A⁻ = −1/(1+2ε)", a[1] + 1 / (1 + 2 * eps))
    a = advantages_of((one, zero), std_ddof=1)
    ev.zero("ddof 1: A⁺ = 1/√2", a[0] - 1 / sp.sqrt(2))
    ev.zero("ddof 1: A⁻ = −1/√2", a[1] + 1 / sp.sqrt(2))
    r2 = sp.Symbol("r_2", real=True)
    for d in (sp.Symbol("d", positive=True), sp.Symbol("d", negative=True)):
        a = advantages_of((r2 + d, r2))
        sign = "d > 0" if d.is_positive else "d < 0"
        ev.zero(f"real rewards, {sign}: A_1 = sign(d)", a[0] - sp.sign(d))
        ev.zero(f"real rewards, {sign}: A_2 = −sign(d)", a[1] + sp.sign(d))
    tied = advantages_of((sp.Rational(3, 7), sp.Rational(3, 7)))
    ev.add("a tied pair gets (0, 0)", tied == [0, 0], tied)
    return ev


# -------------------------------------------------------------------------------------------------- R3


def pair_estimators(r1: sp.Expr, r2: sp.Expr) -> dict[str, sp.Expr]:
    """Per-prompt G = 2 gradient estimators (1/2) Σ A_i X_i for 2-GRPO, RLOO and Dr. GRPO (symbolic X)."""
    X1, X2 = reals("X", 2)
    a = advantages_of((r1, r2))
    return {
        "2grpo": (a[0] * X1 + a[1] * X2) / 2,
        "rloo": ((r1 - r2) * X1 + (r2 - r1) * X2) / 2,
        "dr_grpo": ((r1 - (r1 + r2) / 2) * X1 + (r2 - (r1 + r2) / 2) * X2) / 2,
        "kernel": (r1 - r2) * (X1 - X2) / 2,
    }


def check_R3() -> Evidence:
    """2-GRPO = RLOO = 2 Dr. GRPO = ½(r1−r2)(X1−X2) on all four binary pairs; not for rewards (1/2, 0)."""
    ev = Evidence("R3")
    for r1, r2 in itertools.product((0, 1), repeat=2):
        e = pair_estimators(sp.Integer(r1), sp.Integer(r2))
        ev.zero(f"r = ({r1}, {r2}): 2-GRPO = RLOO", e["2grpo"] - e["rloo"])
        ev.zero(f"r = ({r1}, {r2}): 2-GRPO = 2 Dr. GRPO", e["2grpo"] - 2 * e["dr_grpo"])
        ev.zero(f"r = ({r1}, {r2}): RLOO = ½(r1−r2)(X1−X2)", e["rloo"] - e["kernel"])
    e = pair_estimators(sp.Rational(1, 2), sp.Integer(0))  # the binary condition is needed
    diff = sp.simplify(e["2grpo"] - e["rloo"])
    ev.add("rewards (1/2, 0): 2-GRPO ≠ RLOO (the binary condition is needed)", diff != 0,
           f"difference {diff}")
    return ev


CHECKS = {"R1": check_R1, "R2": check_R2, "R3": check_R3}
