"""``grpo-theory pretrain``: SFT the tiny start checkpoint until held-out accuracy enters the target window."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from grpo_theory.llm.pretrain import PretrainConfig, ensure_start_checkpoint, pretrain
from grpo_theory.llm.tasks import EVAL_POOL

_DEFAULTS = PretrainConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Pretrain (SFT on the task's canonical solutions, loss on answer tokens only) a tiny Llama-architecture "
        "model until its greedy accuracy on held-out problems first lies in [--window-lo, --window-hi]; save it "
        "with its tokenizer, config, accuracy history and the sha256 of its weights. Without --force an existing, "
        "hash-verified checkpoint with the same settings is reused."
    )
    d = _DEFAULTS
    parser.add_argument("--task", default=d.task, choices=["addition", "countdown"], help="task (default: %(default)s)")
    parser.add_argument("--n-digits", type=int, default=None,
                        help="addition only: digits per operand (task default: 3)")
    parser.add_argument("--seed", type=int, default=d.seed, help="initialization and data seed (default: %(default)s)")
    parser.add_argument("--size", default=d.size, choices=["tiny", "small", "gpu"],
                        help="model size: tiny ~1M, small ~6M, gpu ~14M params (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate, constant (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="problems per step (default: %(default)s)")
    parser.add_argument("--window-lo", type=float, default=d.window_lo,
                        help="stop at the first evaluation with accuracy >= this ... (default: %(default)s)")
    parser.add_argument("--window-hi", type=float, default=d.window_hi,
                        help="... and <= this; a jump past it rewinds and evaluates more often (default: %(default)s)")
    parser.add_argument("--max-steps", type=int, default=d.max_steps,
                        help="fail if the window is not reached by then (default: %(default)s)")
    parser.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between evaluations (default: %(default)s)")
    parser.add_argument("--eval-n", type=int, default=d.eval_n,
                        help="held-out validation problems per evaluation (default: %(default)s)")
    parser.add_argument("--device", default=d.device, help="torch device (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=d.threads, help="CPU threads (default: %(default)s)")
    parser.add_argument("--out-dir", default=None,
                        help="checkpoint directory (default: results/checkpoints/<task>-<size>-seed<seed>)")
    parser.add_argument("--force", action="store_true", help="pretrain again even if the checkpoint exists")


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    """The PretrainConfig of the options; :class:`~grpo_theory.llm.config.ConfigError` (one line) if invalid."""
    import math

    from grpo_theory.llm.config import _DEVICE, ConfigError

    task_kwargs = {} if args.n_digits is None else {"n_digits": args.n_digits}
    if task_kwargs and args.task != "addition":
        raise ConfigError([("--n-digits", args.n_digits, "applies to --task addition only")])
    if args.n_digits is not None and args.n_digits < 1:
        raise ConfigError([("--n-digits", args.n_digits, "must be >= 1")])
    checks = [("lr", lambda v: math.isfinite(v) and v > 0, "must be a finite number > 0"),
              ("batch_size", lambda v: v >= 1, "must be >= 1"), ("max_steps", lambda v: v >= 1, "must be >= 1"),
              ("eval_every", lambda v: v >= 1, "must be >= 1"), ("threads", lambda v: v >= 0, "must be >= 0"),
              ("window_lo", lambda v: 0 <= v <= 1, "must be in [0, 1]"),
              ("window_hi", lambda v: args.window_lo <= v <= 1, "must be in [--window-lo, 1]"),
              ("eval_n", lambda v: 1 <= v <= EVAL_POOL // 2, f"must be in 1..{EVAL_POOL // 2}"),
              ("device", lambda v: bool(_DEVICE.match(v)), "must be 'cpu', 'cuda', 'cuda:N' or 'mps'")]
    for name, ok, allowed in checks:
        if not ok(getattr(args, name)):
            raise ConfigError([(name, getattr(args, name), allowed)])
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError([("device", args.device, "CUDA is not available here; use --device cpu")])
    names = {f.name for f in fields(PretrainConfig)} - {"task_kwargs"}
    try:
        return PretrainConfig(task_kwargs=task_kwargs, **{k: v for k, v in vars(args).items() if k in names})
    except ValueError as e:
        raise ConfigError([("--task", args.task, str(e))]) from None


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
    print(f"  held-out greedy accuracy {meta['val_acc']:.3f} on {meta['val_n']} problems after {meta['steps']} steps "
          f"({meta['wall_s']:.0f} s); weights sha256 {meta['weights_sha256'][:16]}...")
    return 0
