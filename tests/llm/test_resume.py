"""A run killed after k steps and resumed equals the uninterrupted run: same log metrics, same weights."""

from __future__ import annotations

import pytest
import torch

from grpo_theory.llm.trainer import CHECKPOINT_NAME, LOG_NAME, RESULT_NAME, read_jsonl, train

from .test_trainer import EvenStartTask, micro_cfg, micro_policy

# Wall-clock and CPU seconds differ between any two runs; everything else must match exactly.
TIMING_PREFIXES = ("time/", "cpu/")


def _metrics(path):
    return [{k: v for k, v in r.items() if not k.startswith(TIMING_PREFIXES)} for r in read_jsonl(path)]


def _weights(policy):
    return {k: v.detach().clone() for k, v in policy.model.state_dict().items()}


@pytest.mark.parametrize(
    "kw",
    [
        dict(loss="grpo", rollout_prompts=8, eval_size=8, eval_k=2, eval_every=4),  # off-policy mini-batches + evals
        dict(loss="two_grpo", group_size=2, prompts_per_step=8, resample=True),  # resampling draws
        dict(loss="online_dpo", group_size=2, prompts_per_step=8, warmup_steps=3),  # reference model, warm-up
    ],
    ids=["grpo", "rs", "dpo"],
)
def test_killed_and_resumed_run_equals_uninterrupted(tmp_path, kw):
    full_cfg = micro_cfg(tmp_path / "a", epochs=3, **kw)
    full_policy = micro_policy()
    full = train(full_cfg, progress=False, policy=full_policy, task=EvenStartTask())

    cut_cfg = full_cfg.replace(out_dir=str(tmp_path / "b" / "run"), checkpoint_every=2)
    stopped = train(cut_cfg, progress=False, policy=micro_policy(), task=EvenStartTask(), stop_after=4)
    run_dir = tmp_path / "b" / "run"
    assert stopped["status"] == "stopped" and stopped["step"] == 4
    assert (run_dir / CHECKPOINT_NAME).exists() and not (run_dir / RESULT_NAME).exists()
    # A kill can also tear the last log line and leave steps past the checkpoint: both are discarded.
    with open(run_dir / LOG_NAME, "a") as fh:
        fh.write('{"step": 5, "loss/loss": 123.0}\n{"step": 6, "trunc')

    resumed_policy = micro_policy()  # the start weights; the checkpoint's step-4 weights replace them
    resumed = train(cut_cfg, resume=True, progress=False, policy=resumed_policy, task=EvenStartTask())

    assert resumed["status"] == "complete"
    assert _metrics(run_dir / LOG_NAME) == _metrics(tmp_path / "a" / "run" / LOG_NAME)
    for key in ("steps", "rollouts", "prompts", "groups", "discarded_groups", "final_eval", "start_eval"):
        assert resumed[key] == full[key], key
    w_full, w_res = _weights(full_policy), _weights(resumed_policy)
    assert w_full.keys() == w_res.keys()
    for k in w_full:
        assert torch.equal(w_full[k], w_res[k]), k
    assert not (run_dir / CHECKPOINT_NAME).exists()  # a finished run needs no checkpoint


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path):
    cfg = micro_cfg(tmp_path, checkpoint_every=2)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask(), stop_after=2)
    with pytest.raises(ValueError, match="different config"):
        train(cfg.replace(lr=5e-4), resume=True, progress=False, policy=micro_policy(), task=EvenStartTask())


def test_resume_refuses_other_start_weights(tmp_path):
    """The reference (KL / DPO) is rebuilt from the start policy, so resuming from other start weights is an error."""
    cfg = micro_cfg(tmp_path, checkpoint_every=2)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask(), stop_after=2)
    with pytest.raises(ValueError, match="other start weights"):
        train(cfg, resume=True, progress=False, policy=micro_policy(seed=1), task=EvenStartTask())
