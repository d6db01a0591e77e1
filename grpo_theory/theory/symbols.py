"""Shared sympy symbols, each carrying the assumptions its results need.

Naming follows the paper where it has a name:

=========  =====================================================  ==========================
symbol     meaning                                                assumptions
=========  =====================================================  ==========================
``p``      per-prompt success probability p_q = P(r = 1 | q)      positive (0 < p < 1 via ``q1``)
``q1``     1 - p, kept as its own symbol where positivity matters positive
``phat``   empirical success rate k / G of one group              positive
``eps``    the ε added to the group std                           nonnegative
``beta``   DPO temperature β                                      positive
``c``      control-variate coefficient of Prop. 4.1               real
``varm``   Var(g⁻) (trace of the covariance matrix)               positive
``varp``   Var(g⁺)                                                positive
``cov``    Cov(g⁺, g⁻) (trace of the cross-covariance)            real
``rbar``   batch-average reward r̄ (v3 App. D.3)                   positive
=========  =====================================================  ==========================
"""

from __future__ import annotations

import sympy as sp

p = sp.Symbol("p", positive=True)
q1 = sp.Symbol("q1", positive=True)
phat = sp.Symbol("phat", positive=True)
eps = sp.Symbol("epsilon", nonnegative=True)
beta = sp.Symbol("beta", positive=True)
c = sp.Symbol("c", real=True)
varm = sp.Symbol("V_minus", positive=True)
varp = sp.Symbol("V_plus", positive=True)
cov = sp.Symbol("C", real=True)
rbar = sp.Symbol("rbar", positive=True)


def reals(name: str, n: int) -> tuple[sp.Symbol, ...]:
    """``n`` real symbols ``name_1 .. name_n`` (per-rollout quantities X_i, rewards r_i, ...)."""
    if n < 1:
        raise ValueError(f"need n >= 1 symbols, got {n}")
    return tuple(sp.Symbol(f"{name}_{i}", real=True) for i in range(1, n + 1))
