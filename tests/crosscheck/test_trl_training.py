"""GRPOTheoryTrainer in real TRL training loops on the tiny checkpoint (CPU).

* Two processes (``accelerate launch --multi_gpu --num_processes 2``, ``use_cpu=True``, gloo): 3 optimizer
  steps of 2-GRPO end with exactly the native trainer's parameters (tolerance: float32, 1e-6 absolute on
  parameters that move by ~1e-3). ``--cpu --num_processes 2`` would silently start one process; the test
  asserts two ran.
* A short 2-GRPO run built by ``two_grpo_config`` raises the training reward (exact match on 3-digit
  addition): mean over the last 20 of 80 steps vs the first 20, by more than 2 standard errors.

Both are slow (about 35 s and 40 s on one thread) and run under ``make crosscheck``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("trl")
from crosscheck import trl_helpers as H
from grpo_theory.integrations.trl import GRPOTheoryTrainer, two_grpo_config

pytestmark = [pytest.mark.crosscheck, pytest.mark.slow]
SCRIPT = Path(__file__).with_name("trl_two_process.py")


def test_two_process_gloo_run_ends_with_the_native_parameters(tmp_path):
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert launcher, "accelerate must be installed next to this Python (make crosscheck installs it)"
    out = tmp_path / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(H.ROOT)}
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", str(SCRIPT), "--out", str(out),
           "--steps", "3"]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["num_processes"] == 2 and res["backend"] == "gloo"
    assert res["max_param_change"] > 1e-4, "the run must move the weights"
    assert res["max_param_diff"] <= 1e-6, res
    assert res["reward_ours"] == pytest.approx(res["reward_native"], abs=1e-6)  # same rollouts, step by step


def test_short_two_grpo_run_raises_the_training_reward(tmp_path):
    torch.set_num_threads(1)
    cfg = two_grpo_config(str(tmp_path), learning_rate=3e-5, baseline_prompts=4, num_processes=1,
                          use_cpu=True, max_completion_length=H.MAX_COMPLETION, max_steps=80, warmup_steps=2,
                          report_to="none", save_strategy="no", logging_steps=1, seed=0, disable_tqdm=True)
    assert (cfg.num_generations, cfg.per_device_train_batch_size, cfg.epsilon_high) == (2, 64, 0.28)
    trainer = GRPOTheoryTrainer(model=H.model(), reward_funcs=[H.exact_match], args=cfg,
                                train_dataset=H.addition_dataset(4096), processing_class=H.tokenizer())
    trainer.train()
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    assert len(rewards) == 80
    first, last = sum(rewards[:20]) / 20, sum(rewards[-20:]) / 20
    n = 20 * cfg.per_device_train_batch_size  # rollouts per window
    se = math.sqrt(first * (1 - first) / n + last * (1 - last) / n)
    assert last - first > 2 * se, f"reward {first:.3f} -> {last:.3f} (se of the difference {se:.3f})"
