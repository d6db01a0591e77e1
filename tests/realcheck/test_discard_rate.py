"""R7 wiring: the per-step prompts the experiment re-samples are exactly the ones the trainer trains on."""

from __future__ import annotations

import pytest

from grpo_theory.realcheck import discard_rate as dr


def test_step_problems_are_the_trainers_prompts_and_the_log_has_every_step(policy, tmp_path, monkeypatch):
    import grpo_theory.llm.trainer as trainer
    from grpo_theory.llm.tasks import make_task

    seen: list[list[str]] = []
    real_collect = trainer.collect

    def spy(policy_, task_, problems, *a, **kw):
        seen.append([p.prompt for p in problems])
        return real_collect(policy_, task_, problems, *a, **kw)

    monkeypatch.setattr(trainer, "collect", spy)
    cfg = dr.DiscardConfig(steps=3, prompts_per_step=4, extra_samples=2, eval_size=0, seed=3)
    res = dr.run_experiment(cfg, policy=policy, progress=False)
    task = make_task("addition")
    tcfg = dr.train_config(cfg, str(tmp_path))
    assert seen == [[p.prompt for p in dr.step_problems(tcfg, task, t)] for t in (1, 2, 3)]
    assert [r["step"] for r in res["steps"]] == [1, 2, 3]
    for r in res["steps"]:
        # a random micro model never solves addition: every pair is tied, as every estimate says
        assert r["measured"] == 1.0 and r["expected_per_prompt"] == 1.0 and r["rbar_formula"] == 1.0
        assert r["printed_formula"] == 0.0


def test_discard_config_rejects_one_extra_sample():
    with pytest.raises(ValueError, match="extra_samples"):
        dr.DiscardConfig(extra_samples=1)
