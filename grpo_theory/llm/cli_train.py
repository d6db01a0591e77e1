"""``grpo-theory train``: one RL run on a causal LM with a loss from ``grpo_theory.losses.LOSSES``.

Every field of :class:`~grpo_theory.llm.config.TrainConfig` is an option (``--group-size 2
--prompts-per-step 256 --lr 8e-4 ...``); ``--config run.json`` loads a saved config first (e.g. the
``config.json`` a run writes), and options given on the command line override it.

Everything is validated before anything is written (:func:`~grpo_theory.llm.config.config_problems`,
:func:`~grpo_theory.llm.runnable.check_runnable`); a bad option is one line naming it, exit status 2.
An out-dir that holds a finished run is never replaced silently: the same config is "done, skipped",
another config is refused (both hashes named) unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from grpo_theory.configfields import add_fields, option
from grpo_theory.llm.config import ConfigError, TrainConfig, add_config_arguments, config_from_args


@dataclass(frozen=True)
class TrainOptions:
    """The options of ``grpo-theory train`` besides the run's :class:`TrainConfig` fields."""

    config: str | None = option(None, "JSON file with TrainConfig fields (a run's config.json works); "
                                "options override it", metavar="PATH")
    resume: bool = option(False, "continue a killed run from OUT_DIR/checkpoint.pt (written every "
                          "generation batch by default) to the same result as an uninterrupted run; a "
                          "finished run is not repeated. Give the run's options again: nothing to resume, "
                          "or other options, is an error", flag=True)
    overwrite: bool = option(False, "replace a finished run in OUT_DIR (without it, a finished run of the "
                             "same config is reported as done and skipped, and one of another config is "
                             "refused)", flag=True)
    no_progress: bool = option(False, "no tqdm progress bar", flag=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "One RL run (GRPO, 2-GRPO, 2-GRPO+RS, Dr. GRPO, RLOO or online DPO) on a causal LM. Writes "
        "OUT_DIR/log.jsonl (one line per optimizer step, see grpo_theory/llm/METRICS.md), resumable "
        "checkpoints, OUT_DIR/result.json and the final policy in OUT_DIR/final/."
    )
    add_fields(parser, TrainOptions)
    add_config_arguments(parser)


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The run's config from ``--config`` and the options; :class:`ConfigError` on anything invalid."""
    from grpo_theory.artifacts import CorruptFileError, read_json

    base = TrainConfig()
    if args.config is not None:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError([("--config", str(path), "no such file")])
        try:
            data = read_json(path)
        except CorruptFileError as e:
            raise ConfigError([("--config", str(path), str(e).removeprefix(f"{path} "))]) from None
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            data = data["config"]  # a run's config.json / result.json
        if not isinstance(data, dict):
            raise ConfigError([("--config", str(path), "must hold a JSON object of TrainConfig fields")])
        base = TrainConfig.from_dict(data)
    return config_from_args(args, base)


def finished_run(cfg: TrainConfig, overwrite: bool) -> dict | None:
    """The saved result if ``cfg.out_dir`` holds this config's finished run; :class:`ConfigError` if it holds
    another config's finished run (unless ``overwrite``); None if there is nothing finished to keep."""
    from grpo_theory.artifacts import CorruptFileError, read_json
    from grpo_theory.llm.config import config_hash
    from grpo_theory.llm.trainer import RESULT_NAME

    path = Path(cfg.out_dir) / RESULT_NAME
    if overwrite or not path.is_file():
        return None
    try:
        saved = read_json(path)
    except CorruptFileError as e:
        raise ConfigError([("out_dir", cfg.out_dir, f"{e}; pass --overwrite to replace it")]) from None
    if not isinstance(saved, dict) or saved.get("status") != "complete":
        return None
    wanted = config_hash(cfg)
    if saved.get("config_hash") == wanted:
        return saved
    raise ConfigError([("out_dir", cfg.out_dir, f"holds a finished run with config hash "
                                                f"{saved.get('config_hash')}, but this command's config has "
                                                f"hash {wanted}: pass --overwrite to replace it, or choose "
                                                "another --out-dir")])


def run(args: argparse.Namespace) -> int:
    import sys

    from grpo_theory.llm.runnable import check_checkpoint_file, check_runnable
    from grpo_theory.llm.trainer import CHECKPOINT_NAME, ResumeError, train

    try:
        cfg = build_config(args)
        check_runnable(cfg)
        if args.resume and (Path(cfg.out_dir) / CHECKPOINT_NAME).is_file():
            check_checkpoint_file(Path(cfg.out_dir) / CHECKPOINT_NAME)
        done = None if args.resume else finished_run(cfg, args.overwrite)
    except ConfigError as e:
        print(f"grpo-theory train: error: {e.cli_message()}", file=sys.stderr)
        return 2
    if done is not None:
        print(f"{cfg.out_dir}: done, skipped (the finished run of this config, hash {done['config_hash']}; "
              "--overwrite runs it again)", file=sys.stderr)
        res = done
    else:
        try:
            res = train(cfg, resume=args.resume, require_checkpoint=args.resume,
                        progress=not args.no_progress)
        except ResumeError as e:
            print(f"grpo-theory train: error: --resume: {e}", file=sys.stderr)
            return 2
    ev = res.get("final_eval", {})
    print(json.dumps({
        "out_dir": cfg.out_dir, "steps": res.get("steps"), "rollouts": res.get("rollouts"),
        "train_seconds": round(res.get("train_seconds", 0.0), 1), "discard_frac": res.get("discard_frac"),
        **{k.removeprefix("eval/"): v for k, v in ev.items() if isinstance(v, int | float)},
    }, indent=2))
    return 0
