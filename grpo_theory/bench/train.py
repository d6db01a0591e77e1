"""Benchmark: RL training throughput, its per-phase CPU split, and the 2-GRPO / 16-GRPO cost at equal epochs.

Both methods run the ``full`` preset's shapes (16-GRPO: 4 prompts x 16 rollouts per mini-batch, 2-GRPO:
32 x 2; a generation batch of 64 prompts, so 16 vs 2 updates per generation as in the paper) for one
epoch over ``--train-size`` prompts, without evaluation, on the tiny start checkpoint if it exists (else
a randomly initialised model of the same size: addition completions have a fixed length, so the cost
does not depend on accuracy). 2-GRPO generates 1/8 of the rollouts, so its time share has a floor of
12.5% if every cost scaled with rollouts; per-step overheads push it up (the paper reports 21%).

Reported, per method: rollouts per CPU-second of training (generation, reward, log-prob passes, update),
the CPU seconds per phase and their share, then the time share in wall-clock and CPU seconds. A second
table measures, on one 16-GRPO generation batch (1,024 rollouts), work the trainer no longer does, as a
ratio to the micro-batched generation it runs instead: one unbatched ``generate`` call, and one no-grad
log-prob pass (it used to run one for ``old_logp`` and one of the reference model for a KL that was only
logged). Numbers are from this one run; compare ratios, not absolute seconds across machines.

Run: ``python -m grpo_theory.bench.train [--quick] [--train-size N] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

PHASES = ("gen", "reward", "logprob", "ref", "update")
FLOOR_PCT, PAPER_PCT, GOAL_PCT = 12.5, 21.0, 18.0


def _policy_spec(tmp: Path) -> tuple[str, str]:
    from grpo_theory.llm.pretrain import PretrainConfig

    path = PretrainConfig().path
    if (path / "model.safetensors").exists():
        return str(path), f"start checkpoint {path.name}"
    from grpo_theory.llm.model import build_model
    from grpo_theory.llm.policy import Policy
    from grpo_theory.llm.tokenizer import char_tokenizer

    tok = char_tokenizer()
    Policy(build_model(len(tok), "tiny", seed=0), tok).save(tmp / "random-tiny")
    return str(tmp / "random-tiny"), "random-init tiny model (no start checkpoint found)"


def configs(spec: str, train_size: int, device: str, threads: int) -> dict:
    """16-GRPO and 2-GRPO with the full preset's batch shapes, one epoch, no evaluation."""
    from grpo_theory.llm.presets import PRESETS, headline_runs

    runs = headline_runs(PRESETS["full"])
    return {name: runs[name].replace(policy=spec, train_size=train_size, epochs=1, eval_size=0, eval_steps="",
                                     eval_every=0, device=device, threads=threads, save_final=False)
            for name in ("16-GRPO", "2-GRPO")}


def run(train_size: int, device: str, threads: int) -> tuple[dict[str, dict], dict[str, float]]:
    from grpo_theory.llm.trainer import train

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        spec, what = _policy_spec(tmp)
        cfgs = configs(spec, train_size, device, threads)
        print(f"policy: {what}; {train_size} prompts x 1 epoch; device {device}, {threads} thread(s)")
        # warm-up (allocator, kernels, tokenizer caches) so that neither method pays it
        train(cfgs["2-GRPO"].replace(train_size=64, out_dir=str(tmp / "warm")), progress=False)
        out = {name: train(cfg.replace(out_dir=str(tmp / name)), progress=False)
               for name, cfg in cfgs.items()}
        removed = removed_passes(spec, cfgs["16-GRPO"], device)
    return out, removed


def removed_passes(spec: str, cfg, device: str) -> dict[str, float]:
    """CPU seconds, on one 16-GRPO generation batch, of micro-batched generation (what the trainer does)
    and of the work it dropped: one unbatched ``generate`` call, and a no-grad log-prob pass."""
    import torch

    from grpo_theory.llm.rollouts import micro_batch_rows
    from grpo_theory.llm.tasks import make_task, train_problems
    from grpo_theory.llm.zoo import load_policy

    policy = load_policy(spec, device=device)
    task = make_task(cfg.task)
    prompts = [p.prompt for p in train_problems(task, cfg.gen_prompts, cfg.data_seed)]
    kw = dict(max_new_tokens=task.max_new_tokens, temperature=cfg.temperature, seed=0)
    rows = len(prompts) * cfg.group_size

    def cpu(fn) -> float:
        c0 = time.process_time()
        fn()
        return time.process_time() - c0

    res = {"rows": float(rows)}
    res["gen_micro"] = cpu(lambda: policy.generate(prompts, cfg.group_size, batch_size=micro_batch_rows(cfg),
                                                   **kw))
    res["gen_whole"] = cpu(lambda: policy.generate(prompts, cfg.group_size, batch_size=rows, **kw))
    r = policy.generate(prompts, cfg.group_size, batch_size=micro_batch_rows(cfg), **kw)
    with torch.no_grad():
        res["logprob_pass"] = cpu(lambda: policy.token_logprobs(r, micro_batch=micro_batch_rows(cfg)))
    return res


def report(res: dict[str, dict], removed: dict[str, float]) -> None:
    print(f"\n{'method':<8} {'steps':>5} {'rollouts':>8} {'roll/CPU-s':>10}  "
          + "  ".join(f"{p:>14}" for p in PHASES) + f"  {'CPU s':>7} {'wall s':>7}")
    for name, r in res.items():
        total = r["train_cpu_seconds"]
        cells = [f"{r['cpu_seconds'].get(p, 0.0):6.2f} ({100 * r['cpu_seconds'].get(p, 0.0) / total:4.1f}%)"
                 for p in PHASES]
        print(f"{name:<8} {r['steps']:>5} {r['rollouts']:>8} {r['rollouts'] / total:>10.0f}  "
              + "  ".join(cells) + f"  {total:7.2f} {r['train_seconds']:7.2f}")
    a, b = res["2-GRPO"], res["16-GRPO"]
    wall = 100 * a["train_seconds"] / b["train_seconds"]
    cpu = 100 * a["train_cpu_seconds"] / b["train_cpu_seconds"]
    roll = 100 * a["rollouts"] / b["rollouts"]
    print(f"\n2-GRPO / 16-GRPO at equal epochs: rollouts {roll:.1f}% (floor {FLOOR_PCT}%), "
          f"wall-clock {wall:.1f}%, CPU time {cpu:.1f}%  [paper: {PAPER_PCT}%, goal <= {GOAL_PCT}%: "
          f"{'met' if cpu <= GOAL_PCT else 'not met'} in CPU time]")
    g = removed["gen_micro"]
    print(f"\none 16-GRPO generation batch ({removed['rows']:.0f} rollouts), CPU seconds relative to its "
          f"micro-batched generation ({g:.2f} s):")
    print(f"  one unbatched generate call        {removed['gen_whole'] / g:5.2f}x")
    print(f"  one no-grad log-prob pass          {removed['logprob_pass'] / g:5.2f}x (dropped: old_logp is "
          "recorded while sampling; the reference pass runs only when the loss reads it)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m grpo_theory.bench.train",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="128 prompts instead of 512")
    parser.add_argument("--train-size", type=int, default=None, help="prompts (a multiple of 64)")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: on a shared machine a second thread mostly waits)")
    args = parser.parse_args(argv if argv is not None else [])
    size = args.train_size or (128 if args.quick else 512)
    report(*run(size, args.device, args.threads))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
