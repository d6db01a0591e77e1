"""``grpo-theory realcheck <name>``: run one real-model check and write ``runs/realcheck/<name>/``.

Every field of the experiment's config dataclass is an option (``--n-pairs 8``, ``--betas 0.1,1``,
``--model smollm2``); ``--out`` changes the output directory and ``--commit-results`` writes to
``results/realcheck/<name>/`` (what the figures draw). Options are checked before anything runs; a
finished result of another config is never replaced without ``--overwrite``. The command prints the
summary and the files written.
"""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import dataclass
from typing import Any

from grpo_theory.configfields import add_fields, given, option

#: name -> (module, config class, one-line help)
EXPERIMENTS: dict[str, tuple[str, str, str]] = {
    "gradient_equivalence": ("grpo_theory.realcheck.gradient_equivalence", "GradEquivConfig",
                             "R4: 2-GRPO vs DPO parameter gradients at and away from pi_ref"),
    "direction_invariance": ("grpo_theory.realcheck.direction_invariance", "DirectionConfig",
                             "R6: E[g_2|q] vs E[g_16|q]: same direction, norm ratio lambda_16/lambda_2"),
    "covariance": ("grpo_theory.realcheck.covariance", "CovarianceConfig",
                   "R8/R9: Cov(g+, g-) across and within prompts, Prop 4.1's premise, score identity"),
    "discard_rate": ("grpo_theory.realcheck.discard_rate", "DiscardConfig",
                     "R7: tied-pair fraction during 2-GRPO training vs E_q[P0] and the r-bar formula"),
    "group_size_budget": ("grpo_theory.realcheck.group_size_budget", "BudgetConfig",
                          "R16: per-step gradient error over (B, G) at fixed N = BG; fit c1/B + c2/(BG) + "
                          "c3/(BG^2)"),
    "smollm2": ("grpo_theory.realcheck.smollm2_checks", "SmolChecksConfig",
                "R6, R7, R8/R9 on SmolLM2-135M-Instruct (yes/no compare prompts; p-hat distribution first)"),
}
ALIASES = {k.replace("_", "-"): k for k in EXPERIMENTS}


def _config_class(name: str):
    module, cls, _ = EXPERIMENTS[name]
    return getattr(importlib.import_module(module), cls)


@dataclass(frozen=True)
class RunOptions:
    """The options of every ``grpo-theory realcheck <name>`` besides its config's fields."""

    out: str | None = option(None, "output directory (default: runs/realcheck/<name>, a scratch directory "
                             "ignored by git)", metavar="OUT")
    commit_results: bool = option(False, "write to results/realcheck/<name>, the committed results (drawn "
                                  "by make figures)", flag=True)
    overwrite: bool = option(False, "replace a finished result of another config in the output directory "
                             "(else refused; the same config is reported as done and skipped)", flag=True)
    quiet: bool = option(False, "no progress bars", flag=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One subcommand per experiment, one option per config field (help = the field's help)."""
    sub = parser.add_subparsers(dest="experiment", metavar="NAME", required=True)
    for name, (_module, _cls, help_) in EXPERIMENTS.items():
        aliases = [name.replace("_", "-")] if "_" in name else []
        p = sub.add_parser(name, aliases=aliases, help=help_, description=help_)
        add_fields(p, RunOptions)
        add_fields(p, _config_class(name), title=f"check configuration ({_config_class(name).__name__})")


def run(args: argparse.Namespace) -> int:
    name = ALIASES.get(args.experiment, args.experiment)
    module = importlib.import_module(EXPERIMENTS[name][0])
    cls = _config_class(name)
    changes = given(args, cls)
    cfg = _build(cls, name, changes)
    out = _out_dir(name, args)
    saved = _finished(cfg, out, args.overwrite)
    if saved is not None:
        print(f"{out}: done, skipped (a finished result of this config; --overwrite runs it again)")
        res = saved
    else:
        res = module.run(cfg, out=str(out), progress=not args.quiet)
    shown: dict[str, Any] = {k: res[k] for k in ("summary", "verdict") if k in res}
    if not shown and "statistics" in res:
        shown = {"statistics": {k: {s: v.get(s) for s in ("across_prompts", "total", "score_identity")}
                                for k, v in res["statistics"].items()}}
    from grpo_theory.realcheck._common import jsonable

    print(json.dumps(jsonable(shown), indent=1))
    print("wrote:", *res.get("files", []), sep="\n  ")
    print(f"({res.get('seconds', 0.0):.1f} s)")
    return 0


def _build(cls, name: str, changes: dict[str, Any]):
    """The experiment's config; every invalid option is a one-line ConfigError (nothing has run yet).

    The bounds are the fields' own (``option(..., minimum=...)``, :func:`configfields.field_problems`)."""
    from grpo_theory.configfields import field_problems
    from grpo_theory.llm.config import ConfigError
    from grpo_theory.llm.runnable import check_policy

    problems = field_problems(cls, changes)
    if problems:
        raise ConfigError(problems)
    try:
        cfg = cls(**changes)
    except (ValueError, TypeError) as e:
        key = next((k for k in changes if k in str(e)), next(iter(changes), "config"))
        raise ConfigError([(key, changes.get(key, ""), str(e))]) from None
    model = getattr(cfg, "model", None)
    if isinstance(model, str):
        try:
            check_policy(model)
        except ConfigError as e:
            raise ConfigError([("model", *e.problems[0][1:])]) from None
    return cfg


def _out_dir(name: str, args: argparse.Namespace):
    from pathlib import Path

    from grpo_theory.artifacts import check_writable, results_dir, scratch_dir
    from grpo_theory.llm.config import ConfigError

    if args.out and args.commit_results:
        raise ConfigError([("--out", args.out, "give either --out or --commit-results, not both")])
    out = Path(args.out) if args.out else results_dir("realcheck", name) if args.commit_results else \
        scratch_dir("realcheck", name)
    try:
        return check_writable(out)
    except PermissionError as e:
        raise ConfigError([("--out", str(out), str(e).removeprefix(f"{out} "))]) from None


def _finished(cfg, out, overwrite: bool) -> dict[str, Any] | None:
    """The saved result in ``out`` if it is of this config; refuse one of another config unless
    ``overwrite``."""
    import hashlib

    from grpo_theory.artifacts import portable, read_json
    from grpo_theory.llm.config import ConfigError
    from grpo_theory.realcheck._common import jsonable

    path = out / "result.json"
    if overwrite or not path.is_file():
        return None
    saved = read_json(path)
    if not isinstance(saved, dict) or "config" not in saved:
        return None
    want = json.loads(json.dumps(portable(jsonable(cfg))))

    def h(c: Any) -> str:
        return hashlib.sha256(json.dumps(c, sort_keys=True).encode()).hexdigest()[:16]

    if saved["config"] == want:
        return saved
    raise ConfigError([("--out", str(out), f"holds a finished result with config hash "
                                           f"{h(saved['config'])}, but this command's config has hash "
                                           f"{h(want)}: pass --overwrite to replace it, or choose another "
                                           "--out")])
