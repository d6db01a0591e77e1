"""``grpo-theory experiment headline|ablation|tune``: the paper's comparisons, scaled down, over seeds."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from grpo_theory.llm.presets import EXPERIMENTS, PRESETS


def default_out(experiment: str, preset: str) -> Path:
    """results/<experiment> for the full preset, results/<preset>/<experiment> for the others."""
    return Path("results") / experiment if preset == "full" else Path("results") / preset / experiment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "headline: 16-GRPO vs 2-GRPO vs 2-GRPO+RS vs online DPO at equal epochs (retention, rollouts, "
        "wall-clock relative to 16-GRPO). ablation: G in {2,4,8,16} at 32 prompts per mini-batch. tune: "
        "16-GRPO at several learning rates on the validation split. Finished runs are skipped, so "
        "re-running a command continues an interrupted experiment."
    )
    parser.add_argument("name", choices=sorted(EXPERIMENTS), help="which experiment")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                        help="scale: " + "; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()))
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="run seeds, e.g. --seeds 0 1 2 (default: the preset's)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: the preset's)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: results/<name> for --preset full, else "
                             "results/<preset>/<name>)")
    parser.add_argument("--eta", type=float, default=None,
                        help="override the preset's 16-GRPO learning rate eta (the others use 8 eta); for "
                             "sensitivity checks, with its own --out")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="run only these methods, e.g. --methods 16-GRPO 2-GRPO (default: all)")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep each run's working directory (final policy weights) under OUT/.work")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")


def run(args: argparse.Namespace) -> int:
    from grpo_theory.llm.experiment import run_experiment

    preset = PRESETS[args.preset]
    if args.eta is not None:
        if args.eta <= 0:
            raise SystemExit(f"--eta must be > 0, got {args.eta}")
        preset = replace(preset, lr=args.eta)
    out = args.out or default_out(args.name, args.preset)
    run_experiment(args.name, preset, seeds=args.seeds, device=args.device, out=out,
                   progress=not args.no_progress, methods=args.methods, keep_work=args.keep_work)
    return 0
