r"""Exact checks of R15 (2-GRPO with real-valued rewards), each part returning its residual.

Fixtures: a 3-armed bandit with exact rational probabilities and rewards with a tie, symbolic logits where a
derivative is needed, and the 5-armed uniform bandit with rewards (0, 0.1, 0.2, 0.5, 1) for the angle
between E[ĝ_2] and ∇E[r].
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from grpo_theory.theory import real_rewards as rr
from grpo_theory.theory.advantage import gradient_scale
from grpo_theory.theory.evidence import Evidence

R = sp.Rational
PI3 = [R(1, 2), R(1, 3), R(1, 6)]
TIED3 = [sp.Integer(1), R(1, 3), sp.Integer(1)]  # arms 0 and 2 tie
DISTINCT3 = [R(2, 5), sp.Integer(0), sp.Integer(1)]
#: The 5-armed bandit of the angle statement: uniform π, distinct rewards.
ANGLE_PI = (0.2, 0.2, 0.2, 0.2, 0.2)
ANGLE_R = (0.0, 0.1, 0.2, 0.5, 1.0)
THETA = sp.symbols("theta0:3", real=True)


def _softmax(theta) -> list[sp.Expr]:
    z = sum(sp.exp(t) for t in theta)
    return [sp.exp(t) / z for t in theta]


def _vec_zero(ev: Evidence, name: str, m: sp.Matrix) -> bool:
    residual = m.applyfunc(sp.simplify)
    ok = all(x == 0 for x in residual)
    return ev.add(name, ok, "residual 0" if ok else f"residual {list(residual)}")


def check_pair_advantages() -> Evidence:
    """The G = 2 advantage: sign(d) for any real gap, d/(|d| + 2ε) with ε, sign(d)/√2 with ddof 1."""
    ev = Evidence("G = 2 advantages for real rewards")
    eps = sp.Symbol("epsilon", positive=True)
    for d in (sp.Symbol("d", positive=True), sp.Symbol("d", negative=True)):
        ev.zero(f"sign, {'d > 0' if d.is_positive else 'd < 0'}", rr.pair_advantage(d) - sp.sign(d))
        ev.zero("soft sign with ε", rr.pair_advantage(d, eps=eps) - d / (sp.Abs(d) + 2 * eps))
        ev.zero("ddof 1: sign/√2", rr.pair_advantage(d, std_ddof=1) - sp.sign(d) / sp.sqrt(2))
    tiny = R(1, 10**9)
    ev.add("sign amplification: a gap of 1e-9 gets the full +1", rr.pair_advantage(tiny) == 1,
           rr.pair_advantage(tiny))
    return ev


def check_win_rate_gradient() -> Evidence:
    """E[ĝ_2] = π ⊙ u by enumeration (levels and brute force), ties included, and the frozen-copy reading."""
    ev = Evidence("E[ĝ_2] = π ⊙ u")
    for name, r in (("tied rewards", TIED3), ("distinct rewards", DISTINCT3)):
        u = rr.win_rate_advantage(PI3, r)
        g2 = rr.expected_bandit_gradient(PI3, r, 2)
        _vec_zero(ev, f"{name}: levels enumeration = π ⊙ u",
                  g2 - sp.Matrix([p * x for p, x in zip(PI3, u, strict=True)]))
        _vec_zero(ev, f"{name}: = brute force over all K^2 outcomes",
                  g2 - rr.brute_force_expected_gradient(PI3, r, 2))
        tie_form = sp.Matrix([2 * sum(p for p, y in zip(PI3, r, strict=True) if y <= x) - 1
                              - sum(p for p, y in zip(PI3, r, strict=True) if y == x) for x in r])
        _vec_zero(ev, f"{name}: u = 2P(R′ ≤ r) − 1 − P(R′ = r)", u - tie_form)
        ev.zero(f"{name}: E_π[u] = 0", sum(p * x for p, x in zip(PI3, u, strict=True)))
    no_tie = sp.Matrix([2 * sum(p for p, y in zip(PI3, TIED3, strict=True) if y < x) - 1 for x in TIED3])
    u = rr.win_rate_advantage(PI3, TIED3)
    ev.add("dropping the tie term is wrong with ties",
           any(sp.simplify(a - b) != 0 for a, b in zip(u, no_tie, strict=True)),
           f"u = {list(u)} vs 2P(R′<r) − 1 = {list(no_tie)}")
    # frozen copy: ∇_θ Σ_k π_θ(k) u_frozen(k) at the current θ is E[ĝ_2]; the self-play win-minus-loss is ≡ 0
    pi = _softmax(THETA)
    r = DISTINCT3
    u_sym = rr.win_rate_advantage(pi, r)
    # differentiate with u held fixed (the frozen copy): substitute u's value after differentiating π only
    uf = sp.symbols("u0:3")
    frozen = sp.Matrix([sp.diff(sum(p * x for p, x in zip(pi, uf, strict=True)), t) for t in THETA]).subs(
        dict(zip(uf, u_sym, strict=True)))
    _vec_zero(ev, "∇ (win − loss rate vs a frozen copy) = E[ĝ_2] (symbolic logits)",
              frozen - rr.expected_bandit_gradient(pi, r, 2))
    self_play = sum(pi[i] * pi[j] * sp.sign(r[i] - r[j]) for i in range(3) for j in range(3))
    ev.zero("self-play win − loss rate ≡ 0, so its gradient is 0 ≠ E[ĝ_2]", self_play)
    return ev


def check_conventions_and_binary() -> Evidence:
    """ε > 0 gives the soft sign, ddof 1 multiplies by 1/√2; binary rewards give λ_G(p) ∇p (G = 2, 3, 4)."""
    ev = Evidence("conventions and binary rewards")
    e = R(1, 10)
    soft = rr.soft_win_rate_advantage(PI3, TIED3, eps=e)
    _vec_zero(ev, "ε = 1/10: E[ĝ_2] = π ⊙ E[d/(|d| + 2ε)]",
              rr.expected_bandit_gradient(PI3, TIED3, 2, eps=e)
              - sp.Matrix([p * x for p, x in zip(PI3, soft, strict=True)]))
    _vec_zero(ev, "ddof 1: E[ĝ_2] = π ⊙ u / √2",
              rr.expected_bandit_gradient(PI3, TIED3, 2, std_ddof=1)
              - rr.expected_bandit_gradient(PI3, TIED3, 2) / sp.sqrt(2))
    binary = [sp.Integer(1), sp.Integer(0), sp.Integer(1)]
    p = PI3[0] + PI3[2]
    grad_p = rr.expected_reward_gradient(PI3, binary)
    for G in (2, 3, 4):
        _vec_zero(ev, f"binary, G = {G}: E[ĝ_G] = λ_G(p) ∇p", rr.expected_bandit_gradient(PI3, binary, G)
                  - gradient_scale(G, p) * grad_p)
    _vec_zero(ev, "G = 3 levels enumeration = brute force (real rewards)",
              rr.expected_bandit_gradient(PI3, DISTINCT3, 3)
              - rr.brute_force_expected_gradient(PI3, DISTINCT3, 3))
    return ev


def check_order_invariance_and_angle() -> Evidence:
    """2-GRPO sees only the reward order; it is not ∇E[r]'s direction; G matters; G → ∞ gives ∇E[r]/σ."""
    ev = Evidence("order invariance, angle, large G")
    x = sp.Symbol("x", real=True)
    transform = sp.Lambda(x, x**3 + 2 * x)  # strictly increasing
    moved = [transform(v) for v in DISTINCT3]
    _vec_zero(ev, "G = 2 invariant to r ↦ r³ + 2r", rr.expected_bandit_gradient(PI3, moved, 2)
              - rr.expected_bandit_gradient(PI3, DISTINCT3, 2))
    d3 = (
        rr.expected_bandit_gradient(PI3, moved, 3) - rr.expected_bandit_gradient(PI3, DISTINCT3, 3)
    ).applyfunc(sp.simplify)
    ev.add("G = 3 is not invariant (it sees gaps)", any(v != 0 for v in d3),
           f"difference {[float(v) for v in d3]}")
    pi, r = np.array(ANGLE_PI), np.array(ANGLE_R)
    grad = rr.expected_reward_gradient(pi, r)
    c2 = rr.cosine(rr.expected_bandit_gradient(pi, r, 2), grad)
    c16 = rr.cosine(rr.expected_bandit_gradient(pi, r, 16), grad)
    ev.close("cos(E ĝ_2, ∇E[r]) on the 5-arm bandit", c2, 0.9399, 5e-5)
    ev.add("the direction depends on G: cos(E ĝ_16, ∇E[r]) is closer to 1", c16 > c2 + 0.03,
           f"{c16:.4f} vs {c2:.4f}")
    # G → ∞: three reward levels so that G = 256 is cheap
    pi3, r3 = np.array([0.5, 0.3, 0.2]), np.array([0.0, 0.4, 1.0])
    limit = rr.expected_bandit_gradient(pi3, r3, "inf")
    sigma = float(np.sqrt(pi3 @ (r3 - pi3 @ r3) ** 2))
    ev.close("G = ∞ value is ∇E[r]/σ",
             float(np.abs(limit - rr.expected_reward_gradient(pi3, r3) / sigma).max()), 0.0, 1e-15)
    gaps = [float(np.linalg.norm(rr.expected_bandit_gradient(pi3, r3, G) - limit)) for G in (16, 64, 256)]
    ev.add("‖E ĝ_G − ∇E[r]/σ‖ decreases to 0 (G = 16, 64, 256)",
           gaps[0] > gaps[1] > gaps[2] and gaps[2] < gaps[0] / 10, f"{gaps}")
    return ev


def check_R15() -> Evidence:
    ev = Evidence("R15")
    for name, fn in (("pair advantages", check_pair_advantages), ("win rate", check_win_rate_gradient),
                     ("conventions", check_conventions_and_binary),
                     ("order/angle/limit", check_order_invariance_and_angle)):
        ev.extend(name, fn())
    return ev


CHECKS = {"R15": check_R15}
