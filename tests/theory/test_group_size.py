"""R16: exact per-step errors at a fixed budget on the toy policies, checked by brute-force enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from grpo_theory.theory import group_size as gs


def test_registry_check_r16():
    ev = gs.check_R16()
    assert ev, ev


def _brute_force_errors(prompts, phi, B, G):
    """E over every batch: B prompts (uniform, with replacement) x G rollouts each, all outcomes
    enumerated."""
    Q, K = len(prompts), len(prompts[0][0])
    per_prompt = []  # law of ĝ_G(q) φ_qᵀ: list of (weight, matrix) over all K^G outcomes
    for (pi, r), f in zip(prompts, phi, strict=True):
        law = []
        for o in itertools.product(range(K), repeat=G):
            rv = r[list(o)]
            a = np.zeros(G) if np.all(rv == rv[0]) else (rv - rv.mean()) / rv.std()
            g = sum(a[i] * (np.eye(K)[o[i]] - pi) for i in range(G)) / G
            law.append((np.prod(pi[list(o)]) / Q, np.outer(g, f)))
        per_prompt += law
    t = sum(np.outer(pi * (r - pi @ r), f) for (pi, r), f in zip(prompts, phi, strict=True)) / Q
    mu = sum(w * x for w, x in per_prompt)
    u = t / np.linalg.norm(t)
    out = {"own": 0.0, "grad": 0.0, "direction": 0.0}
    for batch in itertools.product(per_prompt, repeat=B):
        w = np.prod([b[0] for b in batch])
        x = sum(b[1] for b in batch) / B
        out["own"] += w * ((x - mu) ** 2).sum() / (mu**2).sum()
        out["grad"] += w * ((x - t) ** 2).sum() / (t**2).sum()
        perp = x - (x * u).sum() * u
        out["direction"] += w * (perp**2).sum() / ((u * mu).sum()) ** 2
    return out


@pytest.mark.parametrize("G, B", [(2, 2), (3, 1)])
def test_budget_errors_equal_brute_force_on_a_two_prompt_toy(G, B):
    prompts = [(np.array([0.5, 0.3, 0.2]), np.array([1.0, 0.0, 0.4])),
               (np.array([0.2, 0.2, 0.6]), np.array([0.0, 1.0, 1.0]))]
    phi = gs.toy_features(2)
    got = gs.budget_errors(prompts, G * B, [G], features=phi)
    want = _brute_force_errors(prompts, phi, B, G)
    for target in gs.TARGETS:
        assert abs(got[target][0] - want[target]) < 1e-12 * max(1.0, want[target]), (
            target,
            got[target][0],
            want[target],
        )


def test_biases_and_variance_parts_add_up_and_own_has_no_bias():
    e = gs.budget_errors(gs.toy_prompts("binary"), 16, [2, 4, 8])
    for t in ("grad", "direction"):
        assert np.allclose(e[t], e[f"{t}_bias"] + e[f"{t}_var"], rtol=1e-14, atol=0)
    # 2-GRPO is unbiased for ∇E[r] with binary rewards (λ_2 ≡ 1); G = 4 is not (λ_4 depends on p)
    assert e["grad_bias"][0] < 1e-28 and e["grad_bias"][1] > 0.1


def test_variance_part_scales_as_one_over_b():
    prompts = gs.toy_prompts("real")
    a = gs.budget_errors(prompts, 16, [4])
    b = gs.budget_errors(prompts, 64, [4])
    assert (
        abs(a["own"][0] / b["own"][0] - 4.0) < 1e-12
        and abs(a["grad_var"][0] / b["grad_var"][0] - 4.0) < 1e-12
    )


def test_toy_prompts_are_valid_and_binary_success_rates_are_the_stated_ones():
    for kind in ("binary", "real"):
        for pi, r in gs.toy_prompts(kind):
            assert abs(pi.sum() - 1) < 1e-15 and np.all(pi > 0) and r.shape == pi.shape
    ps = [float(pi @ r) for pi, r in gs.toy_prompts("binary")]
    assert np.allclose(ps, gs.TOY_P, atol=1e-15)
    assert len({tuple(r) for _, r in gs.toy_prompts("real")}) == gs.TOY_PROMPTS


def test_r16_table_fits_and_best_group_sizes():
    t = gs.r16_table()
    for kind in ("binary", "real"):
        assert t[kind]["best"] == {"own": 4, "grad": 2, "direction": 4}
        fit = t[kind]["fits"]["direction"]
        assert fit.g2_optimal == "no" and 3.0 < fit.g_star < 4.5 and fit.rel_residual < 0.05


def test_bad_grid_and_features():
    with pytest.raises(ValueError, match="divide N"):
        gs.budget_errors(gs.toy_prompts("binary"), 64, [3])
    with pytest.raises(ValueError, match="features must have shape"):
        gs.budget_errors(gs.toy_prompts("binary"), 64, [2], features=np.ones((2, 2)))
    with pytest.raises(ValueError, match="kind must be"):
        gs.toy_prompts("ternary")


def test_f11_figure_data_and_plot_on_a_tiny_config(tmp_path):
    from grpo_theory.figures.data.theory import group_size_budget
    from grpo_theory.figures.plots.theory import plot_group_size_budget

    got = group_size_budget({"budget": 8, "groups": [2, 4, 8], "mc_groups": [2, 4], "replicates": 300,
                             "seed": 0})
    for toy in got["toys"].values():
        exact = np.asarray(toy["exact"]["own"])[:2]
        mc = np.asarray(toy["mc"]["own"])
        assert np.all(np.abs(mc[:, 0] - exact) < 4.5 * mc[:, 1])  # sampled steps agree with the enumeration
    paths = plot_group_size_budget(got, tmp_path / "F11")
    assert all(p.stat().st_size > 1000 for p in paths)
