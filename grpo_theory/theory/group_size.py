r"""R16: which group size estimates the gradient best at a fixed rollout budget N = BG.

The public entry point for fitting measured errors is :func:`fit_budget_constants` (defined in
:mod:`grpo_theory.theory.budget_fit`, re-exported here): err(B, G) ≈ c1/B + c2/(BG) + c3/(BG²), G* = √(c3/c1),
G = 2 optimal among integers ≥ 2 iff c3/c1 ≤ 6.
"""

from __future__ import annotations

from grpo_theory.theory.budget_fit import G2_RATIO_BOUND, BudgetFit, design, fit_budget_constants

__all__ = ["G2_RATIO_BOUND", "BudgetFit", "design", "fit_budget_constants"]
