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
from grpo_theory.theory.symbols import eps, p

W = sp.symbols("w0:3", positive=True)
REWARD = (1, 0, 0)


def _zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


def exact_expected_group_gradient(G: int, *, std_ddof: int = 0) -> sp.Matrix:
    """E[(1/G) Σ_i A_i ∇ log π(o_i)] on the 3-armed bandit, by summing over all 3^G outcomes."""
    S = sum(W)
    probs = [w / S for w in W]
    scores = [sp.Matrix([sp.diff(sp.log(pr), x) for x in W]) for pr in probs]
    total = sp.zeros(len(W), 1)
    for outcome in itertools.product(range(len(W)), repeat=G):
        weight = math.prod(probs[o] for o in outcome)
        adv = advantages_of(tuple(sp.Integer(REWARD[o]) for o in outcome), std_ddof=std_ddof)
        total += weight * sum((a * scores[o] for a, o in zip(adv, outcome, strict=True)), sp.zeros(len(W), 1)) / G
    return total


def check_expected_gradient_is_lambda_grad_p(G: int, *, std_ddof: int = 0) -> bool:
    pw = W[0] / sum(W)
    lam = gradient_scale(G, p, std_ddof=std_ddof).subs(p, pw)
    grad_p = sp.Matrix([sp.diff(pw, x) for x in W])
    diff = exact_expected_group_gradient(G, std_ddof=std_ddof) - lam * grad_p
    # a rational point first (cheap, exact), then symbolically for G <= 3
    point = dict(zip(W, (2, 3, 5), strict=True))
    if not all(_zero(d.subs(point)) for d in diff):
        return False
    return G > 3 or all(_zero(d) for d in diff)


def check_R5() -> bool:
    ok = all(_zero(expected_advantage(2, p, r, eps=eps) - (r - p) / (1 + 2 * eps)) for r in (0, 1))
    ok = ok and all(_zero(expected_advantage(3, p, r) - sp.sqrt(2) * (r - p)) for r in (0, 1))
    ok = ok and all(_zero(expected_advantage("inf", p, r) - (r - p) / sp.sqrt(p * (1 - p))) for r in (0, 1))
    ok = ok and all(sp.limit(expected_advantage(2, p, r, eps=eps), eps, 0) == r - p for r in (0, 1))
    # mean-zero: p E[A|1] + (1-p) E[A|0] = 0, for several G
    ok = ok and all(_zero(p * expected_advantage(G, p, 1) + (1 - p) * expected_advantage(G, p, 0)) for G in (4, 5))
    # convergence to the G = ∞ value
    gaps = [abs(expected_advantage(G, 0.3, 1) - expected_advantage("inf", 0.3, 1)) for G in (16, 256, 4096)]
    return ok and gaps[0] > gaps[1] > gaps[2] and gaps[2] < 2e-3


def check_R6() -> bool:
    ok = _zero(gradient_scale(2, p, eps=eps) - 1 / (1 + 2 * eps)) and _zero(gradient_scale(3, p) - sp.sqrt(2))
    ok = ok and _zero(gradient_scale(2, p, std_ddof=1) - 1 / sp.sqrt(2))
    ok = ok and _zero(gradient_scale("inf", p) - 1 / sp.sqrt(p * (1 - p)))
    ok = ok and _zero(gradient_scale(4, p) - (sp.sqrt(3) * (p**2 + (1 - p) ** 2) + 3 * p * (1 - p)))
    ok = ok and round(gradient_scale(16, 0.5), 2) == 1.93 and round(gradient_scale(16, 0.05), 2) == 3.27
    return ok and all(check_expected_gradient_is_lambda_grad_p(G) for G in (2, 3, 4)) and (
        check_expected_gradient_is_lambda_grad_p(2, std_ddof=1)
    )


CHECKS = {"R5": check_R5, "R6": check_R6}
