"""R16 on a real model (grpo_theory.realcheck.group_size_budget): rewards, the step gradient, the estimators.

Fast tests use a random micro Llama (conftest) and synthetic Gaussian replicates with known moments; the
end-to-end run on the tiny checkpoint is slow-marked.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from grpo_theory.realcheck import budget_statistics as bs
from grpo_theory.realcheck import group_size_budget as gb


def test_digit_fraction_reward():
    assert gb.digit_fraction_reward("0579", "0579") == 1.0
    # surrounding whitespace forgiven, like exact match
    assert gb.digit_fraction_reward("0579", " 0579\n") == 1.0
    assert gb.digit_fraction_reward("0579", "0589") == 0.75
    assert gb.digit_fraction_reward("0579", "05790") == 0.8  # extra characters cost: 4 hits / 5
    assert gb.digit_fraction_reward("0579", "05") == 0.5
    assert gb.digit_fraction_reward("0579", "") == 0.0
    with pytest.raises(ValueError, match="answer is empty"):
        gb.digit_fraction_reward("", "1")


def test_config_rejects_bad_grids():
    with pytest.raises(ValueError, match="replicates"):
        gb.BudgetConfig(replicates=2)
    with pytest.raises(ValueError, match="divides"):
        gb.BudgetConfig(budgets=(6,), group_sizes=(4,))
    assert gb.BudgetConfig(budgets=(8, 16), group_sizes=(2, 16)).cells() == [(8, 2), (16, 2), (16, 16)]


@pytest.mark.parametrize("loss", ["grpo", "rloo"])
def test_step_gradient_is_the_advantage_weighted_mean_of_exact_scores(policy, loss):
    """−∇L of grpo_loss (pop. std, ε = 0, seq sums) = (1/BG) Σ A_i ∇log π(o_i|q);
    rloo: A_i = r_i − mean_{−i}."""
    from grpo_theory.llm.tasks import make_task
    from grpo_theory.losses import group_advantages, rloo_advantages
    from grpo_theory.realcheck._common import per_sample_scores

    task = make_task("addition", n_digits=1)
    probs = gb.draw_problems(task, 3, "test")
    G = 4
    v = gb.step_gradients(policy, task, probs, G, seed=5, loss=loss)
    r = policy.generate([p.prompt for p in probs], G, temperature=1.0, top_p=1.0,
                        max_new_tokens=task.max_new_tokens, seed=5, batch_size=4096)  # the same rollouts
    scores = per_sample_scores(policy, r, kinds=("summed",))["summed"]  # [BG, D]
    rw = gb.rewards_of(task, probs, r.texts, G)
    for name in gb.REWARDS:
        adv = group_advantages(rw[name], std_ddof=0, eps=0.0) if loss == "grpo" else rloo_advantages(rw[name])
        expected = (adv.reshape(-1, 1).to(scores.dtype) * scores).sum(0) / (len(probs) * G)
        err = float((v[name] - expected).abs().max())
        assert err <= 1e-10 * max(1.0, float(expected.abs().max())), (name, err)


def _sufficient_from(mu, sd_by_budget, t, R, gen):
    """Gaussian replicates v = μ + sd·ξ per budget, the exact reference t (both halves)."""
    V = {n: mu + sd * torch.randn(R, mu.numel(), generator=gen, dtype=torch.float64)
         for n, sd in sd_by_budget.items()}
    return gb.sufficient(V, t, t)


def test_statistics_exact_without_noise():
    """Identical replicates (Σ = 0): tr Σ = 0 and the biases are their closed forms, to rounding."""
    mu = torch.tensor([3.0, 1.0, 0.0, -2.0], dtype=torch.float64)
    t = torch.tensor([2.0, 0.0, 1.0, -1.0], dtype=torch.float64)
    suff = gb.sufficient({64: mu.repeat(5, 1), 256: mu.repeat(4, 1)}, t, t)
    st = gb.group_statistics(suff)
    tt = float(t @ t)
    along2 = float(mu @ t) ** 2 / tt
    for n in (64, 256):
        s = st[n]
        assert s["replicates"] == (5 if n == 64 else 4) and s["pooled_replicates"] == 9
        assert abs(s["trace_cov"]) < 1e-12 and abs(s["own"]) < 1e-12
        assert s["grad_bias"] == pytest.approx(float((mu - t) @ (mu - t)) / tt, abs=1e-12)
        assert s["direction_bias"] == pytest.approx((float(mu @ mu) - along2) / along2, abs=1e-12)
        assert s["scale_along_t"] == pytest.approx(float(mu @ t) / tt, abs=1e-12)


def test_statistics_unbiased_on_gaussian_replicates():
    """Known μ, Σ = sd²I per budget, exact t: every target within 4 jackknife SEs of its true value."""
    gen = torch.Generator().manual_seed(0)
    d = 40
    mu = torch.randn(d, generator=gen, dtype=torch.float64)
    t = mu + 0.5 * torch.randn(d, generator=gen, dtype=torch.float64)
    sds = {64: 1.0, 256: 0.5}
    st = gb.group_statistics(_sufficient_from(mu, sds, t, 300, gen))  # 600 pooled replicates
    tt = float(t @ t)
    u = t / math.sqrt(tt)
    along = float(u @ mu)
    for n, sd in sds.items():
        tr = d * sd**2
        truth = {
            "trace_cov": tr, "own": tr / float(mu @ mu), "grad_bias": float((mu - t) @ (mu - t)) / tt,
            "grad_var": tr / tt, "direction_bias": (float(mu @ mu) - along**2) / along**2,
            "direction_var": (tr - sd**2) / along**2,
        }
        for k, want in truth.items():
            z = (st[n][k + "_bc"] - want) / st[n][k + "_se"]
            assert abs(z) < 4, (n, k, st[n][k + "_bc"], want, z)


def test_fit_cells_recovers_an_exact_law_and_leaves_out_nonpositive_points():
    c = (0.5, 2.0, 6.0)

    def law(B, G):
        return c[0] / B + c[1] / (B * G) + c[2] / (B * G * G)

    cells = []
    for n in (64, 256):
        for g in (2, 4, 8, 16):
            B = n // g
            e = law(B, g)
            stats = {"own": e, "own_se": 0.01 * e, "grad_var": e, "grad_var_se": 0.01 * e,
                     "direction_var": -1.0 if g == 16 else e, "direction_var_se": 0.01 * e}
            cells.append({"N": n, "G": g, "B": B, "exact": {"binary": stats}})
    fit = gb.fit_cells(cells, "exact", "binary")
    assert fit["own"]["c"] == pytest.approx(list(c), rel=1e-8)
    assert fit["own"]["G_star"] == pytest.approx(math.sqrt(12.0), rel=1e-8)
    assert fit["direction"]["left_out"] == 2 and fit["direction"]["points"] == 6


@pytest.mark.slow
def test_run_on_the_tiny_checkpoint_and_resume(tmp_path):
    cfg = gb.BudgetConfig(budgets=(16, 32), group_sizes=(2, 4, 16), replicates=8, ref_prompts=64,
                          ref_chunk=32, sketch_dim=512)
    res = gb.run(cfg, out=str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"), progress=False)
    assert {(c["N"], c["G"]) for c in res["cells"]} == set(cfg.cells())
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert cached == ["G16.pt", "G2.pt", "G4.pt", "reference.pt"]
    for c in res["cells"]:
        for k in gb.REWARDS:
            assert c["exact"][k]["mean_sq_norm"] > 0 and c["exact"][k]["replicates"] == 8
    # binary rewards: λ_2 ≡ 1, so E ĝ_2 = ∇E[r] and the G = 2 scale-included bias is 0 within noise
    s = next(c for c in res["cells"] if c["G"] == 2 and c["N"] == 32)["exact"]["binary"]
    assert abs(s["grad_bias_bc"]) < 4 * s["grad_bias_se"]
    again = gb.run(cfg, out=str(tmp_path / "out2"), cache_dir=str(tmp_path / "cache"), progress=False)
    # from the cache: same statistics (NaN -> None)
    assert gb.jsonable(again["cells"]) == gb.jsonable(res["cells"])
    assert again["seconds"] < res["seconds"]
    fewer = gb.run(dataclasses.replace(cfg, group_sizes=(2, 16)), out=str(tmp_path / "out3"),
                   cache_dir=str(tmp_path / "cache"), progress=False)  # a subset of the grid: all cached
    assert gb.jsonable([c for c in res["cells"] if c["G"] in (2, 16)]) == gb.jsonable(fewer["cells"])


def test_leave_one_out_updates_match_the_direct_computation():
    """The closed-form jackknife replicates equal recomputing each target without replicate r (float64)."""
    gen = torch.Generator().manual_seed(3)
    V = torch.randn(9, 6, generator=gen, dtype=torch.float64) + 1.0
    t1 = torch.randn(6, generator=gen, dtype=torch.float64)
    t2 = torch.randn(6, generator=gen, dtype=torch.float64)
    K, a, b, tt = V @ V.T, V @ t1, V @ t2, float(t1 @ t2)
    cell = torch.tensor([True] * 5 + [False] * 4)
    loo = bs._targets_loo(K, a, b, tt, cell)
    worst = 0.0
    for r in range(9):
        direct = bs._targets(K, a, b, tt, torch.tensor([i for i in range(9) if i != r]), cell)
        for k, v in direct.items():
            worst = max(worst, abs(loo[k][r].item() - v) / max(1.0, abs(v)))
    assert worst < 1e-12, worst
