"""The MC_CHECKS contract, every check passing at quick size, and negative controls that must fail."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from grpo_theory.losses import group_advantages
from grpo_theory.montecarlo import checks, checks_identities, checks_real_rewards
from grpo_theory.montecarlo.checks import FULL_SAMPLES, MC_CHECKS, QUICK_SAMPLES, McResult
from grpo_theory.montecarlo.fixtures import check_bandit, check_tabular, generator
from grpo_theory.montecarlo.stats import (
    bonferroni_z,
    componentwise_z,
    covariance_trace,
    mean_stderr,
    result,
    variance_trace,
    z_score,
)
from grpo_theory.montecarlo.variance import pair_moments, sample_pairs

F64 = torch.float64
EXPECTED_IDS = {"R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "R11", "R12", "R13", "R15",
                "R16"}
#: checks made only of deterministic identities on random draws: reported exact, without a z
EXACT_IDS = {"R1", "R2", "R3"}


def test_contract():
    assert set(MC_CHECKS) == EXPECTED_IDS
    assert isinstance(QUICK_SAMPLES, int) and isinstance(FULL_SAMPLES, int) and FULL_SAMPLES > QUICK_SAMPLES
    fields = {f.name for f in dataclasses.fields(McResult)}
    assert {"estimate", "exact", "stderr", "z", "passed", "detail", "kind", "max_abs_dev"} <= fields
    with pytest.raises(dataclasses.FrozenInstanceError):
        result(1.0, 1.0, 1.0).z = 3.0  # type: ignore[misc]


@pytest.mark.parametrize("rid", sorted(EXPECTED_IDS, key=lambda r: int(r[1:])))
def test_check_passes_at_quick_size(rid):
    res = MC_CHECKS[rid](QUICK_SAMPLES, 0)
    assert isinstance(res, McResult)
    assert all(isinstance(getattr(res, f), float) for f in ("estimate", "exact", "stderr", "z",
                                                            "max_abs_dev"))
    assert res.kind == ("exact" if rid in EXACT_IDS else res.kind) and res.kind in ("z", "exact", "z+exact")
    if res.kind == "exact":  # an identity has no z, only its largest deviation
        assert math.isnan(res.z) and res.passed == (res.max_abs_dev <= 4e-10)
    else:
        assert abs(res.z) <= 4.0 or not res.passed
    if res.kind == "z+exact":
        assert res.max_abs_dev <= 4e-10
    assert res.passed, f"{rid}: z={res.z:.2f}: {res.detail}"
    assert res.detail


def test_checks_are_reproducible_for_a_seed():
    assert MC_CHECKS["R6"](500, 3) == MC_CHECKS["R6"](500, 3)
    assert MC_CHECKS["R7"](500, 3) != MC_CHECKS["R7"](500, 4)


# ------------------------------------------------------------------- negative controls (must be rejected)
@pytest.mark.parametrize("pol_name", ["bandit", "tabular"])
def test_wrong_lambda_two_is_rejected(pol_name):
    """Claiming λ_2 = √2 (instead of 1) for 2-GRPO fails at the quick sample size; λ_2 = 1 passes."""
    pol = check_bandit() if pol_name == "bandit" else check_tabular()
    wrong = torch.full((pol.num_prompts,), math.sqrt(2), dtype=F64)
    pooled, proj = checks.lambda_case(pol, 2, "paper", QUICK_SAMPLES, generator(0), lam_claimed=wrong)
    assert not pooled.passed and abs(pooled.z) > 10
    assert not proj.passed
    pooled_ok, proj_ok = checks.lambda_case(pol, 2, "paper", QUICK_SAMPLES, generator(0))
    assert pooled_ok.passed and proj_ok.passed


def test_wrong_lambda_three_is_rejected():
    pol = check_tabular()
    pooled, _ = checks.lambda_case(pol, 3, "paper", QUICK_SAMPLES, generator(0),
                                   lam_claimed=torch.ones(pol.num_prompts, dtype=F64))
    assert not pooled.passed


def test_two_grpo_dpo_constant_without_sigma_is_rejected():
    """At π = π_ref the 2-GRPO/DPO constant is 1/β (σ(0) = ½ included); 1/(2β) is rejected."""
    from grpo_theory.montecarlo.variance import sample_pair_indices

    pol = check_tabular()
    prompts, ip, im = sample_pair_indices(pol, 64, generator(0))
    g = checks.pair_gradients(pol, prompts, ip, im, beta=0.1, loss_agg_mode="seq-mean-token-sum")
    assert g["two_grpo"].abs().max() > 0.1 and g["dpo"].abs().max() > 0.01
    assert (g["two_grpo"] - g["dpo"] / 0.1).abs().max() < 1e-12
    assert (g["two_grpo"] - g["dpo"] / 0.2).abs().max() > 0.1


def test_wrong_two_grpo_dpo_constant_in_expectation_is_rejected():
    """R4's Monte Carlo part estimates κ in E[ĝ_2GRPO] = κ E[−∇L_DPO] at π = π_ref: 1/β passes, 1/(2β)
    fails."""
    res = MC_CHECKS["R4"](QUICK_SAMPLES, 0)
    assert res.kind == "z+exact" and abs(res.exact - 1 / checks_identities.R4_BETA) < 1e-12
    assert abs(z_score(res.estimate, res.exact, res.stderr)) <= 4
    assert abs(z_score(res.estimate, res.exact / 2, res.stderr)) > 10


def test_r15_real_rewards_proportional_to_grad_reward_is_rejected():
    """2-GRPO with real rewards is not ∝ ∇E[r]: the sampled mean rejects ∇E[r] rescaled to the same norm."""
    import numpy as np

    from grpo_theory.theory.real_rewards import expected_bandit_gradient, expected_reward_gradient

    _, pi, rew, G, _, _ = checks_real_rewards.R15_CASES[0]
    probs, rewards = torch.tensor(pi, dtype=F64), torch.tensor(rew, dtype=F64)
    gen = generator(0)
    n = 4 * QUICK_SAMPLES
    idx = checks_real_rewards._sample(probs.expand(n, -1), (n, G), gen)
    g = checks_real_rewards.group_estimates(probs.expand(n, -1), rewards.expand(n, -1), idx)
    m, se = mean_stderr(g)
    exact = torch.tensor(expected_bandit_gradient(np.array(pi), np.array(rew), G), dtype=F64)
    grad = torch.tensor(expected_reward_gradient(np.array(pi), np.array(rew)), dtype=F64)
    wrong = grad * exact.norm() / grad.norm()
    assert bonferroni_z(componentwise_z(m, se, exact))[0] <= 4
    assert bonferroni_z(componentwise_z(m, se, wrong))[0] > 4


def test_r12_sampler_reaches_the_failing_premise():
    res = MC_CHECKS["R12"](QUICK_SAMPLES, 0)
    assert (
        "all with the premise violated (0 with it)" in res.detail
        and "conclusion fails on 0 " not in res.detail
    )


def test_expected_advantage_without_eps_correction_is_rejected():
    """With eps = 0.1 the G = 2 value is (r − p)/1.2; the uncorrected (r − p) is rejected."""
    gen = generator(0)
    p = 0.3
    r = (torch.rand(QUICK_SAMPLES, 2, generator=gen, dtype=F64) < p).to(F64)
    a = group_advantages(r, scale="group", std_ddof=0, eps=0.1)
    m, se = mean_stderr(a[:, 0][r[:, 0] == 1])
    assert abs(z_score(float(m), (1 - p) / 1.2, float(se))) <= 4
    assert abs(z_score(float(m), 1 - p, float(se))) > 4


def test_printed_discard_formula_is_rejected():
    """v3 App. D.3 prints 1 − r̄² − (1 − r̄)² as the discard rate; the sampled rate matches r̄² + (1 − r̄)²."""
    gen = generator(0)
    p = 0.2
    r = (torch.rand(QUICK_SAMPLES, 2, generator=gen, dtype=F64) < p).to(F64)
    zero = (group_advantages(r) == 0).all(-1).to(F64)
    m, se = mean_stderr(zero)
    assert abs(z_score(float(m), p**2 + (1 - p) ** 2, float(se))) <= 4
    assert abs(z_score(float(m), 1 - p**2 - (1 - p) ** 2, float(se))) > 4


def test_wrong_sign_of_cross_term_is_rejected():
    pol = check_tabular()
    mom = pair_moments(pol, "summed")
    _, gp, gm = sample_pairs(pol, QUICK_SAMPLES, generator(0), "summed")
    est, se = checks.variance_of_difference(gp, gm, 1.0)
    right = mom["var_plus"] + mom["var_minus"] - 2 * mom["cov"]
    wrong = mom["var_plus"] + mom["var_minus"] + 2 * mom["cov"]
    assert abs(z_score(est, right, se)) <= 4 < abs(z_score(est, wrong, se))


def test_gaussian_tail_for_n2_t_statistic_is_rejected():
    """The n = 2 t statistic has Cauchy tails: a normal tail P(|Z| > 10) ≈ 0 is rejected."""
    x = torch.randn(QUICK_SAMPLES, 2, generator=generator(0), dtype=F64)
    t = x.mean(-1) / (x.std(-1, correction=1) / math.sqrt(2))
    freq = float((t.abs() > 10).to(F64).mean())
    cauchy = 1 - 2 / math.pi * math.atan(10)
    se = math.sqrt(cauchy * (1 - cauchy) / QUICK_SAMPLES)
    assert abs(z_score(freq, cauchy, se)) <= 4 < abs(z_score(freq, math.erfc(10 / math.sqrt(2)), se))


# ------------------------------------------------------------------------------------- stats helpers
def test_bonferroni_single_comparison_is_identity_and_many_are_discounted():
    zeq, zmax, m = bonferroni_z(torch.tensor([-2.5], dtype=F64))
    assert m == 1 and zmax == 2.5 and zeq == pytest.approx(2.5, abs=1e-9)
    zeq, _, m = bonferroni_z(torch.tensor([4.0] + [0.0] * 999, dtype=F64))
    assert m == 1000 and zeq < 2.0
    zeq, _, _ = bonferroni_z(torch.tensor([9.0] + [0.0] * 999, dtype=F64))
    assert zeq > 8.0
    assert bonferroni_z(torch.tensor([math.inf, 0.0]))[0] == math.inf
    assert bonferroni_z(torch.tensor([math.nan, 1.0]))[2] == 1


def test_trace_estimators_on_known_covariance():
    """x ~ N(0, diag(1, 4, 9)), y = 2x + noise: tr Var(x) = 14, tr Cov(x, y) = 28."""
    gen = generator(0)
    x = torch.randn(20_000, 3, generator=gen, dtype=F64) * torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    y = 2 * x + torch.randn(20_000, 3, generator=gen, dtype=F64)
    v, se = variance_trace(x)
    assert abs(z_score(v, 14.0, se)) <= 4 < abs(z_score(v, 13.0, se))
    c, se = covariance_trace(x, y)
    assert abs(z_score(c, 28.0, se)) <= 4 < abs(z_score(c, 26.0, se))


def test_z_score_edge_cases():
    assert z_score(1.0, 1.0, 0.0) == 0.0
    assert z_score(1.0, 0.0, 0.0) == math.inf
    assert not result(0.0, 1.0, 0.1).passed


@pytest.mark.slow
@pytest.mark.parametrize("rid", sorted(EXPECTED_IDS, key=lambda r: int(r[1:])))
@pytest.mark.parametrize("seed", [1, 2])
def test_check_passes_at_full_size(rid, seed):
    res = MC_CHECKS[rid](FULL_SAMPLES, seed)
    assert res.passed, f"{rid}: z={res.z:.2f}: {res.detail}"
