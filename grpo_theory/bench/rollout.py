"""Benchmark: rollout tokens/s with HF ``generate`` and its KV cache versus without the cache, in one run.

Two workloads of 512 rollouts (32 prompts x 16, temperature 1), each timed with and without the cache:

* ``addition``: the tiny start checkpoint (if present; else a random model of the same size) on 3-digit
  addition prompts, 5 new tokens (answer + <eos>) -- the headline experiment's rollouts;
* ``long``: a randomly initialized tiny model on countdown prompts, 32 new tokens (it rarely emits <eos>),
  the length of reasoning-like completions.

Tokens/s counts generated tokens (``completion_mask.sum()``). Without the cache every step re-encodes the
whole prefix, so the speed-up grows with the completion length. The ratio is the claim; absolute numbers
depend on the machine and on other jobs.

Run: ``python -m grpo_theory.bench.rollout [--rollouts 512] [--group 16] [--repeats 1]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from grpo_theory.llm.model import build_model
from grpo_theory.llm.policy import Policy
from grpo_theory.llm.pretrain import PretrainConfig
from grpo_theory.llm.tasks import eval_problems, make_task
from grpo_theory.llm.tokenizer import char_tokenizer
from grpo_theory.llm.zoo import load_policy


def _start_policy() -> tuple[Policy, str]:
    path = PretrainConfig().path
    if (path / "model.safetensors").exists():
        return load_policy(path), f"start checkpoint {path.name}"
    tok = char_tokenizer()
    return Policy(build_model(len(tok), "tiny", seed=0), tok), "random tiny model (no start checkpoint)"


def time_generate(policy: Policy, prompts: list[str], group: int, max_new_tokens: int, use_cache: bool,
                  repeats: int) -> tuple[float, int]:
    """Best-of-``repeats`` wall seconds and generated tokens for one call (after one warm-up call)."""
    policy.generate(prompts[:2], 2, max_new_tokens=max_new_tokens, seed=0, use_cache=use_cache)
    best, tokens = float("inf"), 0
    for r in range(repeats):
        t0 = time.perf_counter()
        out = policy.generate(prompts, group, max_new_tokens=max_new_tokens, seed=r, use_cache=use_cache)
        best = min(best, time.perf_counter() - t0)
        tokens = int(out.completion_mask.sum())
    return best, tokens


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m grpo_theory.bench.rollout",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--rollouts", type=int, default=512, help="rollouts per generate call")
    parser.add_argument("--group", type=int, default=16, help="rollouts per prompt")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per setting (best is kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for a 1M model)")
    args = parser.parse_args(argv)
    before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        n_prompts = max(1, args.rollouts // args.group)
        start, what = _start_policy()
        tok = char_tokenizer()
        random_tiny = Policy(build_model(len(tok), "tiny", seed=1), tok)
        workloads = [
            ("addition", start, what, make_task("addition"), 5),
            ("long", random_tiny, "random tiny model", make_task("countdown"), 32),
        ]
        print(f"{n_prompts} prompts x {args.group} rollouts, temperature 1, "
              f"{torch.get_num_threads()} thread(s)")
        print(f"{'workload':<10}{'new tok':>8}{'cache tok/s':>13}{'no-cache tok/s':>16}{'speed-up':>10}  "
              "model")
        for name, policy, desc, task, new in workloads:
            prompts = [p.prompt for p in eval_problems(task, n_prompts, seed=7)]
            t_c, n_c = time_generate(policy, prompts, args.group, new, True, args.repeats)
            t_n, n_n = time_generate(policy, prompts, args.group, new, False, args.repeats)
            cache, no_cache = n_c / t_c, n_n / t_n
            print(f"{name:<10}{new:>8}{cache:>13,.0f}{no_cache:>16,.0f}{cache / no_cache:>9.1f}x  {desc}")
    finally:
        torch.set_num_threads(before)


if __name__ == "__main__":
    main()
