r"""Zero-signal groups (R7): P0(G, p) = p^G + (1−p)^G, its Jensen gap, and the v3 App. D.3 erratum.

A group whose G rewards all tie has every advantage 0 and contributes no gradient. Per prompt,
P0(G, p) = p^G + (1−p)^G (:func:`grpo_theory.theory.zero_signal_probability`). With Q prompts per batch the
expected number of informative prompts is Q (1 − E_q P0(G, p_q)).

Jensen: x ↦ x^G is convex on [0, 1], so E_q[P0(G, p_q)] ≥ P0(G, r̄) with r̄ = E_q p_q: plugging the mean
reward into P0 underestimates the discard rate. For G = 2 the gap is exactly 2 Var_q(p_q).

Erratum: v3 App. D.3 prints P_discard = 1 − r̄² − (1 − r̄)², which equals 2 r̄ (1 − r̄) ≤ ½ (the probability
of a *mixed*, kept pair). Its Table 3 reports 0.53–0.77 > ½, so the table was computed as r̄² + (1 − r̄)²,
the probability of a tie. The mean reward implied by a tie rate P is r̄ = (1 ± √(2P − 1))/2.
"""

from __future__ import annotations

import math

import sympy as sp

from grpo_theory.paper.tables_v3 import V3_TABLE3_DISCARD
from grpo_theory.theory.advantage import zero_signal_probability
from grpo_theory.theory.symbols import p, rbar


def _zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


def printed_discard_formula(r: float) -> float:
    """v3 App. D.3 as printed: 1 − r̄² − (1 − r̄)² (= 2 r̄ (1 − r̄), the kept-pair probability)."""
    return 1.0 - r**2 - (1.0 - r) ** 2


def implied_mean_reward(p_discard: float) -> float:
    """The r̄ ≥ ½ with r̄² + (1 − r̄)² = p_discard (the other root is 1 − r̄). Needs ½ ≤ p_discard ≤ 1."""
    if not 0.5 <= p_discard <= 1.0:
        raise ValueError(f"a G=2 tie probability lies in [1/2, 1], got {p_discard}")
    return (1.0 + math.sqrt(2.0 * p_discard - 1.0)) / 2.0


def expected_informative_prompts(G, ps, n_prompts: int | None = None) -> float:
    """Q (1 − mean_q P0(G, p_q)) for the list of per-prompt success probabilities ``ps`` (Q = len(ps))."""
    ps = list(ps)
    if not ps:
        raise ValueError("need at least one prompt")
    Q = len(ps) if n_prompts is None else n_prompts
    return Q * (1.0 - sum(zero_signal_probability(G, x) for x in ps) / len(ps))


def check_R7() -> bool:
    grid = {sp.Integer(0): 1, sp.Rational(1, 4): sp.Rational(5, 8), sp.Rational(1, 2): sp.Rational(1, 2)}
    ok = all(zero_signal_probability(2, x) == v for x, v in grid.items())
    ok = ok and zero_signal_probability(16, sp.Rational(1, 2)) == sp.Rational(1, 2**15)
    # G = 2 Jensen gap on a two-point prompt distribution {a w.p. t, b w.p. 1-t} is 2 Var(p)
    a, b, t = sp.symbols("a b t", positive=True)
    mean = t * a + (1 - t) * b
    gap = t * zero_signal_probability(2, a) + (1 - t) * zero_signal_probability(2, b) - zero_signal_probability(2, mean)
    ok = ok and _zero(gap - 2 * (t * a**2 + (1 - t) * b**2 - mean**2))
    # convexity: P0'' = G(G-1)(p^(G-2) + (1-p)^(G-2)) ≥ 0
    for G in (2, 3, 4, 16):
        second = sp.diff(zero_signal_probability(G, p), p, 2)
        ok = ok and sp.expand(second - G * (G - 1) * (p ** (G - 2) + (1 - p) ** (G - 2))) == 0
    # erratum: the printed formula is 2 r̄(1-r̄) = 1/2 - 2(r̄ - 1/2)^2 <= 1/2
    printed = 1 - rbar**2 - (1 - rbar) ** 2
    ok = ok and _zero(printed - 2 * rbar * (1 - rbar)) and _zero(sp.Rational(1, 2) - printed - 2 * (rbar - sp.Rational(1, 2)) ** 2)
    values = list(V3_TABLE3_DISCARD.values())
    ok = ok and all(v > 0.5 for v in values)  # impossible under the printed formula
    implied = [implied_mean_reward(v) for v in values]
    return ok and all(abs(r**2 + (1 - r) ** 2 - v) < 1e-12 for r, v in zip(implied, values, strict=True))


CHECKS = {"R7": check_R7}
