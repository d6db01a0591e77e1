"""``grpo-theory train``: one RL run on a causal LM with a loss from ``grpo_theory.losses.LOSSES``.

Every field of :class:`~grpo_theory.llm.config.TrainConfig` is an option (``--group-size 2
--prompts-per-step 256 --lr 8e-4 ...``); ``--config run.json`` loads a saved config first (e.g. the
``config.json`` a run writes), and options given on the command line override it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grpo_theory.llm.config import TrainConfig, add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "One RL run (GRPO, 2-GRPO, 2-GRPO+RS, Dr. GRPO, RLOO or online DPO) on a causal LM. Writes "
        "OUT_DIR/log.jsonl (one line per optimizer step, see grpo_theory/llm/METRICS.md), resumable "
        "checkpoints, OUT_DIR/result.json and the final policy in OUT_DIR/final/."
    )
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file with TrainConfig fields (a run's config.json works); options override it")
    parser.add_argument("--resume", action="store_true",
                        help="continue a killed run from OUT_DIR/checkpoint.pt (written every generation batch by "
                             "default) to the same result as an uninterrupted run; a finished run is not repeated. "
                             "Give the run's options again: nothing to resume, or other options, is an error")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from grpo_theory.llm.trainer import ResumeError, train

    base = TrainConfig()
    if args.config is not None:
        data = json.loads(args.config.read_text())
        base = TrainConfig.from_dict(data.get("config", data))
    cfg = config_from_args(args, base)
    try:
        res = train(cfg, resume=args.resume, require_checkpoint=args.resume, progress=not args.no_progress)
    except ResumeError as e:
        print(f"grpo-theory train: error: --resume: {e}", file=sys.stderr)
        return 2
    ev = res.get("final_eval", {})
    print(json.dumps({
        "out_dir": cfg.out_dir, "steps": res.get("steps"), "rollouts": res.get("rollouts"),
        "train_seconds": round(res.get("train_seconds", 0.0), 1), "discard_frac": res.get("discard_frac"),
        **{k.removeprefix("eval/"): v for k, v in ev.items()},
    }, indent=2))
    return 0
