"""Each theory figure's data function runs on a tiny config and its plot function renders it."""

from __future__ import annotations

import copy
import json
import math

import pytest

from grpo_theory.figures import cache
from grpo_theory.figures.data import theory as data
from grpo_theory.figures.plots import theory as plots

TINY = {
    "F1": (data.lambda_g, plots.plot_lambda_g, {**data.F1_CONFIG, "p_line": 21, "p_mc": [0.2, 0.5],
                                                "mc_groups": [2, 4],
                                                  "replicates": 400}),
    "F2": (data.zero_signal, plots.plot_zero_signal, {**data.F2_CONFIG, "groups_batch": [2, 8, 512],
                                                      "batches": 20}),
    "F3": (data.variance_budget, plots.plot_variance_budget, {**data.F3_CONFIG, "groups": [2, 8],
                                                              "replicates": 200,
                                                               "population": {**data.F3_CONFIG["population"],
                                                                              "prompts": 6}}),
    "F4": (data.control_variate_with_real, plots.plot_control_variate, {**data.F4_CONFIG, "pairs": 800,
                                                                        "c_mc": [0.0, 1.0],
                                                               "population": {**data.F4_CONFIG["population"],
                                                                              "prompts": 6}}),
}


@pytest.mark.parametrize("fid", sorted(TINY))
def test_theory_figure_renders_from_tiny_data(fid, tmp_path):
    compute, plot, cfg = TINY[fid]
    got, hit = cache.cached(fid, copy.deepcopy(cfg), compute, data_dir=tmp_path)
    assert not hit
    again, hit = cache.cached(fid, copy.deepcopy(cfg), compute, data_dir=tmp_path)
    assert hit and again == json.loads(json.dumps(got))
    paths = plot(got, tmp_path / fid)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_lambda_g_monte_carlo_matches_theory_on_tiny_run():
    cfg = {**data.F1_CONFIG, "p_line": 5, "p_mc": [0.3], "mc_groups": [2, 3], "replicates": 4000}
    got = data.lambda_g(cfg)
    for d, per_g in got["mc"].items():
        for G, mc in per_g.items():
            z = (float(mc["mean"][0]) - mc["exact"][0]) / float(mc["se"][0])
            assert abs(z) < 4.5, (d, G, z)
    assert math.isclose(float(got["mc"]["0"]["3"]["exact"][0]), math.sqrt(2), rel_tol=1e-12)


def test_config_hash_changes_with_config():
    a = cache.config_hash({"x": 1})
    assert a == cache.config_hash({"x": 1}) and a != cache.config_hash({"x": 2})


def test_control_variate_real_panel_reads_realcheck_moments(tmp_path):
    res = {"config": {"model": "results/checkpoints/tiny"}, "statistics": {
        "summed": {"mixed_prompts": 90, "total": {"var_pos": 2.0, "var_neg": 1.0, "cov_pos_neg": 0.6}},
        "length-normalized": {"mixed_prompts": 90, "total": {"var_pos": 1.0, "var_neg": 1.0,
                                                             "cov_pos_neg": -0.1}}}}
    (tmp_path / "result.json").write_text(json.dumps(res))
    cfg = {**TINY["F4"][2], "real_files": [str(tmp_path / "result.json")]}
    got = data.control_variate_with_real(cfg)
    r = got["real"][0]
    assert r["model"] == "tiny" and math.isclose(r["c_star"], 0.6) and math.isclose(r["rho"],
                                                                                    0.6 / math.sqrt(2))
    c = list(cfg["c"]).index(1.0)
    assert math.isclose(float(r["ratio"][c]), 1 + 0.5 - 0.6)
    assert plots.plot_control_variate(cache.to_jsonable(got), tmp_path / "F4")[0].is_file()


def test_save_writes_png_and_pdf(tmp_path):
    from grpo_theory.figures import style

    fig, axes = style.figure(1, 1)
    axes[0][0].plot([0, 1], [0, 1])
    paths = style.save(fig, tmp_path / "x")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 500 for p in paths)
    assert b"CreationDate" not in paths[1].read_bytes()  # reproducible PDFs
