"""Run by ``accelerate launch --multi_gpu --num_processes 2`` (CPU, gloo) from test_trl_distributed.py.

Trains TRL's native GRPOTrainer and GRPOTheoryTrainer for ``--steps`` optimizer steps each, from the same
weights and seed, in the same two processes, and writes (on rank 0) the largest parameter difference,
the parameter change, and each trainer's logged rewards to ``--out`` as JSON.

Usage: accelerate launch --multi_gpu --num_processes 2 tests/crosscheck/trl_two_process.py --out result.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for crosscheck.trl_helpers

from trl import GRPOConfig, GRPOTrainer

from crosscheck import trl_helpers as H
from grpo_theory.integrations.trl import GRPOTheoryTrainer


def train(cls, steps: int, out_dir: str, loss_type: str):
    args = GRPOConfig(output_dir=out_dir, use_cpu=True, report_to="none", save_strategy="no", seed=0,
                      per_device_train_batch_size=4, gradient_accumulation_steps=2, num_generations=2,
                      max_completion_length=H.MAX_COMPLETION, learning_rate=1e-3, max_steps=steps,
                      epsilon=0.2, epsilon_high=0.28, loss_type=loss_type, logging_steps=1,
                      dataloader_num_workers=0, disable_tqdm=True)
    trainer = cls(model=H.model(), reward_funcs=[H.exact_match, H.partial_credit], args=args,
                  train_dataset=H.addition_dataset(64), processing_class=H.tokenizer())
    trainer.train()
    params = {n: p.detach().clone()
              for n, p in trainer.accelerator.unwrap_model(trainer.model).named_parameters()}
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    return trainer.accelerator, params, rewards


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--loss-type", default="dapo")
    a = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as td:
        acc, native, r_native = train(GRPOTrainer, a.steps, f"{td}/native", a.loss_type)
        _, ours, r_ours = train(GRPOTheoryTrainer, a.steps, f"{td}/ours", a.loss_type)
    start = {n: p.detach() for n, p in H.model().named_parameters()}
    if acc.is_main_process:
        diff = max(float((native[k] - ours[k]).abs().max()) for k in native)
        moved = max(float((native[k] - start[k]).abs().max()) for k in native)
        Path(a.out).write_text(json.dumps({
            "num_processes": acc.num_processes, "backend": str(acc.state.backend), "steps": a.steps,
            "max_param_diff": diff, "max_param_change": moved, "reward_native": r_native,
            "reward_ours": r_ours,
        }))


if __name__ == "__main__":
    main()
