"""R16's fit: err ≈ c1/B + c2/(BG) + c3/(BG²) recovers known constants; G* and the G = 2 rule; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from grpo_theory.theory.group_size import G2_RATIO_BOUND, fit_budget_constants

G = np.array([2, 4, 8, 16, 32])
B = 64 / G


def law(c1, c2, c3, b=B, g=G):
    return c1 / b + c2 / (b * g) + c3 / (b * g**2)


def test_exact_law_is_recovered_to_float_precision():
    fit = fit_budget_constants(B, G, law(1.0, 2.0, 8.0))
    assert np.max(np.abs(fit.c - [1.0, 2.0, 8.0])) < 1e-10, fit.c
    assert abs(fit.g_star - np.sqrt(8.0)) < 1e-10 and fit.rel_residual < 1e-12
    assert fit.g2_optimal == "no"  # c3/c1 = 8 > 6, and the interval has zero width


def test_two_budgets_and_ols_weights():
    g = np.array([2, 4, 8, 2, 4, 8, 16])
    b = np.array([16, 8, 4, 64, 32, 16, 8])
    fit = fit_budget_constants(b, g, law(0.5, 3.0, 1.0, b, g), weights="none")
    assert np.max(np.abs(fit.c - [0.5, 3.0, 1.0])) < 1e-9
    assert fit.g2_optimal == "yes" and fit.best_integer_G(64) == 2


@pytest.mark.parametrize("ratio, want", [(5.9, 2), (6.1, 3)])
def test_g2_is_optimal_iff_ratio_at_most_six(ratio, want):
    fit = fit_budget_constants(B, G, law(1.0, 1.0, ratio))
    errs = {g: float(fit.predict(48 / g, g)[0]) for g in (2, 3, 4, 6, 8)}
    assert min(errs, key=errs.get) == want and (ratio <= G2_RATIO_BOUND) == (want == 2)


def test_noisy_measurements_give_intervals_that_cover_the_truth():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        truth = law(1.0, 2.0, 8.0)
        se = 0.03 * truth
        fit = fit_budget_constants(B, G, truth + se * rng.standard_normal(G.size), err_se=se)
        covered += fit.c_ci[0, 0] <= 1.0 <= fit.c_ci[0, 1]
    assert 0.88 <= covered / 200 <= 0.99, covered  # nominal 95%


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"B": [1, 2], "G": [2, 4], "err": [1.0, 1.0]}, "at least 3"),
        ({"B": [8, 4, 2], "G": [2, 4], "err": [1.0, 1.0, 1.0]}, "same length"),
        ({"B": [8, 4, 2], "G": [2, 4, 8], "err": [1.0, -1.0, 1.0]}, "err must be > 0"),
        ({"B": [8, 4, 2], "G": [1, 4, 8], "err": [1.0, 1.0, 1.0]}, "G >= 2"),
        ({"B": [8, 8, 8], "G": [4, 4, 4], "err": [1.0, 1.0, 1.0]}, "identify"),
        ({"B": [8, 4, 2], "G": [2, 4, 8], "err": [1.0, 1.0, 1.0], "weights": "l1"}, "weights must be"),
    ],
)
def test_bad_input_is_a_one_line_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_budget_constants(**kwargs)
