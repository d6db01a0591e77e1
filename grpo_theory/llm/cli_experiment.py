"""``grpo-theory experiment headline|ablation|lr_sweep|partial_credit``: the paper's comparisons, over
seeds."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, replace
from pathlib import Path

from grpo_theory.configfields import add_fields, from_args, option
from grpo_theory.llm.presets import EXPERIMENTS, PRESETS


def default_out(experiment: str, preset: str, *, commit_results: bool = False) -> Path:
    """Where an experiment writes: ``<experiment>`` for the paper preset (the committed headline),
    ``<preset>/<experiment>`` for the others, under the scratch directory ``runs/`` (ignored by git), or
    under ``results/`` (committed results) with ``commit_results``. Both are at the repository root."""
    from grpo_theory.artifacts import results_dir, scratch_dir

    parts = (experiment,) if preset == "paper" else (preset, experiment)
    return results_dir(*parts) if commit_results else scratch_dir(*parts)


def _experiments_help() -> str:
    lines = []
    for name, fn in EXPERIMENTS.items():
        doc = (fn.__doc__ or "").strip().splitlines()[0].rstrip(".") if fn.__doc__ else ""
        doc = re.sub(r":\w+:`~?([^`]+)`", r"\1", doc).replace("``", "")  # docstring markup -> plain text
        if name == "ablation":
            doc += " (16-GRPO's prompts per mini-batch: " + ", ".join(
                f"{k} {v.prompts_16}" for k, v in PRESETS.items()) + ")"
        lines.append(f"{name}: {doc}.")
    return " ".join(lines)


@dataclass(frozen=True)
class ExperimentOptions:
    """The options of ``grpo-theory experiment``."""

    name: str = option(help="which experiment", choices=sorted(EXPERIMENTS))
    preset: str = option("quick", "scale: " + "; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()),
                         choices=sorted(PRESETS))
    seeds: tuple[int, ...] | None = option(None, "run seeds >= 0, e.g. --seeds 0 1 2 (default: the preset's)",
                                           nargs="+")
    device: str | None = option(None, "torch device, e.g. cpu or cuda (default: the preset's)")
    out: str | None = option(None, "output directory (default: runs/<name> for --preset paper, else "
                             "runs/<preset>/<name>; see --commit-results)", metavar="OUT")
    commit_results: bool = option(False, "write to results/<name> (results/<preset>/<name>), the committed "
                                  "results, instead of the scratch directory runs/", flag=True)
    overwrite: bool = option(False, "replace finished runs whose config differs (without it the command "
                             "refuses)", flag=True)
    eta: float | None = option(None, "override the preset's 16-GRPO learning rate eta (the others use 8 "
                               "eta); for sensitivity checks, with its own --out")
    methods: tuple[str, ...] | None = option(None, "run only these methods, e.g. --methods 16-GRPO 2-GRPO "
                                             "(default: all)", nargs="+")
    keep_work: bool = option(False, "keep each run's working directory (final policy weights) under "
                             "OUT/.work", flag=True)
    no_progress: bool = option(False, "no tqdm progress bars", flag=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        _experiments_help() + " Runs go to runs/<name> (runs/<preset>/<name> for presets other than paper), "
        "a scratch directory; --commit-results writes to results/ instead. A finished run with the same "
        "config hash is reported as 'done, skipped', so re-running a command continues an interrupted "
        "experiment (unfinished runs resume from their last checkpoint); a finished run of another config is "
        "refused unless --overwrite. Every option is checked before anything runs."
    )
    add_fields(parser, ExperimentOptions)


def validate(args: ExperimentOptions):
    """The preset (with ``--eta``) and the output directory, after checking every option; raises
    ConfigError."""
    import math

    from grpo_theory.llm.config import ConfigError
    from grpo_theory.llm.runnable import check_runnable

    if args.out is not None and args.commit_results:
        raise ConfigError([("--out", str(args.out), "give either --out or --commit-results, not both")])
    preset = PRESETS[args.preset]
    if args.eta is not None:
        if not (math.isfinite(args.eta) and args.eta > 0):
            raise ConfigError([("--eta", args.eta, "must be a finite number > 0")])
        preset = replace(preset, lr=args.eta)
    if args.seeds is not None:
        bad = [s for s in args.seeds if s < 0]
        if bad:
            raise ConfigError([("--seeds", bad[0], "must be integers >= 0")])
    out = Path(args.out) if args.out else default_out(args.name, args.preset,
                                                       commit_results=args.commit_results)
    runs = EXPERIMENTS[args.name](preset.with_base(device=args.device or preset.base.device))
    if args.methods:
        unknown = [m for m in args.methods if m not in runs]
        if unknown:
            raise ConfigError([("--methods", unknown[0], f"{args.name} has {', '.join(runs)}")])
    from grpo_theory.artifacts import check_writable

    try:
        check_writable(out)
    except PermissionError as e:
        raise ConfigError([("--out", str(out), str(e).removeprefix(f"{out} "))]) from None
    for cfg in runs.values():
        check_runnable(cfg.replace(out_dir=str(out)))
    return preset, out


def run(args: argparse.Namespace) -> int:
    from grpo_theory.llm.experiment import run_experiment

    o = from_args(args, ExperimentOptions)
    preset, out = validate(o)
    run_experiment(o.name, preset, seeds=None if o.seeds is None else list(o.seeds), device=o.device, out=out,
                   progress=not o.no_progress, methods=None if o.methods is None else list(o.methods),
                   keep_work=o.keep_work, overwrite=o.overwrite)
    return 0
