"""Benchmark: the RL step breakdown and the 2-GRPO / 16-GRPO wall-clock ratio at equal epochs.

Both methods see the same prompts for the same number of epochs with the full preset's mini-batches
(16-GRPO: 16 prompts x 16 rollouts, 2-GRPO: 128 x 2; generation batch 256 prompts, so 16 vs 2 updates
per generation as in the paper), so 2-GRPO generates 1/8 of the rollouts. Its wall-clock ratio has a floor of 12.5% if every cost scaled with
rollouts; per-step overheads push it up. The paper reports 21% (mean over its five settings); the
goal here is <= 18%. Scale: ``--train-size`` prompts (default 512, ``--quick`` 256), one epoch, no
evaluation, the tiny start checkpoint if it exists (else a randomly initialised model of the same
size: the timings do not depend on accuracy because addition completions have a fixed length).

Reported, per method: seconds per phase (generation, reward, old-policy log-probs, reference
log-probs, update) and their share, then the ratio in wall-clock and in CPU seconds (the latter is
less sensitive to other jobs on a shared machine). Numbers are from this one run; compare ratios,
not absolute seconds across machines.

Run: ``python -m grpo_theory.bench.train [--quick] [--train-size N] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import tempfile
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


def run(train_size: int, device: str, threads: int) -> dict[str, dict]:
    from grpo_theory.llm.config import TrainConfig
    from grpo_theory.llm.trainer import train

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        spec, what = _policy_spec(tmp)
        base = TrainConfig(policy=spec, train_size=train_size, epochs=1, rollout_prompts=256, eval_size=0,
                           device=device, threads=threads)
        cfgs = {
            "16-GRPO": base.replace(loss="grpo", group_size=16, prompts_per_step=16),
            "2-GRPO": base.replace(loss="two_grpo", group_size=2, prompts_per_step=128, lr=8 * base.lr),
        }
        print(f"policy: {what}; {train_size} prompts x 1 epoch; device {device}, {threads} threads")
        # warm-up (allocator, kernels, tokenizer caches) so that neither method pays it
        train(base.replace(loss="two_grpo", group_size=2, prompts_per_step=128, train_size=256,
                           out_dir=str(tmp / "warm")), progress=False)
        out = {}
        for name, cfg in cfgs.items():
            out[name] = train(cfg.replace(out_dir=str(tmp / name)), progress=False)
    return out


def report(res: dict[str, dict]) -> None:
    print(f"\n{'method':<9} {'steps':>5} {'rollouts':>8}  " + "  ".join(f"{p:>14}" for p in PHASES)
          + f"  {'train s':>8} {'CPU s':>8}")
    for name, r in res.items():
        total = r["train_seconds"]
        cells = [f"{r['seconds'].get(p, 0.0):6.2f} ({100 * r['seconds'].get(p, 0.0) / total:4.1f}%)" for p in PHASES]
        print(f"{name:<9} {r['steps']:>5} {r['rollouts']:>8}  " + "  ".join(cells)
              + f"  {total:8.2f} {r['train_cpu_seconds']:8.2f}")
    a, b = res["2-GRPO"], res["16-GRPO"]
    wall = 100 * a["train_seconds"] / b["train_seconds"]
    cpu = 100 * a["train_cpu_seconds"] / b["train_cpu_seconds"]
    roll = 100 * a["rollouts"] / b["rollouts"]
    print(f"\n2-GRPO / 16-GRPO at equal epochs: rollouts {roll:.1f}% (floor {FLOOR_PCT}%), "
          f"wall-clock {wall:.1f}%, CPU time {cpu:.1f}%  [paper: {PAPER_PCT}%, goal <= {GOAL_PCT}%: "
          f"{'met' if wall <= GOAL_PCT else 'not met'} in wall-clock, {'met' if cpu <= GOAL_PCT else 'not met'} "
          "in CPU time]")
    per_step = {n: {p: r["seconds"].get(p, 0.0) / r["steps"] for p in PHASES} for n, r in res.items()}
    print("per optimizer step (s): " + "; ".join(
        f"{n}: " + ", ".join(f"{p} {v:.3f}" for p, v in d.items()) for n, d in per_step.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m grpo_theory.bench.train", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 prompts instead of 512")
    parser.add_argument("--train-size", type=int, default=None, help="prompts (a multiple of 256)")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: on a shared machine a second thread mostly waits)")
    args = parser.parse_args(argv if argv is not None else [])
    size = args.train_size or (256 if args.quick else 512)
    report(run(size, args.device, args.threads))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
