"""The estimators of R6, R8/R9 and R7 on synthetic data with known answers, the count sketch, and the
score identity E[∇log π] = 0 on a micro Llama by exhaustive enumeration of one-token completions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grpo_theory.realcheck import covariance as cv
from grpo_theory.realcheck import direction_invariance as di
from grpo_theory.realcheck import discard_rate as dr
from grpo_theory.realcheck._common import Sketch, per_sample_scores


def _replicates(mu, scale_b, nu, R, noise, seed):
    gen = torch.Generator().manual_seed(seed)
    D = mu.numel()
    a = [mu + noise * torch.randn(D, generator=gen, dtype=torch.float64) for _ in range(R)]
    b = [scale_b * mu + nu + noise * torch.randn(D, generator=gen, dtype=torch.float64) for _ in range(R)]
    V = torch.stack(a + b)
    return V @ V.T


def test_direction_statistics_cover_the_truth_and_reject_a_tilted_direction():
    D, R = 400, 40
    mu = torch.zeros(D, dtype=torch.float64)
    mu[:10] = 1.0  # ||mu||^2 = 10
    rewards = torch.zeros(R, 8)
    rewards[:, :4] = 1.0  # p̂ = 1/2
    # large_g = 3: λ_3/λ_2 = √2 for every p (hand-known value).
    gram = _replicates(mu, math.sqrt(2), torch.zeros(D, dtype=torch.float64), R, noise=0.3, seed=0)
    s = di.prompt_statistics(gram, rewards, large_g=3)
    assert s["predicted_ratio"] == pytest.approx(math.sqrt(2), rel=1e-9)
    lo, hi = s["norm_ratio_ci95"]
    assert lo <= math.sqrt(2) <= hi and hi - lo < 0.3
    lo, hi = s["cosine_debiased_ci95"]
    assert lo <= 1.0 <= hi
    # plain cosine of the means grows with the number of blocks
    curve = [c["plain_cosine"] for c in s["plain_cosine_curve"]]
    assert curve[-1] > curve[0]
    # a component orthogonal to mu: the debiased cosine is 1/sqrt(1 + 1) and the CI excludes 1
    nu = torch.zeros(D, dtype=torch.float64)
    nu[20:30] = math.sqrt(2)
    s = di.prompt_statistics(_replicates(mu, math.sqrt(2), nu, R, 0.3, 1), rewards, large_g=3)
    assert s["cosine_debiased_ci95"][1] < 0.9
    assert s["cosine_debiased"] == pytest.approx(1 / math.sqrt(2), abs=0.06)


def test_count_sketch_preserves_inner_products_in_expectation():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5000, generator=gen, dtype=torch.float64)
    y = 0.5 * x + torch.randn(5000, generator=gen, dtype=torch.float64)
    true = float(x @ y)
    vals = []
    for seed in range(200):
        s = Sketch(5000, 256, seed=seed)
        vals.append(float(s(x) @ s(y)))
    m, se = np.mean(vals), np.std(vals, ddof=1) / math.sqrt(len(vals))
    assert abs(m - true) < 4 * se
    # variance formula: (|x|^2|y|^2 + <x,y>^2 - 2 sum x_j^2 y_j^2) / d
    pred_var = (float(x @ x) * float(y @ y) + true**2 - 2 * float((x * x * y * y).sum())) / 256
    assert np.var(vals, ddof=1) == pytest.approx(pred_var, rel=0.3)
    assert torch.equal(Sketch(10, None)(torch.arange(10.0)), torch.arange(10.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="flat vector"):
        Sketch(10, 4)(torch.zeros(3))


def test_covariance_statistics_match_a_direct_computation():
    rng = np.random.default_rng(0)
    Q, n, D = 30, 10, 50
    sums, mp, mn, mpos_np, mneg_np = [], [], [], [], []
    shared = rng.normal(size=(Q, D))
    for q in range(Q):
        k = 1 + q % (n - 1)
        r = torch.tensor([1.0] * k + [0.0] * (n - k), dtype=torch.float64)
        G = torch.tensor(shared[q] + rng.normal(size=(n, D)), dtype=torch.float64)
        s, a, b = cv.prompt_sums(G, r)
        sums.append(s)
        mp.append(a)
        mn.append(b)
        mpos_np.append(G[:k].mean(0).numpy())
        mneg_np.append(G[k:].mean(0).numpy())
    st = cv.kind_statistics(sums, mp, mn, n_perm=200, seed=0)
    A, B = np.array(mpos_np), np.array(mneg_np)
    direct = np.trace(np.cov(A.T, B.T)[:D, D:])  # trace of the cross-covariance block
    assert st["across_prompts"]["cov_pos_neg"] == pytest.approx(direct, rel=1e-9)
    assert st["across_prompts"]["var_pos_of_means"] == pytest.approx(np.trace(np.cov(A.T)), rel=1e-9)
    # the shared prompt component makes Cov ≈ tr(I_D) = D; a permutation destroys it
    assert st["across_prompts"]["cov_pos_neg"] > 10 * abs(st["across_prompts"]["permuted_mean"])
    assert st["across_prompts"]["permuted_frac_ge_observed"] < 0.01
    # within-prompt noise has unit variance per coordinate: trace D
    assert st["within_prompts"]["mean_var_pos"] == pytest.approx(D, rel=0.15)
    assert abs(st["within_prompts"]["mean_cov_pos_neg"]) < 0.2 * D


def test_unbiased_p0_has_expectation_p_squared_plus_q_squared():
    m = 7
    for p in (0.1, 0.5, 0.83):
        ks = torch.arange(m + 1, dtype=torch.float64)
        pmf = torch.tensor([math.comb(m, k) * p**k * (1 - p) ** (m - k) for k in range(m + 1)],
                           dtype=torch.float64)
        assert float((pmf * dr.unbiased_p0(ks, m)).sum()) == pytest.approx(p * p + (1 - p) ** 2, abs=1e-12)


def test_score_identity_holds_exactly_on_a_micro_llama(policy):
    """Σ_v π(v|q) ∇log π(v|q) = 0 over every one-token completion v (R9's E[g|q] = 0)."""
    from grpo_theory.llm.policy import Rollouts

    V = len(policy.tokenizer)
    p_ids, p_mask = policy._encode_prompts(["12+34="])
    r = Rollouts(p_ids.repeat(V, 1), p_mask.repeat(V, 1), torch.arange(V).view(V, 1),
                 torch.ones(V, 1, dtype=torch.long), [""] * V, ["12+34="] * V)
    g = per_sample_scores(policy, r, kinds=("summed",))["summed"]
    with torch.no_grad():
        prob = policy.token_logprobs(r).double().exp().view(V)
    assert float(prob.sum()) == pytest.approx(1.0, abs=1e-6)
    mean = (prob.unsqueeze(1) * g).sum(0)
    scale = float((prob * (g * g).sum(1)).sum().sqrt())
    assert float(mean.norm()) < 1e-6 * scale
    # and a deliberately wrong weighting (uniform instead of π) does not vanish
    assert float(g.mean(0).norm()) > 1e-2 * scale
