"""Exact (sympy) statements of the paper's formal results R1–R16, their checks, and the claims report.

Public API (stable):

- :func:`expected_advantage` — E[A | r] for any G, ddof, ε (R5)
- :func:`gradient_scale` — λ_G(p), E[ĝ_G | q] = λ_G(p) ∇p (R6)
- :func:`zero_signal_probability` — P0(G, p) = p^G + (1−p)^G (R7)
- :func:`group_advantages` — exact (A⁺, A⁻) of a group with k of G correct
- :func:`win_rate_advantage` — u(o) = P(R′ < r(o)) − P(R′ > r(o)), E[ĝ_2 | q] = π ⊙ u (R15)
- :func:`expected_bandit_gradient` — exact E[ĝ_G | q] of a softmax bandit for real-valued rewards (R15)
- :func:`fit_budget_constants` — fit of err ≈ c1/B + c2/(BG) + c3/(BG²), G* = √(c3/c1) (R16)
- ``RESULTS`` (from :mod:`grpo_theory.theory.registry`, imported lazily) — one entry per result

Nothing here imports torch, so ``grpo-theory claims`` starts fast.
"""

from grpo_theory.theory.advantage import (
    expected_advantage,
    gradient_scale,
    group_advantages,
    parse_group_size,
    zero_signal_probability,
)
from grpo_theory.theory.budget_fit import fit_budget_constants
from grpo_theory.theory.real_rewards import expected_bandit_gradient, win_rate_advantage

__all__ = [
    "RESULTS",
    "expected_advantage",
    "expected_bandit_gradient",
    "fit_budget_constants",
    "gradient_scale",
    "group_advantages",
    "parse_group_size",
    "win_rate_advantage",
    "zero_signal_probability",
]


def __getattr__(name: str):
    # The registry imports every theme module (sympy-heavy); load it only when asked for.
    if name == "RESULTS":
        from grpo_theory.theory.registry import RESULTS

        return RESULTS
    raise AttributeError(name)
