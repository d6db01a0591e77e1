r"""Variance of the policy-gradient product (R10, v2 Eq. 7) and mini-batch variance (R11, Lemma 5.3 / C.3).

R10. For a scalar reward (or advantage) r and a gradient coordinate g with E g = 0:

.. math::  \mathrm{Var}(rg) = \mathrm{Var}(g)\,[\mathrm{Var}(r) + (\mathbb E r)^2]
           + \underbrace{\mathrm{Cov}(r^2, g^2) - \mathrm{Cov}(r, g)^2}_{\text{interaction}}.

(E[r²g²] = Cov(r², g²) + E r² E g² and E[rg] = Cov(r, g) when E g = 0.) The identity needs E g = 0. The
paper's claim that the interaction term "can be ignored" is an assumption, not a result: for a Bernoulli
policy with logit θ, r ~ Bern(p) and g = ∂_θ log π = r − p (bounded), the interaction term is
p(1−p)[(1−p)² − p], which at p = 1/10 is 71/10 times the main term.

R11. Lemma: for B iid per-sample gradients, Var(ĝ_B) = Var(g)/B, strictly decreasing in B iff Var(g) > 0.
Hierarchy: with Q iid prompts and G rollouts whose per-rollout terms are iid given the prompt,

.. math::  \mathrm{Var}(\hat g) = \frac{\mathrm{Var}_q(\mu(q))}{Q} + \frac{\mathbb E_q\,\sigma^2(q)}{QG}
           = \frac{G\,\mathrm{Var}_q(\mu) + \mathbb E_q\sigma^2}{B}\quad (B = QG),

so at a fixed rollout budget B fewer rollouts per prompt (more prompts) never increase the variance.
GRPO's terms A_i g_i are *not* iid given q: the group baseline couples them. In the Bernoulli-logit toy,
G = 2, Cov(A_1 g_1, A_2 g_2 | q) = p²(1−p)² > 0, and the whole per-prompt estimator is
ĝ_G = √(k(G−k))/G (a function of k alone).
"""

from __future__ import annotations

import itertools
import math

import sympy as sp

from grpo_theory.theory.contrastive import advantages_of
from grpo_theory.theory.evidence import Evidence
from grpo_theory.theory.symbols import p


def _zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


def _moments(atoms):
    """atoms: list of (weight, r, g). Returns E as a function of a callable of (r, g)."""
    return lambda f: sum(w * f(r, g) for w, r, g in atoms)


def product_variance_terms(atoms) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(Var(rg), main term Var(g)[Var(r) + (E r)²], interaction Cov(r², g²) − Cov(r, g)²) of a finite law."""
    E = _moments(atoms)
    Er, Eg = E(lambda r, g: r), E(lambda r, g: g)
    var_rg = E(lambda r, g: (r * g) ** 2) - E(lambda r, g: r * g) ** 2
    var_r, var_g = E(lambda r, g: r**2) - Er**2, E(lambda r, g: g**2) - Eg**2
    cov_r2g2 = E(lambda r, g: r**2 * g**2) - E(lambda r, g: r**2) * E(lambda r, g: g**2)
    cov_rg = E(lambda r, g: r * g) - Er * Eg
    return var_rg, var_g * (var_r + Er**2), cov_r2g2 - cov_rg**2


def check_R10() -> Evidence:
    ev = Evidence("R10")
    w1, w2 = sp.symbols("w1 w2", positive=True)
    r1, r2, r3, g1, g2 = sp.symbols("r1 r2 r3 g1 g2", real=True)
    w3 = 1 - w1 - w2
    g3 = -(w1 * g1 + w2 * g2) / w3  # forces E g = 0
    var_rg, main, inter = product_variance_terms([(w1, r1, g1), (w2, r2, g2), (w3, r3, g3)])
    ev.zero("Var(rg) = main + interaction (3-point law, E g = 0)", var_rg - main - inter)
    v, m, i = product_variance_terms([(sp.Rational(1, 2), 1, 1), (sp.Rational(1, 2), 0, 3)])
    ev.add("E g ≠ 0 breaks it", v - m - i != 0, f"Var(rg) − RHS = {v - m - i}")
    # Bernoulli-logit toy: g = r - p; interaction = p(1-p)[(1-p)^2 - p]; at p = 1/10 it is 71/10 x main
    v, m, i = product_variance_terms([(p, 1, 1 - p), (1 - p, 0, -p)])
    ev.zero("Bernoulli-logit: identity", v - m - i)
    ev.zero("Bernoulli-logit: interaction = p(1−p)[(1−p)² − p]", i - p * (1 - p) * ((1 - p) ** 2 - p))
    ratio = sp.nsimplify((i / m).subs(p, sp.Rational(1, 10)))
    ev.add("interaction / main at p = 1/10 is 71/10", ratio == sp.Rational(71, 10), ratio)
    return ev


def _var_of_mean_by_enumeration(Q: int, G: int, prompts, cond) -> sp.Expr:
    """Exact Var((1/QG) Σ g_ij): prompts = [(weight, q)], cond[q] = [(weight, g)] iid given q."""
    per_prompt = []  # law of the within-prompt sum for one prompt draw
    for wq, q in prompts:
        for draws in itertools.product(cond[q], repeat=G):
            per_prompt.append((wq * math.prod(w for w, _ in draws), sum(g for _, g in draws)))
    outcomes = [(math.prod(w for w, _ in c),
                 sum(s for _, s in c) / (Q * G)) for c in itertools.product(per_prompt, repeat=Q)]
    mean = sum(w * x for w, x in outcomes)
    var = sum(w * (x - mean) ** 2 for w, x in outcomes)
    return sp.nsimplify(var)


def check_hierarchical_variance() -> Evidence:
    """Var of the batch mean = Var_q(μ)/Q + E_q σ²/(QG), by exact enumeration, and ∂Var/∂G ≥ 0 at fixed B."""
    half, third = sp.Rational(1, 2), sp.Rational(1, 3)
    prompts = [(third, 0), (1 - third, 1)]
    cond = {0: [(half, sp.Integer(2)), (half, sp.Integer(0))],
            1: [(sp.Rational(1, 4), sp.Integer(-1)), (sp.Rational(3, 4), sp.Integer(3))]}
    mu = {q: sum(w * g for w, g in cond[q]) for q in cond}
    s2 = {q: sum(w * (g - mu[q]) ** 2 for w, g in cond[q]) for q in cond}
    Emu = sum(w * mu[q] for w, q in prompts)
    var_q = sum(w * (mu[q] - Emu) ** 2 for w, q in prompts)
    E_s2 = sum(w * s2[q] for w, q in prompts)
    ev = Evidence("hierarchical variance")
    for Q, G in ((1, 1), (1, 3), (2, 2), (3, 1)):
        ev.zero(f"Q = {Q}, G = {G}: enumeration = Var_q/Q + E σ²/(QG)",
                _var_of_mean_by_enumeration(Q, G, prompts, cond) - (var_q / Q + E_s2 / (Q * G)))
    B = sp.Symbol("B", positive=True)
    Gs, Vq, Es = sp.symbols("G V_q E_s", positive=True)
    ev.zero("fixed B: ∂Var/∂G = Var_q/B ≥ 0", sp.diff((Gs * Vq + Es) / B, Gs) - Vq / B)
    return ev


def grpo_pair_coupling() -> sp.Expr:
    """Cov(A_1 g_1, A_2 g_2 | q) for 2-GRPO in the Bernoulli-logit toy (g = r − p), exact in p."""
    law = []
    for r1, r2 in itertools.product((0, 1), repeat=2):
        a = advantages_of((sp.Integer(r1), sp.Integer(r2)))
        law.append((p ** (r1 + r2) * (1 - p) ** (2 - r1 - r2), a[0] * (r1 - p), a[1] * (r2 - p)))
    e1 = sum(w * x for w, x, _ in law)
    e2 = sum(w * y for w, _, y in law)
    return sp.simplify(sum(w * x * y for w, x, y in law) - e1 * e2)


def check_grpo_coupling() -> Evidence:
    """Cov(A_1 g_1, A_2 g_2 | q) = p²(1−p)² ≠ 0, and the toy's per-prompt GRPO estimator is √(k(G−k))/G."""
    ev = Evidence("GRPO coupling")
    ev.zero("Cov(A₁g₁, A₂g₂ | q) = p²(1−p)²", grpo_pair_coupling() - p**2 * (1 - p) ** 2)
    for G in (2, 3, 4):
        for k in range(G + 1):
            adv = advantages_of(tuple(sp.Integer(1 if i < k else 0) for i in range(G)))
            est = sum(a * ((1 if i < k else 0) - p) for i, a in enumerate(adv)) / G
            ev.zero(f"G = {G}, k = {k}: ĝ_G = √(k(G−k))/G", est - sp.sqrt(k * (G - k)) / G)
    return ev


def check_R11() -> Evidence:
    ev = Evidence("R11")
    ev.extend("hierarchical", check_hierarchical_variance())
    ev.extend("coupling", check_grpo_coupling())
    return ev


CHECKS = {"R10": check_R10, "R11": check_R11}
