r"""Zero-signal groups (R7): P0(G, p) = p^G + (1−p)^G, its Jensen gap, and the v3 App. D.3 erratum.

A group whose G rewards all tie has every advantage 0 and contributes no gradient. Per prompt,
P0(G, p) = p^G + (1−p)^G (:func:`grpo_theory.theory.zero_signal_probability`). With Q prompts per batch the
expected number of informative prompts is Q (1 − E_q P0(G, p_q)).

Jensen: x ↦ x^G is convex on [0, 1], so E_q[P0(G, p_q)] ≥ P0(G, r̄) with r̄ = E_q p_q: plugging the mean
reward into P0 underestimates the discard rate. For G = 2 the gap is exactly 2 Var_q(p_q).

Erratum: v3 App. D.3 prints P_discard = 1 − r̄² − (1 − r̄)², which equals 2 r̄ (1 − r̄) ≤ ½ (the probability
of a *mixed*, kept pair). Its Table 3 reports 0.53–0.77 > ½, so Table 3 was not computed with the printed
formula. What it was computed with cannot be known from the paper: the plug-in r̄² + (1 − r̄)² fits (with
r̄ = (1 ± √(2P − 1))/2), and so does a *measured* tie rate E_q P0(2, p_q), which is ≥ the plug-in value by
Jensen: every Table 3 value is the measured tie rate of a batch whose mean reward is ½ (half the prompts at
½ + δ, half at ½ − δ, 2δ² = P − ½). The plug-in correction is itself biased low.
"""

from __future__ import annotations

import math

import sympy as sp

from grpo_theory.paper.tables_v3 import V3_TABLE3_DISCARD
from grpo_theory.theory.advantage import zero_signal_probability
from grpo_theory.theory.evidence import Evidence
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


def two_point_prompts_with_tie_rate(value: float, mean: float = 0.5) -> tuple[float, float]:
    """(p_low, p_high), half the prompts each, with mean ``mean`` and measured G = 2 tie rate ``value``.

    E_q P0(2, p_q) = P0(2, mean) + 2δ² for p = mean ± δ, so δ = √((value − P0(2, mean))/2); needs the
    result inside [0, 1].
    """
    gap = value - float(zero_signal_probability(2, mean))
    if gap < 0:
        raise ValueError(f"a tie rate {value} is below P0(2, {mean}); Jensen forbids it")
    d = math.sqrt(gap / 2)
    if mean - d < 0 or mean + d > 1:
        raise ValueError(f"no two-point batch with mean {mean} has tie rate {value}")
    return mean - d, mean + d


def check_R7() -> Evidence:
    ev = Evidence("R7")
    grid = {sp.Integer(0): 1, sp.Rational(1, 4): sp.Rational(5, 8), sp.Rational(1, 2): sp.Rational(1, 2)}
    for x, v in grid.items():
        ev.add(f"P0(2, {x}) = {v}", zero_signal_probability(2, x) == v, zero_signal_probability(2, x))
    ev.add("P0(16, 1/2) = 2^-15", zero_signal_probability(16, sp.Rational(1, 2)) == sp.Rational(1, 2**15))
    # G = 2 Jensen gap on a two-point prompt distribution {a w.p. t, b w.p. 1-t} is 2 Var(p)
    a, b, t = sp.symbols("a b t", positive=True)
    mean = t * a + (1 - t) * b
    gap = (
        t * zero_signal_probability(2, a)
        + (1 - t) * zero_signal_probability(2, b)
        - zero_signal_probability(2, mean)
    )
    ev.zero("G = 2 Jensen gap = 2 Var_q(p)", gap - 2 * (t * a**2 + (1 - t) * b**2 - mean**2))
    for G in (2, 3, 4, 16):  # convexity: P0'' = G(G-1)(p^(G-2) + (1-p)^(G-2)) ≥ 0
        second = sp.diff(zero_signal_probability(G, p), p, 2)
        ev.zero(f"P0''(G = {G}) = G(G−1)(p^(G−2) + (1−p)^(G−2))",
                sp.expand(second - G * (G - 1) * (p ** (G - 2) + (1 - p) ** (G - 2))))
    # erratum: the printed formula is 2 r̄(1-r̄) = 1/2 - 2(r̄ - 1/2)^2 <= 1/2
    printed = 1 - rbar**2 - (1 - rbar) ** 2
    ev.zero("printed formula = 2r̄(1−r̄)", printed - 2 * rbar * (1 - rbar))
    ev.zero("printed formula = ½ − 2(r̄ − ½)² ≤ ½",
            sp.Rational(1, 2) - printed - 2 * (rbar - sp.Rational(1, 2)) ** 2)
    values = list(V3_TABLE3_DISCARD.values())
    ev.add("every Table 3 value exceeds ½ (impossible under the printed formula)",
           all(v > 0.5 for v in values), values)
    implied = [implied_mean_reward(v) for v in values]
    ev.add("the plug-in r̄² + (1−r̄)² fits Table 3 (r̄ ≈ 0.62–0.87)",
           all(abs(r**2 + (1 - r) ** 2 - v) < 1e-12 for r, v in zip(implied, values, strict=True)),
           [round(r, 3) for r in implied])
    # ... and so does a measured tie rate of a batch with mean reward 1/2: the table does not identify r̄
    fits = []
    for v in values:
        lo, hi = two_point_prompts_with_tie_rate(v)
        fits.append(abs((zero_signal_probability(2, lo) + zero_signal_probability(2, hi)) / 2 - v))
    ev.add("a measured tie rate with mean reward ½ fits every Table 3 value too", max(fits) < 1e-12,
           f"max |Δ| {max(fits):.1e}")
    ev.add("the measured rate is ≥ the plug-in at the same mean (Jensen), so the plug-in is biased low",
           all((zero_signal_probability(2, lo) + zero_signal_probability(2, hi)) / 2
               >= zero_signal_probability(2, 0.5)
               for lo, hi in map(two_point_prompts_with_tie_rate, values)))
    return ev


CHECKS = {"R7": check_R7}
