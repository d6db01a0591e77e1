r"""The "n = 2 normalization is Cauchy-distributed" argument (R13, v2 App. B.1 / v3 App. B.2).

The paper argues from Student (1908) that with n = 2 samples the normalization "follows a Cauchy
distribution", so normalized advantages have "infinite variance and no defined mean", and hence that
2-GRPO "should fail". The argument does not apply to GRPO's advantage:

* For any two real rewards, the group-normalized advantage is (r_i − r̄)/s = ±1 (population std) or ±1/√2
  (sample std), and 0 for a tie (ε = 0). It is bounded, so every moment exists, for any reward law.
* The Student fact is about a different quantity: for X_1, X_2 iid N(μ, σ²), T = (X̄ − μ)/(s/√2) with the
  sample std s has a t distribution with one degree of freedom, i.e. Cauchy. It standardizes the mean
  around the *unknown true* μ; GRPO centres each reward on the *sample* mean, which is bounded.

Checked: T = (Z_1 + Z_2)/|Z_1 − Z_2| with U = Z_1 + Z_2, V = Z_1 − Z_2 independent N(0, 2), so T = U/|V| and
its density 2∫_0^∞ v φ(v) φ(tv) dv equals 1/(π(1 + t²)).
"""

from __future__ import annotations

import sympy as sp

from grpo_theory.theory.contrastive import advantages_of
from grpo_theory.theory.evidence import Evidence


def check_R13() -> Evidence:
    ev = Evidence("R13")
    r2 = sp.Symbol("r_2", real=True)
    for d in (sp.Symbol("d", positive=True), sp.Symbol("d", negative=True)):
        a0 = {sp.simplify(x) for x in advantages_of((r2 + d, r2))}
        a1 = {sp.simplify(x) ** 2 for x in advantages_of((r2 + d, r2), std_ddof=1)}
        sign = "d > 0" if d.is_positive else "d < 0"
        ev.add(f"{sign}: population-std advantages are ±1", a0 == {1, -1}, a0)
        ev.add(f"{sign}: sample-std advantages are ±1/√2", a1 == {sp.Rational(1, 2)}, a1)
    # the Student t_1 (Cauchy) density of the standardized mean T = U/|V|
    v, a = sp.Symbol("v", positive=True), sp.Symbol("a", positive=True)  # a = 1 + t^2
    density = sp.integrate(2 * v * sp.exp(-a * v**2 / 2) / (2 * sp.pi), (v, 0, sp.oo))
    ev.zero("density of (X̄ − μ)/(s/√2) is 1/(π(1 + t²))", density - 1 / (sp.pi * a))
    return ev


CHECKS = {"R13": check_R13}
