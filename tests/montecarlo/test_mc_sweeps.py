"""Figure sweeps: shapes, exact curves, and MC points within their standard errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grpo_theory.montecarlo.sweeps import (
    control_variate_curve,
    lambda_curve,
    population_policy,
    variance_vs_group_size,
)


def test_lambda_curve_points_agree_with_exact_curve():
    d = lambda_curve(group_sizes=(2, 3, 8), p_grid=[0.1, 0.5, 0.9], std_ddofs=(0, 1), n_samples=3000, seed=1)
    assert d["mc"].shape == d["se"].shape == d["exact"].shape == (2, 3, 3)
    np.testing.assert_allclose(d["exact"][0, 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(d["exact"][0, 1], math.sqrt(2), atol=1e-12)
    np.testing.assert_allclose(d["exact"][1, 0], 1 / math.sqrt(2), atol=1e-12)
    z = (d["mc"] - d["exact"]) / d["se"]
    assert np.abs(z).max() < 4.0  # 18 points: family-wise threshold ~3.9 at 6e-5 per point is loose


def test_variance_sweep_matches_exact_and_prompt_term_scales_with_group_size():
    pol = population_policy(12)
    d = variance_vs_group_size(budget=8, group_sizes=(2, 4, 8), estimators=("rloo", "paper"), policy=pol,
                               n_samples=3000, seed=2)
    for est, rows in d.items():
        np.testing.assert_array_equal(rows["Q"] * rows["G"], 8)
        z = (rows["mc"] - rows["exact"]) / rows["mc_se"]
        assert np.abs(z).max() < 4.0, (est, z)
    # RLOO is unbiased for every G, so Var_q(E[ĝ|q]) is G-free and the prompt term is G·Var_q/B.
    rloo = d["rloo"]
    np.testing.assert_allclose(rloo["prompt_term"] / rloo["prompt_term"][0], rloo["G"] / 2, rtol=1e-10)
    with pytest.raises(ValueError):
        variance_vs_group_size(budget=6, group_sizes=(4,), policy=pol, n_samples=10)


def test_control_variate_curve_minimum_at_c_star():
    d = control_variate_curve(n_samples=3000, seed=3, mc_points=5)
    for kind, rows in d.items():
        c, curve = rows["c"], rows["exact"]
        np.testing.assert_allclose(np.interp(0.0, c, curve), 1.0, atol=1e-12)
        assert curve.min() >= rows["min_ratio"] - 1e-12
        assert abs(np.interp(rows["c_max"], c, curve) - 1.0) < 0.02  # the variance is back to Var(g+) at 2c*
        z = (rows["mc"] - np.interp(rows["mc_c"], c, curve)) / rows["mc_se"]
        assert np.abs(z).max() < 4.0, (kind, z)


def test_cross_prompt_covariance_survey_is_exact_and_bounded():
    from grpo_theory.montecarlo.sweeps import cross_prompt_covariance_survey

    d = cross_prompt_covariance_survey(3, 6, seed=1)
    assert all(v.shape == (3,) for v in d.values())
    assert np.all(np.abs(d["rho_summed"]) <= 1) and np.all(np.abs(d["rho_length-normalized"]) <= 1)
    np.testing.assert_array_equal(d["cov_summed"], cross_prompt_covariance_survey(3, 6, seed=1)["cov_summed"])
