"""``grpo-theory pretrain``: SFT the tiny start checkpoint until held-out accuracy enters the target window.

Every field of :class:`~grpo_theory.llm.pretrain.PretrainConfig` is an option (``task_kwargs`` through
``--n-digits``), with the field's help and default.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass

from grpo_theory.configfields import add_fields, given, option
from grpo_theory.llm.pretrain import PretrainConfig, ensure_start_checkpoint, pretrain
from grpo_theory.llm.tasks import EVAL_POOL


@dataclass(frozen=True)
class PretrainOptions:
    """The options of ``grpo-theory pretrain`` besides the :class:`PretrainConfig` fields."""

    n_digits: int | None = option(None, "addition only: digits per operand (task default: 3)")
    force: bool = option(False, "pretrain again even if the checkpoint exists", flag=True)


#: PretrainConfig fields that are not options of their own (``--n-digits`` sets ``task_kwargs``).
SKIPPED = ("task_kwargs",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Pretrain (SFT on the task's canonical solutions, loss on answer tokens only) a tiny "
        "Llama-architecture model until its greedy accuracy on held-out problems first lies in "
        "[--window-lo, --window-hi]; save it with its tokenizer, config, accuracy history and the sha256 of "
        "its weights. Without --force an existing, hash-verified checkpoint with the same settings is reused."
    )
    add_fields(parser, PretrainConfig, skip=SKIPPED)
    add_fields(parser, PretrainOptions)


#: (field, is it allowed, what is allowed); ``v`` is the value, ``c`` every value (given or default).
CHECKS = [
    ("lr", lambda v, c: math.isfinite(v) and v > 0, "must be a finite number > 0"),
    ("grad_clip", lambda v, c: math.isfinite(v) and v > 0, "must be a finite number > 0"),
    ("batch_size", lambda v, c: v >= 1, "must be >= 1"),
    ("max_steps", lambda v, c: v >= 1, "must be >= 1"),
    ("eval_every", lambda v, c: v >= 1, "must be >= 1"),
    ("threads", lambda v, c: v >= 0, "must be >= 0"),
    ("window_lo", lambda v, c: 0 <= v <= 1, "must be in [0, 1]"),
    ("window_hi", lambda v, c: c["window_lo"] <= v <= 1, "must be in [--window-lo, 1]"),
    ("eval_n", lambda v, c: 1 <= v <= EVAL_POOL // 2, f"must be in 1..{EVAL_POOL // 2}"),
]


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    """The PretrainConfig of the options; :class:`~grpo_theory.llm.config.ConfigError` (one line) if
    invalid."""
    from grpo_theory.llm.config import DEVICE_PATTERN, ConfigError
    from grpo_theory.llm.runnable import check_device

    values = {**vars(PretrainConfig()), **given(args, PretrainConfig)}
    n_digits = getattr(args, "n_digits", None)
    if n_digits is not None and values["task"] != "addition":
        raise ConfigError([("--n-digits", n_digits, "applies to --task addition only")])
    if n_digits is not None and n_digits < 1:
        raise ConfigError([("--n-digits", n_digits, "must be >= 1")])
    for name, ok, allowed in CHECKS:
        if not ok(values[name], values):
            raise ConfigError([(name, values[name], allowed)])
    if not DEVICE_PATTERN.match(values["device"]):
        raise ConfigError([("device", values["device"], "must be 'cpu', 'cuda', 'cuda:N' or 'mps'")])
    check_device(values["device"])
    values["task_kwargs"] = {} if n_digits is None else {"n_digits": n_digits}
    try:
        return PretrainConfig(**values)
    except ValueError as e:
        raise ConfigError([("--task", values["task"], str(e))]) from None


def run(args: argparse.Namespace) -> int:
    from grpo_theory.artifacts import check_writable
    from grpo_theory.llm.config import ConfigError

    cfg = config_from_args(args)
    try:
        check_writable(cfg.path.parent)
    except PermissionError as e:
        raise ConfigError([("--out-dir", str(cfg.path), str(e))]) from None
    path = pretrain(cfg) if args.force else ensure_start_checkpoint(cfg)
    meta = json.loads((path / "meta.json").read_text())
    print(f"start checkpoint: {path}")
    print(f"  held-out greedy accuracy {meta['val_acc']:.3f} on {meta['val_n']} problems after "
          f"{meta['steps']} steps ({meta['wall_s']:.0f} s); weights sha256 {meta['weights_sha256'][:16]}...")
    return 0
