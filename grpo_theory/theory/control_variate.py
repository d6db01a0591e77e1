r"""The control-variate view of grouping (R8, v2/v3 Prop. 4.1) and the score identity (R9).

R8. With V⁺ = Var(g⁺), V⁻ = Var(g⁻) > 0, C = Cov(g⁺, g⁻) (traces for vectors):

.. math::  \mathrm{Var}(g^+ - c\,g^-) = V^+ + c^2 V^- - 2cC \le V^+ \iff c\,(cV^- - 2C) \le 0
           \iff 0 \le c \le 2C/V^- \ (C > 0),

minimized at c* = C/V⁻ with value (1 − ρ²) V⁺, ρ² = C²/(V⁺V⁻). This is the proposition as the main text
states it, and it holds. One line of the appendix proof prints the bound as 2 Cov²/Var, a typo that would
be false as a statement: V⁺ = 16, V⁻ = 1, C = 2 (ρ = ½) and c = 6 ≤ 2C²/V⁻ = 8 give Var = 28 > 16.
GRPO's group baseline b = k/G gives c = G⁻ b / (G⁺ (1 − b)) = 1 exactly, so it reduces variance only if
C ≥ V⁻/2, a premise the paper does not measure (it reports C, not V⁻).

R9. For exact sequence score functions g = ∇ log π(o|q) and m^± = E[g | r = 1/0, q]:
p m⁺ + (1−p) m⁻ = E[∇ log π] = 0, so m⁻ = −p/(1−p) m⁺ (anti-aligned within a prompt). Law of total
covariance: Cov(g⁺, g⁻) = E_q Cov(g⁺, g⁻ | q) + Cov_q(m⁺(q), m⁻(q)); the first term is 0 when the two
rollouts are drawn independently given q (v3 App. B.8 uses exactly this).
"""

from __future__ import annotations

import itertools

import sympy as sp

from grpo_theory.theory.evidence import Evidence
from grpo_theory.theory.symbols import c, cov, varm, varp


def variance_of_difference(vp, vm, C, coef):
    """Var(g⁺ − c g⁻) = V⁺ + c² V⁻ − 2 c C."""
    return vp + coef**2 * vm - 2 * coef * C


def check_R8() -> Evidence:
    ev = Evidence("R8")
    f = variance_of_difference(varp, varm, cov, c) - varp
    ev.zero("Var(g⁺ − c g⁻) − V⁺ = c(cV⁻ − 2C)", f - c * (c * varm - 2 * cov))
    roots = set(sp.solve(f, c))
    ev.add("roots of the parabola are 0 and 2C/V⁻ (the main-text bound)", roots == {0, 2 * cov / varm}, roots)
    cstar = sp.solve(sp.diff(variance_of_difference(varp, varm, cov, c), c), c)[0]
    ev.zero("c* = C/V⁻", cstar - cov / varm)
    rho2 = cov**2 / (varp * varm)
    ev.zero("Var at c* = (1 − ρ²)V⁺", variance_of_difference(varp, varm, cov, cstar) - (1 - rho2) * varp)
    # the proof line's 2 Cov^2 / Var is a typo: as a bound it would be false (a valid covariance: C^2 <= V+
    # V-)
    vp, vm, C, bad_c = 16, 1, 2, 6
    bad = variance_of_difference(vp, vm, C, bad_c)
    ev.add("the appendix line's 2Cov²/V⁻ would admit c = 6 with Var = 28 > V⁺ = 16 (typo)",
           C**2 <= vp * vm and bad_c <= 2 * C**2 / vm and bad > vp, f"Var(g⁺ − 6g⁻) = {bad}")
    # GRPO's baseline b = k/G gives c = 1; reduction at c = 1 iff C >= V-/2
    k, G = sp.symbols("k G", positive=True)
    b = k / G
    ev.zero("GRPO's baseline b = k/G gives c = 1", (G - k) * b / (k * (1 - b)) - 1)
    ev.zero("at c = 1 the change is V⁻ − 2C (reduction iff C ≥ V⁻/2)",
            variance_of_difference(varp, varm, cov, 1) - varp - (varm - 2 * cov))
    return ev


W = sp.symbols("w0:3", positive=True)


def check_score_identity(reward=(1, 1, 0)) -> Evidence:
    """m⁻ = −p/(1−p) m⁺ and ⟨m⁺, m⁻⟩ ≤ 0 on a 3-armed bandit, π_w(o) = w_o / Σ w (symbolic w)."""
    S = sum(W)
    probs = [w / S for w in W]
    scores = [sp.Matrix([sp.diff(sp.log(pr), x) for x in W]) for pr in probs]
    pw = sum(pr for pr, r in zip(probs, reward, strict=True) if r == 1)
    m_pos = sum((pr * s for pr, s, r in zip(probs, scores, reward, strict=True) if r == 1),
                sp.zeros(3, 1)) / pw
    m_neg = sum((pr * s for pr, s, r in zip(probs, scores, reward, strict=True) if r == 0),
                sp.zeros(3, 1)) / (1 - pw)
    ev = Evidence(f"score identity, rewards {reward}")
    ev.zero_vec("m⁻ + p/(1−p) m⁺ = 0", m_neg + pw / (1 - pw) * m_pos)
    ev.zero("⟨m⁺, m⁻⟩ = −p/(1−p) ‖m⁺‖² ≤ 0", m_pos.dot(m_neg) + pw / (1 - pw) * m_pos.dot(m_pos))
    return ev


def check_total_covariance() -> Evidence:
    """Law of total covariance on an exact two-prompt example with independent (g⁺, g⁻) given q."""
    # prompt q in {0, 1} w.p. 1/3, 2/3; given q, g+ and g- are independent two-point variables
    pq = [sp.Rational(1, 3), sp.Rational(2, 3)]
    gpos = [[(sp.Integer(2), sp.Rational(1, 2)), (sp.Integer(-1), sp.Rational(1, 2))],
            [(sp.Integer(3), sp.Rational(1, 4)), (sp.Integer(1), sp.Rational(3, 4))]]
    gneg = [[(sp.Integer(-2), sp.Rational(1, 5)), (sp.Integer(1), sp.Rational(4, 5))],
            [(sp.Integer(0), sp.Rational(1, 2)), (sp.Integer(4), sp.Rational(1, 2))]]
    joint = [(pq[q] * wa * wb, a, bb) for q in range(2)
             for (a, wa), (bb, wb) in itertools.product(gpos[q], gneg[q])]
    e_a = sum(w * a for w, a, _ in joint)
    e_b = sum(w * bb for w, _, bb in joint)
    total_cov = sum(w * (a - e_a) * (bb - e_b) for w, a, bb in joint)
    m_pos = [sum(a * w for a, w in gpos[q]) for q in range(2)]
    m_neg = [sum(bb * w for bb, w in gneg[q]) for q in range(2)]
    between = sum(pq[q] * (m_pos[q] - e_a) * (m_neg[q] - e_b) for q in range(2))
    within = sum(pq[q] * sum(wa * wb * (a - m_pos[q]) * (bb - m_neg[q])
                             for (a, wa), (bb, wb) in itertools.product(gpos[q], gneg[q])) for q in range(2))
    ev = Evidence("law of total covariance")
    ev.add("within-prompt term is 0 (independent given q)", within == 0, within)
    ev.add("total covariance = between-prompt term, and ≠ 0", total_cov == between and total_cov != 0,
           f"{total_cov} vs {between}")
    return ev


def check_R9() -> Evidence:
    ev = Evidence("R9")
    ev.extend("rewards (1, 1, 0)", check_score_identity((1, 1, 0)))
    ev.extend("rewards (1, 0, 0)", check_score_identity((1, 0, 0)))
    ev.extend("total covariance", check_total_covariance())
    return ev


CHECKS = {"R8": check_R8, "R9": check_R9}
