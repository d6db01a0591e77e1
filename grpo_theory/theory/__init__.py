"""Exact (sympy) statements of the paper's formal results R1–R14, their checks, and the claims report.

Public API (stable):

- :func:`expected_advantage` — E[A | r] for any G, ddof, ε (R5)
- :func:`gradient_scale` — λ_G(p), E[ĝ_G | q] = λ_G(p) ∇p (R6)
- :func:`zero_signal_probability` — P0(G, p) = p^G + (1−p)^G (R7)
- :func:`group_advantages` — exact (A⁺, A⁻) of a group with k of G correct
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

__all__ = [
    "RESULTS",
    "expected_advantage",
    "gradient_scale",
    "group_advantages",
    "parse_group_size",
    "zero_signal_probability",
]


def __getattr__(name: str):
    # The registry imports every theme module (sympy-heavy); load it only when asked for.
    if name == "RESULTS":
        from grpo_theory.theory.registry import RESULTS

        return RESULTS
    raise AttributeError(name)
