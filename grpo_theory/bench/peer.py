"""Peer benchmark: our trainer vs TRL's native ``GRPOTrainer``, in training rollouts per CPU-second.

Same start checkpoint (the committed tiny addition model), task (3-digit addition, exact-match reward),
batch shapes, completion budget (5 tokens), optimizer steps and torch thread count on both sides:

* 16-GRPO: 4 prompts x 16 rollouts per optimizer step; 2-GRPO: 32 prompts x 2 (64 rollouts per step each),
  on-policy (one optimizer step per generation), clip 0.2/0.28, token-mean loss, no KL.
* ours: ``grpo_theory.llm.trainer.train`` with evaluation, checkpoints and the final save switched off;
  TRL: ``trl.GRPOTrainer`` with ``use_cpu``, ``save_strategy="no"``, ``report_to="none"``; also
  ``GRPOTheoryTrainer`` (TRL with our advantages and loss: the adapter's overhead).

CPU seconds are the process's CPU time around each whole run (trainer construction included), after a
short warm-up run of each; rollouts per CPU-second = rollouts generated / CPU seconds. Reported as ratios
within this one run (ours / TRL per method, and 2-GRPO / 16-GRPO per trainer); absolute numbers depend on
the machine and its load.

Needs trl: from an interpreter without it, this re-runs itself in ``.venv-crosscheck`` when that exists
(``bash grpo_theory/crosscheck/setup.sh`` makes it) and is skipped otherwise.

Run: ``python -m grpo_theory.bench.peer [--steps N] [--threads T]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: method -> (G, prompts per optimizer step): 64 rollouts per step for both.
SHAPES = {"16-GRPO": (16, 4), "2-GRPO": (2, 32)}
IMPLS = ("ours", "trl", "trl+grpo_theory")
MAX_NEW_TOKENS = 5  # 4 answer digits + <eos>: the addition task's own budget


def _tiny() -> Path:
    from grpo_theory.llm.pretrain import PretrainConfig

    return Path(PretrainConfig().path)


def _ours(G: int, prompts: int, steps: int, threads: int, tmp: str) -> tuple[int, float]:
    from grpo_theory.llm.config import TrainConfig
    from grpo_theory.llm.trainer import train

    cfg = TrainConfig(policy=str(_tiny()), task="addition", loss="grpo" if G > 2 else "two_grpo",
                      group_size=G, prompts_per_step=prompts, train_size=prompts * steps, epochs=1, lr=1e-4,
                      agg="token-mean", eval_size=0, eval_at_start=False, checkpoint_every=0,
                      save_final=False, threads=threads, max_new_tokens=MAX_NEW_TOKENS, out_dir=tmp)
    t0 = time.process_time()
    res = train(cfg, progress=False)
    return int(res["rollouts"]), time.process_time() - t0


def _trl(G: int, prompts: int, steps: int, threads: int, tmp: str, *, adapter: bool) -> tuple[int, float]:
    import random

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from grpo_theory.llm.tasks import AdditionTask

    torch.set_num_threads(threads)
    problems = AdditionTask().sample(random.Random(0), prompts * steps)
    ds = Dataset.from_list([{"prompt": p.prompt, "answer": p.answer} for p in problems])

    def exact_match(prompts, completions, answer, **_):
        return [float(c.strip() == a) for c, a in zip(completions, answer)]

    t0 = time.process_time()
    cfg = GRPOConfig(output_dir=tmp, use_cpu=True, per_device_train_batch_size=G * prompts,
                     num_generations=G, max_completion_length=MAX_NEW_TOKENS, max_steps=steps,
                     learning_rate=1e-4, loss_type="dapo", epsilon=0.2, epsilon_high=0.28, temperature=1.0,
                     top_p=1.0, beta=0.0, report_to="none", save_strategy="no", logging_strategy="no",
                     disable_tqdm=True, seed=0, dataloader_num_workers=0)
    cls: type = GRPOTrainer
    if adapter:
        from grpo_theory.integrations.trl import GRPOTheoryTrainer

        cls = GRPOTheoryTrainer
    trainer = cls(model=AutoModelForCausalLM.from_pretrained(_tiny()), reward_funcs=[exact_match], args=cfg,
                  train_dataset=ds, processing_class=AutoTokenizer.from_pretrained(_tiny()))
    trainer.train()
    return steps * G * prompts, time.process_time() - t0


def _run(impl: str, method: str, steps: int, threads: int) -> tuple[int, float]:
    G, prompts = SHAPES[method]
    with tempfile.TemporaryDirectory() as tmp:
        if impl == "ours":
            return _ours(G, prompts, steps, threads, tmp)
        return _trl(G, prompts, steps, threads, tmp, adapter=impl != "trl")


def run(steps: int, threads: int) -> dict[tuple[str, str], tuple[int, float]]:
    from tqdm import tqdm

    jobs = [(impl, method) for method in SHAPES for impl in IMPLS]
    for impl, method in tqdm(jobs, desc="warm-up", leave=False):
        _run(impl, method, 2, threads)
    out = {}
    for impl, method in tqdm(jobs, desc="peer benchmark", leave=False):
        out[(impl, method)] = _run(impl, method, steps, threads)
    return out


def report(res: dict[tuple[str, str], tuple[int, float]], steps: int, threads: int) -> None:
    print(f"tiny addition checkpoint, {steps} optimizer steps per run, 64 rollouts per step, "
          f"{threads} thread(s)")
    print(f"{'trainer':<16} {'method':<8} {'rollouts':>8} {'CPU s':>8} {'rollouts/CPU-s':>15}")
    rate = {}
    for (impl, method), (n, cpu) in res.items():
        rate[(impl, method)] = n / cpu
        print(f"{impl:<16} {method:<8} {n:>8} {cpu:>8.2f} {n / cpu:>15.1f}")
    for method in SHAPES:
        trl = rate[("trl", method)]
        print(f"{method}: ours / TRL = {rate[('ours', method)] / trl:.2f}x rollouts per CPU-second; "
              f"TRL with our loss / TRL = {rate[('trl+grpo_theory', method)] / trl:.2f}x")
    for impl in IMPLS:
        print(f"{impl}: 2-GRPO / 16-GRPO rollouts per CPU-second = "
              f"{rate[(impl, '2-GRPO')] / rate[(impl, '16-GRPO')]:.2f}x")


def _crosscheck_python() -> Path | None:
    try:
        from grpo_theory.artifacts import repo_root

        py = repo_root() / ".venv-crosscheck" / "bin" / "python"
    except Exception:  # not in a checkout: nothing to fall back to
        return None
    return py if py.exists() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m grpo_theory.bench.peer",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per measured run (default 30)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads on both sides (default 1)")
    args = parser.parse_args(argv if argv is not None else [])
    if args.steps < 1 or args.threads < 1:
        parser.error(f"--steps and --threads must be >= 1, got {args.steps}, {args.threads}")
    if not (_tiny() / "model.safetensors").exists():
        print(f"(skipped: the tiny start checkpoint {_tiny()} is missing; `grpo-theory pretrain` makes it)")
        return
    if importlib.util.find_spec("trl") is None:
        py = _crosscheck_python()
        if py is None:
            print("(skipped: needs trl; `bash grpo_theory/crosscheck/setup.sh` builds .venv-crosscheck, "
                  "then rerun)")
            return
        print(f"(trl is not installed here: running in {py.parent.parent.name})", flush=True)
        cmd = [str(py), "-m", "grpo_theory.bench.peer", "--steps", str(args.steps),
               "--threads", str(args.threads)]
        subprocess.run(cmd, check=True)
        return
    report(run(args.steps, args.threads), args.steps, args.threads)


if __name__ == "__main__":
    main(sys.argv[1:])
