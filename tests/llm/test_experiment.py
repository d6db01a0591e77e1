"""Experiment runner, presets and summary.

Micro-scale runs in the fast suite, the quick preset in the slow one.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from grpo_theory.llm.config import TrainConfig
from grpo_theory.llm.experiment import load_results, run_experiment, slug
from grpo_theory.llm.presets import (
    ARMS,
    PRESETS,
    REFERENCE,
    Preset,
    Sweep,
    ablation_runs,
    headline_runs,
    lr_sweep_runs,
)
from grpo_theory.llm.summary import format_table, summarize

from .test_trainer import EvenStartTask, micro_policy

# --------------------------------------------------------------------------------------------------
# presets encode the paper's setup


def test_headline_presets_follow_the_paper():
    for p in PRESETS.values():
        _check_preset(p)


def _check_preset(p: Preset) -> None:
    runs = headline_runs(p)
    assert tuple(runs) == ARMS
    g16, g2, g2_rule, rs, dpo, control = runs.values()
    # equal rollouts per mini-batch, 8x the prompts, equal epochs and prompt set,
    # 16 vs 2 updates per generation
    assert g16.group_size * g16.prompts_per_step == g2.group_size * g2.prompts_per_step
    assert (g16.group_size, g2.group_size, g2.prompts_per_step) == (16, 2, 8 * g16.prompts_per_step)
    assert (g16.updates_per_generation, g2.updates_per_generation) == (16, 2)
    assert len({c.epochs for c in runs.values()}) == 1 and len({c.train_size for c in runs.values()}) == 1
    # the paper's rule as its own arm; the control borrows 2-GRPO's lr and only changes the reward
    assert g2_rule.lr == pytest.approx(8 * g16.lr) and g2_rule.lr == pytest.approx(8 * p.lr)
    assert control.lr == g2.lr and control.reward_mode == "random" and g2.reward_mode == "task"
    assert rs.resample and rs.resample_budget * g2.base_rollouts <= g16.base_rollouts
    assert (g16.loss, g2.loss, dpo.loss) == ("grpo", "two_grpo", "online_dpo")
    assert (g16.clip_low, g16.clip_high, g16.kl_coef, g16.temperature) == (0.2, 0.28, 0.0, 1.0)
    assert (g16.eval_temperature, g16.eval_top_p) == (0.7, 0.8)
    if p.eval_points:
        # dense evaluation: >= eval_points points per run, and 16-GRPO at every 2-GRPO evaluation step
        assert all(len(c.eval_step_set) >= p.eval_points for c in runs.values())
        assert g2.eval_step_set <= g16.eval_step_set and g2.total_steps in g16.eval_step_set
    ab = ablation_runs(p)
    assert sorted(c.group_size for c in ab.values()) == [2, 4, 8, 16]
    assert {c.prompts_per_step for c in ab.values()} == {g16.prompts_per_step}
    assert {c.lr for c in ab.values()} == {p.lr}
    if p.sweep is not None:
        sweep = lr_sweep_runs(p)
        assert all(c.eval_split == "validation" for c in sweep.values())
        for method in ("2-GRPO", "2-GRPO+RS", "online DPO"):
            lrs = {c.lr for name, c in sweep.items() if name.startswith(method + " lr=")}
            assert len(lrs) >= 2 and {float(f"{p.lr:.3g}"), float(f"{8 * p.lr:.3g}")} <= lrs


@pytest.mark.parametrize("name", ["full", "paper"])
def test_full_and_paper_presets_meet_the_protocol(name):
    p = PRESETS[name]
    runs = headline_runs(p)
    assert runs["2-GRPO"].total_steps >= (290 if name == "paper" else 150)
    assert {c.warmup_steps for c in runs.values()} == {10} and len(p.seeds) >= 3
    assert len(lr_sweep_runs(p)) >= 16  # >= 4 candidates for each of the four swept methods
    for m in ("2-GRPO", "2-GRPO+RS", "online DPO"):
        assert {p.lr, 8 * p.lr, float(f"{8 ** 0.5 * p.lr:.3g}")} <= {
            c.lr for n, c in lr_sweep_runs(p).items() if n.startswith(m + " lr=")}


def test_gpu_preset_uses_cuda_and_bf16():
    base = PRESETS["gpu"].base
    assert base.device == "cuda" and base.dtype == "bfloat16"
    assert PRESETS["full"].base.device == "cpu" and len(PRESETS["full"].seeds) >= 3


# --------------------------------------------------------------------------------------------------
# summary arithmetic


def _res(name, seed, acc, rollouts, secs, start=0.2, discard=0.1):
    ev = {"eval/greedy_acc": acc, "eval/mean_at_k": acc, "eval/pass_at_k": acc}
    st = {"eval/greedy_acc": start, "eval/mean_at_k": start, "eval/pass_at_k": start}
    return {"name": name, "config": {"seed": seed}, "final_eval": ev, "start_eval": st, "rollouts": rollouts,
            "steps": 10, "train_seconds": secs, "train_cpu_seconds": 2 * secs, "discard_frac": discard}


def test_summary_retention_and_cost_ratios():
    runs = {
        "16-GRPO": [_res("16-GRPO", 0, 0.60, 800, 100.0), _res("16-GRPO", 1, 0.40, 800, 100.0)],
        "2-GRPO": [_res("2-GRPO", 0, 0.50, 100, 20.0), _res("2-GRPO", 1, 0.40, 100, 22.0)],
    }
    s = summarize(runs, "16-GRPO")
    row = s["methods"]["2-GRPO"]
    assert row["mean_at_k"][0] == pytest.approx(0.45)
    assert row["mean_at_k"][1] == pytest.approx(math.sqrt(0.005))
    assert row["retention_mean_at_k"] == pytest.approx(90.0)
    assert row["gain_retention_mean_at_k"] == pytest.approx(100 * 0.25 / 0.30)
    assert row["paired_diff_mean_at_k"][0] == pytest.approx(-0.05)
    assert row["rollouts_pct"] == pytest.approx(12.5)
    assert row["time_pct"] == pytest.approx(21.0)
    assert row["cpu_time_pct"] == pytest.approx(21.0)
    assert s["methods"]["16-GRPO"]["retention_mean_at_k"] == pytest.approx(100.0)
    table = format_table(s, k=8)
    assert "| 2-GRPO | 2 | 45.0 ± 7.1 |" in table and "(12.5)" in table and "(21.0)" in table


# --------------------------------------------------------------------------------------------------
# the runner at micro scale


@pytest.fixture
def micro_preset(tmp_path):
    path = tmp_path / "micro-policy"
    micro_policy().save(path)
    base = TrainConfig(policy=str(path), train_size=16, epochs=1, prompts_per_step=16, rollout_prompts=16,
                       eval_size=8, eval_k=2, threads=1)
    return Preset(name="micro", description="test", base=base, lr=1e-3, prompts_16=1, seeds=(0,),
                  checkpoint_every=4, eval_points=2,
                  sweep=Sweep(grid_16=(1e-3, 3e-3), multipliers=(1.0, 8.0)))


def test_headline_runner_writes_results_and_skips_finished_runs(tmp_path, micro_preset):
    out = tmp_path / "headline"
    lines: list[str] = []
    summary = run_experiment("headline", micro_preset, seeds=[0, 1], out=out, progress=False,
                             task=EvenStartTask(),
                             log=lines.append)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["seeds"] == [0, 1] and set(cfg["runs"]) == set(ARMS)
    for name in cfg["runs"]:
        for seed in (0, 1):
            assert (out / "runs" / f"{slug(name)}_s{seed}.jsonl").stat().st_size > 0
            run = json.loads((out / "runs" / f"{slug(name)}_s{seed}.json").read_text())
            assert run["status"] == "complete"
    assert not any((out / ".work").iterdir())  # working dirs are removed once a run is saved
    s = json.loads((out / "summary.json").read_text())
    assert s == json.loads(json.dumps(summary))
    m = s["methods"]
    assert m["2-GRPO"]["rollouts_pct"] == pytest.approx(12.5)
    assert m["online DPO"]["rollouts_pct"] == pytest.approx(12.5)
    assert 12.5 <= m["2-GRPO+RS"]["rollouts_pct"] <= 100.0
    assert m["16-GRPO"]["steps"][0] == 16 and m["2-GRPO"]["steps"][0] == 2
    # interval estimates from the per-problem outcomes: the reference's own retention is exactly 100
    assert m["16-GRPO"]["intervals"]["retention_ci95"] == [100.0, 100.0]
    lo, hi = m["2-GRPO"]["intervals"]["paired_delta_ci95"]
    assert lo <= m["2-GRPO"]["intervals"]["paired_delta"] <= hi
    # every method of a seed starts from the same evaluated checkpoint
    starts = {json.dumps(r["start_eval"], sort_keys=True) for rs in load_results(out).values() for r in rs
              if r["config"]["seed"] == 0}
    assert len(starts) == 1
    assert "| 16-GRPO | 2 |" in (out / "summary.md").read_text()
    # the headline's per-arm record (grpo_theory.llm.headline)
    arms = s["arms"]
    assert set(arms) == set(ARMS)
    for rec in arms.values():
        assert {"steps", "lr", "lr_selected_on", "mean_at_k", "retention", "gain_retention", "paired_delta",
                "rollout_share", "cpu_time_share"} <= set(rec)
    assert arms["2-GRPO"]["rollout_share"] == pytest.approx(0.125)
    assert arms["2-GRPO (8eta)"]["lr"] == pytest.approx(8 * micro_preset.lr)
    assert arms["2-GRPO"]["lr_selected_on"] == "rule"  # the micro preset has no tuned lrs
    assert arms["2-GRPO"]["paper_claim"]["verdict"] in ("supported", "rejected", "inconclusive")
    eq = arms["2-GRPO"]["budgets"]["equal_steps"]
    assert eq["reference_steps"] == eq["steps"] == [2, 2]  # 16-GRPO read off its curve at 2-GRPO's 2 steps

    lines.clear()
    run_experiment("headline", micro_preset, seeds=[0, 1], out=out, progress=False, task=EvenStartTask(),
                   log=lines.append)
    assert sum("skipped" in line for line in lines) == 2 * len(ARMS)


def test_lr_sweep_selects_on_validation(tmp_path, micro_preset):
    s = run_experiment("lr_sweep", micro_preset, out=tmp_path / "sweep", progress=False, task=EvenStartTask(),
                       log=lambda *_: None)
    assert s["selected_on"] == "validation"
    assert set(s["selected"]) == {"16-GRPO", "2-GRPO", "2-GRPO+RS", "online DPO"}
    assert s["sweep"]["2-GRPO"]["lrs"] == [1e-3, 8e-3]
    for method, lr in s["selected"].items():
        row = s["sweep"][method]
        assert row["score"][row["lrs"].index(lr)] == max(row["score"])


def test_gpu_preset_runs_at_tiny_scale_on_cpu(tmp_path, micro_preset):
    """The gpu preset's configs (bf16 autocast), shrunk to the micro model and run on the CPU."""
    gpu = PRESETS["gpu"]
    shrunk = replace(gpu, base=gpu.base.replace(policy=micro_preset.base.policy, train_size=16,
                                                prompts_per_step=16, rollout_prompts=16, eval_size=4,
                                                eval_k=2, threads=1),
                     prompts_16=2, seeds=(0,))
    assert shrunk.base.dtype == "bfloat16"
    s = run_experiment("headline", shrunk, device="cpu", out=tmp_path / "gpu", progress=False,
                       task=EvenStartTask(), log=lambda *_: None, methods=["16-GRPO", "2-GRPO"])
    assert set(s["methods"]) == {"16-GRPO", "2-GRPO"}
    cfg = json.loads((tmp_path / "gpu" / "config.json").read_text())
    assert cfg["runs"]["16-GRPO"]["dtype"] == "bfloat16" and cfg["runs"]["16-GRPO"]["device"] == "cpu"


def test_cli_parses_experiment_options():
    import argparse

    from grpo_theory.llm import cli_experiment

    parser = argparse.ArgumentParser()
    cli_experiment.add_arguments(parser)
    args = parser.parse_args(["headline", "--preset", "full", "--seeds", "0", "1", "2", "--device", "cpu"])
    assert (args.name, args.preset, args.seeds, args.device) == ("headline", "full", [0, 1, 2], "cpu")
    from grpo_theory.artifacts import repo_root

    root = repo_root()
    # scratch, not results/
    assert cli_experiment.default_out("headline", "paper") == root / "runs" / "headline"
    assert cli_experiment.default_out("headline", "full") == root / "runs" / "full" / "headline"
    assert cli_experiment.default_out("headline", "gpu") == root / "runs" / "gpu" / "headline"
    committed = cli_experiment.default_out("headline", "paper", commit_results=True)
    assert committed == root / "results" / "headline"
    with pytest.raises(SystemExit):
        parser.parse_args(["nonsense"])


# --------------------------------------------------------------------------------------------------
# slow: the real quick preset


@pytest.mark.slow
def test_quick_preset_improves_over_the_start_checkpoint(tmp_path):
    """The quick preset runs end to end, and 16-GRPO raises held-out Mean@k over the start checkpoint by more
    than twice the evaluation's standard error (the noise from which problems were drawn)."""
    s = run_experiment("headline", PRESETS["quick"], out=tmp_path / "quick", progress=False)
    row = s["methods"][REFERENCE]
    results = load_results(tmp_path / "quick")[REFERENCE]
    se = max(r["final_eval"]["eval/mean_at_k_se"] for r in results)
    start_se = max(r["start_eval"]["eval/mean_at_k_se"] for r in results)
    gain = row["mean_at_k"][0] - row["start_mean_at_k"]
    assert gain > 2 * math.hypot(se, start_se), (gain, se, start_se)
    for name in ("2-GRPO", "2-GRPO+RS", "online DPO"):
        assert s["methods"][name]["rollouts_pct"] <= 100.0
