"""Exact enumeration helpers: closed forms, agreement with grpo_theory.theory, and the U-statistic form."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from grpo_theory.montecarlo import exact
from grpo_theory.montecarlo.fixtures import check_tabular
from grpo_theory.montecarlo.toy_policy import exact_grad_p
from grpo_theory.montecarlo.variance import group_moments, minibatch_variance, pair_moments

F64 = torch.float64
P_GRID = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


@pytest.mark.parametrize("p", P_GRID)
def test_lambda_closed_forms_for_two_and_three_rollouts(p):
    assert exact.gradient_scale(2, p) == pytest.approx(1.0, abs=1e-14)
    assert exact.gradient_scale(3, p) == pytest.approx(math.sqrt(2), abs=1e-14)
    assert exact.gradient_scale(2, p, family="grpo", std_ddof=1) == pytest.approx(1 / math.sqrt(2), abs=1e-14)
    assert exact.gradient_scale(2, p, family="grpo", eps=0.1) == pytest.approx(1 / 1.2, abs=1e-14)
    for g in (2, 3, 7, 16):
        assert exact.gradient_scale(g, p, family="rloo") == pytest.approx(1.0, abs=1e-12)
        assert exact.gradient_scale(g, p, family="dr_grpo") == pytest.approx((g - 1) / g, abs=1e-12)
        assert exact.zero_signal_probability(g, p) == pytest.approx(p**g + (1 - p) ** g, rel=1e-14)


def test_lambda_approaches_large_group_limit():
    for p in (0.2, 0.5):
        assert exact.gradient_scale(400, p) == pytest.approx(1 / math.sqrt(p * (1 - p)), rel=2e-3)


@pytest.mark.parametrize("g", [2, 3, 4, 8, 16])
@pytest.mark.parametrize("ddof,eps", [(0, 0.0), (1, 0.0), (0, 0.05), (1, 1e-6)])
def test_enumeration_agrees_with_theory_module(g, ddof, eps):
    """Two independent implementations of E[A | r] and λ_G (this package and grpo_theory.theory)."""
    theory = pytest.importorskip("grpo_theory.theory")
    for p in P_GRID:
        for x in (0, 1):
            ours = exact.expected_advantage(g, p, x, family="grpo", std_ddof=ddof, eps=eps)
            assert ours == pytest.approx(float(theory.expected_advantage(g, p, x, std_ddof=ddof, eps=eps)),
                                         abs=1e-12)
        lam = exact.gradient_scale(g, p, family="grpo", std_ddof=ddof, eps=eps)
        assert lam == pytest.approx(float(theory.gradient_scale(g, p, std_ddof=ddof, eps=eps)), abs=1e-12)


def test_advantage_moments_reduce_to_expected_advantage():
    for g in (2, 5):
        for p in (0.2, 0.7):
            mom = exact.advantage_moments(g, p, family="grpo")
            for x in (0, 1):
                assert mom["a"][x] == pytest.approx(exact.expected_advantage(g, p, x, family="grpo"),
                                                    abs=1e-14)
            # ddof 0, eps 0: Σ_i A_i² = G for every untied group, so E[A²] = 1 - P0.
            e_a2 = p * mom["a2"][1] + (1 - p) * mom["a2"][0]
            assert e_a2 == pytest.approx(1 - exact.zero_signal_probability(g, p), abs=1e-12)


def test_group_mean_is_lambda_times_grad_p_for_sequence_scores():
    pol = check_tabular()
    for g, fam in ((2, {"family": "grpo"}), (5, {"family": "grpo", "std_ddof": 1}), (4, {"family": "rloo"})):
        mom = group_moments(pol, g, fam, "summed")
        torch.testing.assert_close(mom["mean"], mom["lam"].unsqueeze(-1) * exact_grad_p(pol), rtol=0,
                                   atol=1e-12)


@pytest.mark.parametrize("g", [2, 3, 6])
def test_rloo_variance_equals_u_statistic_formula(g):
    """RLOO is the U-statistic with kernel h = ½(r_i − r_j)(g_i − g_j): an independent variance formula."""
    pol = check_tabular()
    mom = group_moments(pol, g, {"family": "rloo"}, "summed")
    for q in range(pol.num_prompts):
        pi, r, s = pol.probs[q], pol.rewards[q], pol.scores[q]
        h = 0.5 * (r[:, None, None] - r[None, :, None]) * (s[:, None, :] - s[None, :, :])  # (N, N, D)
        mean = torch.einsum("i,j,ijd->d", pi, pi, h)
        h1 = torch.einsum("j,ijd->id", pi, h)
        zeta1 = float(torch.einsum("i,id->", pi, (h1 - mean) ** 2))
        zeta2 = float(torch.einsum("i,j,ijd->", pi, pi, (h - mean) ** 2))
        var_u = (2 * (g - 2) * zeta1 + zeta2) * 2 / (g * (g - 1))
        assert float(mom["var"][q]) == pytest.approx(var_u, rel=1e-10)


def test_pair_moments_match_direct_pair_enumeration():
    """Var(g⁺ − c g⁻) by enumerating all (q, o⁺, o⁻) equals Var(g⁺) + c² Var(g⁻) − 2c Cov."""
    pol = check_tabular()
    for kind in ("summed", "length-normalized"):
        m = pair_moments(pol, kind)
        g = pol.score(kind)
        pi_p = pol.probs * pol.rewards / pol.success_prob().unsqueeze(-1)
        pi_m = pol.probs * (1 - pol.rewards) / (1 - pol.success_prob()).unsqueeze(-1)
        for c in (0.0, 1.0, -0.7, 2.5):
            d = g[:, :, None, :] - c * g[:, None, :, :]  # (Q, N+, N-, D)
            w = pi_p[:, :, None] * pi_m[:, None, :] / pol.num_prompts
            mean = torch.einsum("qab,qabd->d", w, d)
            var = float(torch.einsum("qab,qab->", w, ((d - mean) ** 2).sum(-1)))
            assert var == pytest.approx(m["var_plus"] + c * c * m["var_minus"] - 2 * c * m["cov"], rel=1e-10)


def test_minibatch_prompt_term_grows_with_group_size_at_fixed_budget():
    pol = check_tabular()
    terms = [minibatch_variance(pol, 16 // g, g, {"family": "rloo"})["prompt_term"] for g in (2, 4, 8, 16)]
    assert all(a < b for a, b in itertools.pairwise(terms))
    assert terms[-1] / terms[0] == pytest.approx(8.0, rel=1e-12)  # G · Var_q / B


def test_family_of_preset():
    assert exact.family_of_preset({"scale": "group", "std_ddof": 1, "eps": 1e-6}) == {
        "family": "grpo", "std_ddof": 1, "eps": 1e-6}
    assert exact.family_of_preset({"scale": "none"}) == {"family": "dr_grpo"}
    with pytest.raises(ValueError):
        exact.family_of_preset({"scale": "batch"})


def test_product_variance_identity_holds_exactly_iff_score_is_centered():
    from grpo_theory.montecarlo.bandit import random_bandit
    from grpo_theory.montecarlo.fixtures import check_bandit, generator
    from grpo_theory.montecarlo.variance import product_variance_terms

    with pytest.raises(ValueError, match="embed=True"):
        product_variance_terms(check_bandit())
    for pol in (check_tabular(), random_bandit(5, 4, generator(3), embed=True)):
        for rew in (pol.rewards, pol.rewards + 0.3 * pol.lengths):
            t = product_variance_terms(pol, rew, "summed")
            assert t["mean_g_norm2"] < 1e-20
            assert t["lhs"] == pytest.approx(t["rhs"], rel=1e-12)
    t = product_variance_terms(check_tabular(), None, "length-normalized")
    assert t["mean_g_norm2"] > 1e-4 and abs(t["lhs"] - t["rhs"]) > 1e-3
