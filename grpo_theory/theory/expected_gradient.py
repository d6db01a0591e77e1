r"""Checks of R5 (expected advantage) and R6 (E[ĝ_G | q] = λ_G(p) ∇p), the latter by exact enumeration.

R6 derivation (proofs/R6-gradient-scale.md): by exchangeability E[(1/G) Σ_i A_i g_i] = E[A_1 g_1]; A_1
depends on o_1 only through r_1, so E[A_1 g_1] = p a_1 m⁺ + (1−p) a_0 m⁻ with a_r = E[A | r] and
m^± = E[g | r]; the score identity p m⁺ + (1−p) m⁻ = E[∇ log π] = 0 and ∇p = E[r g] = p m⁺ give
E[ĝ_G] = (a_1 − a_0) ∇p = λ_G(p) ∇p.

The enumeration check: a bandit with K = 3 responses, π_w(o) = w_o / Σ w (direct parametrization, exact),
rewards (1, 0, 0); sum (1/G) Σ_i A_i ∇_w log π(o_i) over all K^G outcomes with their exact probabilities
and compare with λ_G(p) ∇_w p, p = π_w(0). This uses neither the score identity nor exchangeability.
"""

from __future__ import annotations

import itertools
import math

import sympy as sp

from grpo_theory.theory.advantage import expected_advantage, gradient_scale
from grpo_theory.theory.contrastive import advantages_of
from grpo_theory.theory.evidence import Evidence
from grpo_theory.theory.symbols import eps, p

W = sp.symbols("w0:3", positive=True)
REWARD = (1, 0, 0)


def exact_expected_group_gradient(G: int, *, std_ddof: int = 0) -> sp.Matrix:
    """E[(1/G) Σ_i A_i ∇ log π(o_i)] on the 3-armed bandit, by summing over all 3^G outcomes."""
    S = sum(W)
    probs = [w / S for w in W]
    scores = [sp.Matrix([sp.diff(sp.log(pr), x) for x in W]) for pr in probs]
    total = sp.zeros(len(W), 1)
    for outcome in itertools.product(range(len(W)), repeat=G):
        weight = math.prod(probs[o] for o in outcome)
        adv = advantages_of(tuple(sp.Integer(REWARD[o]) for o in outcome), std_ddof=std_ddof)
        total += weight * sum((a * scores[o] for a, o in zip(adv, outcome, strict=True)),
                              sp.zeros(len(W), 1)) / G
    return total


def check_expected_gradient_is_lambda_grad_p(G: int, *, std_ddof: int = 0) -> Evidence:
    ev = Evidence(f"E[ĝ_{G}] = λ_{G} ∇p by enumeration (ddof {std_ddof})")
    pw = W[0] / sum(W)
    lam = gradient_scale(G, p, std_ddof=std_ddof).subs(p, pw)
    grad_p = sp.Matrix([sp.diff(pw, x) for x in W])
    diff = exact_expected_group_gradient(G, std_ddof=std_ddof) - lam * grad_p
    # a rational point first (cheap, exact), then symbolically for G <= 3
    point = dict(zip(W, (2, 3, 5), strict=True))
    if ev.zero_vec("at w = (2, 3, 5)", diff.subs(point)) and G <= 3:
        ev.zero_vec("symbolic w", diff)
    return ev


def check_R5() -> Evidence:
    ev = Evidence("R5")
    for r in (0, 1):
        ev.zero(f"G = 2: E[A | {r}] = ({r} − p)/(1+2ε)",
                expected_advantage(2, p, r, eps=eps) - (r - p) / (1 + 2 * eps))
        ev.zero(f"G = 3: E[A | {r}] = √2 ({r} − p)", expected_advantage(3, p, r) - sp.sqrt(2) * (r - p))
        ev.zero(f"G = ∞: E[A | {r}] = ({r} − p)/√(p(1−p))",
                expected_advantage("inf", p, r) - (r - p) / sp.sqrt(p * (1 - p)))
        lim = sp.limit(expected_advantage(2, p, r, eps=eps), eps, 0)
        ev.add(f"ε → 0 limit at G = 2, r = {r}", lim == r - p, lim)
    for G in (4, 5):  # mean-zero: p E[A|1] + (1-p) E[A|0] = 0
        ev.zero(f"G = {G}: p E[A|1] + (1−p) E[A|0] = 0",
                p * expected_advantage(G, p, 1) + (1 - p) * expected_advantage(G, p, 0))
    gaps = [abs(expected_advantage(G, 0.3, 1) - expected_advantage("inf", 0.3, 1)) for G in (16, 256, 4096)]
    ev.add("convergence to the G = ∞ value (G = 16, 256, 4096)",
           gaps[0] > gaps[1] > gaps[2] and gaps[2] < 2e-3, gaps)
    return ev


def check_R6() -> Evidence:
    ev = Evidence("R6")
    ev.zero("λ_2 = 1/(1+2ε)", gradient_scale(2, p, eps=eps) - 1 / (1 + 2 * eps))
    ev.zero("λ_3 = √2", gradient_scale(3, p) - sp.sqrt(2))
    ev.zero("λ_2 = 1/√2 (ddof 1)", gradient_scale(2, p, std_ddof=1) - 1 / sp.sqrt(2))
    ev.zero("λ_∞ = 1/√(p(1−p))", gradient_scale("inf", p) - 1 / sp.sqrt(p * (1 - p)))
    ev.zero("λ_4 = √3 (p² + (1−p)²) + 3p(1−p)",
            gradient_scale(4, p) - (sp.sqrt(3) * (p**2 + (1 - p) ** 2) + 3 * p * (1 - p)))
    ev.close("λ_16(0.5)", gradient_scale(16, 0.5), 1.93, 0.005)
    ev.close("λ_16(0.05)", gradient_scale(16, 0.05), 3.27, 0.005)
    for G in (2, 3, 4):
        ev.extend(f"enumeration G = {G}", check_expected_gradient_is_lambda_grad_p(G))
    ev.extend("enumeration G = 2, ddof 1", check_expected_gradient_is_lambda_grad_p(2, std_ddof=1))
    return ev


CHECKS = {"R5": check_R5, "R6": check_R6}
