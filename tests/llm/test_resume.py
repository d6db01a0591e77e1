"""A run killed after k steps and resumed equals the uninterrupted run: same log metrics, same weights.

All with the default ``checkpoint_every`` (a checkpoint every generation batch)."""

from __future__ import annotations

import pytest
import torch

from grpo_theory.llm.config import TrainConfig
from grpo_theory.llm.trainer import CHECKPOINT_NAME, LOG_NAME, RESULT_NAME, ResumeError, read_jsonl, train

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
        # off-policy mini-batches + evals
        dict(loss="grpo", rollout_prompts=8, eval_size=8, eval_k=2, eval_every=4),
        dict(loss="two_grpo", group_size=2, prompts_per_step=8, resample=True),  # resampling draws
        dict(loss="online_dpo", group_size=2, prompts_per_step=8, warmup_steps=3),  # reference model, warm-up
    ],
    ids=["grpo", "rs", "dpo"],
)
def test_killed_and_resumed_run_equals_uninterrupted(tmp_path, kw):
    full_cfg = micro_cfg(tmp_path / "a", epochs=3, **kw)
    full_policy = micro_policy()
    full = train(full_cfg, progress=False, policy=full_policy, task=EvenStartTask())

    assert full_cfg.checkpoint_every == TrainConfig().checkpoint_every == 1  # the default makes checkpoints
    cut_cfg = full_cfg.replace(out_dir=str(tmp_path / "b" / "run"))
    stopped = train(cut_cfg, progress=False, policy=micro_policy(), task=EvenStartTask(), stop_after=4)
    run_dir = tmp_path / "b" / "run"
    assert stopped["status"] == "stopped" and stopped["step"] == 4
    assert (run_dir / CHECKPOINT_NAME).exists() and not (run_dir / RESULT_NAME).exists()
    # A kill can also tear the last log line and leave steps past the checkpoint: both are discarded.
    with open(run_dir / LOG_NAME, "a") as fh:
        fh.write('{"step": 5, "loss/loss": 123.0}\n{"step": 6, "trunc')

    resumed_policy = micro_policy()  # the start weights; the checkpoint's step-4 weights replace them
    resumed = train(cut_cfg, resume=True, require_checkpoint=True, progress=False, policy=resumed_policy,
                    task=EvenStartTask())

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
    cfg = micro_cfg(tmp_path)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask(), stop_after=2)
    with pytest.raises(ResumeError, match="different config"):
        train(cfg.replace(lr=5e-4), resume=True, progress=False, policy=micro_policy(), task=EvenStartTask())
    with pytest.raises(ResumeError, match="another config"):
        train(cfg.replace(lr=5e-4), resume=True, require_checkpoint=True, progress=False,
              policy=micro_policy(), task=EvenStartTask())


def test_required_resume_with_nothing_to_resume_is_an_error(tmp_path):
    cfg = micro_cfg(tmp_path)
    with pytest.raises(ResumeError, match="nothing to resume"):
        train(cfg, resume=True, require_checkpoint=True, progress=False, policy=micro_policy(),
              task=EvenStartTask())
    assert not (tmp_path / "run" / LOG_NAME).exists()  # nothing was started
    # a finished run is returned as it is, without a checkpoint
    done = train(cfg.replace(epochs=1), progress=False, policy=micro_policy(), task=EvenStartTask())
    again = train(cfg.replace(epochs=1), resume=True, require_checkpoint=True, progress=False,
                  policy=micro_policy(), task=EvenStartTask())
    assert again == done


def test_cli_resume_without_a_checkpoint_exits_nonzero(tmp_path, capsys):
    from grpo_theory.cli import main

    rc = main(["train", "--resume", "--no-progress", "--out-dir", str(tmp_path / "empty"),
               "--eval-size", "0"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "--resume" in err and "nothing to resume" in err and "Traceback" not in err


def test_resume_refuses_other_start_weights(tmp_path):
    """The reference (KL / DPO) is rebuilt from the start policy: resuming from other start weights is an
    error."""
    cfg = micro_cfg(tmp_path)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask(), stop_after=2)
    with pytest.raises(ResumeError, match="other start weights"):
        train(cfg, resume=True, progress=False, policy=micro_policy(seed=1), task=EvenStartTask())


# A run in a child process that the test SIGKILLs at a random moment, then resumes with --resume semantics.
_CHILD = """
import sys
sys.path.insert(0, {root!r})
from tests.llm.test_trainer import EvenStartTask, micro_cfg, micro_policy
from grpo_theory.llm.trainer import train
from pathlib import Path
cfg = micro_cfg(Path({tmp!r}), **{kw!r})
train(cfg, resume={resume!r}, require_checkpoint={resume!r}, progress=False, policy=micro_policy(),
      task=EvenStartTask())
"""


@pytest.mark.slow
def test_sigkill_at_a_random_point_then_resume_equals_uninterrupted(tmp_path):
    """SIGKILL the training process at a random step (and a random moment within it), ``--resume`` with the
    default options: the same log and the same weights as a run that was never interrupted."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from safetensors.torch import load_file

    root = str(Path(__file__).resolve().parents[2])
    # 24 steps; log line 1 is step 0 (the start evaluation), the first checkpoint follows step 2
    kw = dict(loss="grpo", rollout_prompts=8, epochs=6, eval_size=8, eval_k=2, eval_every=6)
    full_cfg = micro_cfg(tmp_path / "a", **kw)
    train(full_cfg, progress=False, policy=micro_policy(), task=EvenStartTask())

    rng = random.Random()
    kill_after_lines, delay = rng.randint(4, full_cfg.total_steps - 2), rng.uniform(0.0, 0.05)
    where = f"killed after log line {kill_after_lines} + {delay:.3f} s"

    def child(resume: bool) -> subprocess.Popen:
        code = _CHILD.format(root=root, tmp=str(tmp_path / "b"), kw=kw, resume=resume)
        return subprocess.Popen([sys.executable, "-c", code], cwd=root, stderr=subprocess.PIPE)

    log = tmp_path / "b" / "run" / LOG_NAME
    proc = child(False)
    while proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= kill_after_lines:
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, (where, proc.stderr.read().decode()[-2000:])
    assert not (tmp_path / "b" / "run" / RESULT_NAME).exists(), where

    resumed = child(True)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, (where, err.decode()[-2000:])
    assert _metrics(log) == _metrics(tmp_path / "a" / "run" / LOG_NAME), where
    w_full = load_file(tmp_path / "a" / "run" / "final" / "model.safetensors")
    w_res = load_file(tmp_path / "b" / "run" / "final" / "model.safetensors")
    assert w_full.keys() == w_res.keys()
    assert all(torch.equal(w_full[k], w_res[k]) for k in w_full), where
    assert not (tmp_path / "b" / "run" / CHECKPOINT_NAME).exists()
