r"""Exploration on hard prompts (R12, v2 Prop. 5.4 / v3 Prop. C.4) and its rollout budget.

Statement: m rounds of 2 rollouts with policies π_0..π_{m−1} find at least one correct answer with
probability 1 − Π_i (1 − p_i)², which is ≥ 1 − (1 − p_0)^{2m} (2m rollouts of π_0) when p_i ≥ p_0: each
factor (1 − p_i)² ≤ (1 − p_0)². For m = 2 the gap is (1−p_0)² (p_1 − p_0)(2 − p_0 − p_1) ≥ 0.

The premise is an equal number of rollouts. The paper's runs are not budget-matched: over 10 epochs a prompt
gets 2 × 10 = 20 rollouts under 2-GRPO and 16 × 10 = 160 under 16-GRPO. At a fixed p = 1/100, the
probability of ever seeing a correct answer is 1 − 0.99^20 ≈ 0.18 versus 1 − 0.99^160 ≈ 0.80, and the
probability of ever forming a contrastive (mixed) group is 1 − (1 − P_mixed)^10 with
P_mixed = 1 − P0(G, p): ≈ 0.18 (G = 2) versus ≈ 0.80 (G = 16).
"""

from __future__ import annotations

import itertools
import math

import sympy as sp

from grpo_theory.theory.advantage import zero_signal_probability
from grpo_theory.theory.evidence import Evidence


def success_probability(ps) -> float:
    """1 − Π (1 − p_i)^2: at least one success in rounds of two rollouts with success rates p_i."""
    return 1 - math.prod((1 - x) ** 2 for x in ps)


def ever_success(p: float, rollouts: int) -> float:
    """1 − (1 − p)^n: at least one correct answer in n rollouts at a fixed success rate p."""
    return 1 - (1 - p) ** rollouts


def ever_mixed_group(G: int, p: float, epochs: int) -> float:
    """Probability that at least one of ``epochs`` groups of G (fixed p) is mixed, i.e. gives a gradient."""
    return 1 - zero_signal_probability(G, p) ** epochs


def check_R12() -> Evidence:
    ev = Evidence("R12")
    p0, p1 = sp.symbols("p0 p1", positive=True)
    gap = (1 - (1 - p0) ** 2 * (1 - p1) ** 2) - (1 - (1 - p0) ** 4)
    residual = sp.expand(gap - (1 - p0) ** 2 * (p1 - p0) * (2 - p0 - p1))
    ev.add("m = 2 gap = (1−p0)²(p1−p0)(2−p0−p1)", residual == 0, f"residual {residual}")
    grid = [sp.Rational(i, 8) for i in range(9)]
    bad = [(base, *rest) for base in grid
           for rest in itertools.product([x for x in grid if x >= base], repeat=2)
           if success_probability((base, *rest)) < 1 - (1 - base) ** 6]
    ev.add("m = 3 on an exact grid with every p_i ≥ p_0", not bad,
           f"counterexamples {bad[:3]}" if bad else "none")
    # the premise is needed: p_1 < p_0 gives a counterexample
    ce = (sp.Rational(1, 2), sp.Rational(1, 4), sp.Rational(1, 2))
    ev.add("without the premise it fails: p = (1/2, 1/4, 1/2)",
           success_probability(ce) < 1 - (1 - ce[0]) ** 6,
           f"{success_probability(ce)} < {1 - (1 - ce[0]) ** 6}")
    # the budget caveat, at p = 1/100 over 10 epochs
    ev.close("P(ever a success), 20 rollouts, p = 0.01", ever_success(0.01, 20), 0.18209, 1e-4)
    ev.close("P(ever a success), 160 rollouts, p = 0.01", ever_success(0.01, 160), 0.79972, 1e-4)
    lo, hi = ever_mixed_group(2, 0.01, 10), ever_mixed_group(16, 0.01, 10)
    ev.add("P(ever a mixed group in 10 epochs): G = 2 < 0.19 < 0.79 < G = 16", lo < 0.19 < 0.79 < hi,
           f"{lo:.3f} vs {hi:.3f}")
    return ev


CHECKS = {"R12": check_R12}
