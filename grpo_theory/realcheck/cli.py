"""``grpo-theory realcheck <name>``: run one real-model check and write ``runs/realcheck/<name>/``.

Every field of the experiment's config dataclass is an option (``--n-pairs 8``, ``--betas 0.1,1``,
``--model smollm2``); ``--out`` changes the output directory and ``--commit-results`` writes to
``results/realcheck/<name>/`` (what the figures draw). Options are checked before anything runs; a
finished result of another config is never replaced without ``--overwrite``. The command prints the summary and the
files written.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import itertools
import json
import textwrap
import typing
from typing import Any

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
                          "R16: per-step gradient error over (B, G) at fixed N = BG; fit c1/B + c2/(BG) + c3/(BG^2)"),
    "smollm2": ("grpo_theory.realcheck.smollm2_checks", "SmolChecksConfig",
                "R6, R7, R8/R9 on SmolLM2-135M-Instruct (yes/no compare prompts; p-hat distribution first)"),
}
ALIASES = {k.replace("_", "-"): k for k in EXPERIMENTS}


def _config_class(name: str):
    module, cls, _ = EXPERIMENTS[name]
    return getattr(importlib.import_module(module), cls)


def _field_parser(tp: Any):
    """An argparse ``type`` for a dataclass field annotation (str, int, float, bool, tuples, optionals)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        inner = _field_parser(args[0])
        return lambda s: tuple(inner(x) for x in s.split(",") if x.strip())
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return _field_parser(next(a for a in args if a is not type(None)))
    if tp is bool:
        def parse_bool(s: str) -> bool:
            v = s.strip().lower()
            if v in ("1", "true", "yes", "on"):
                return True
            if v in ("0", "false", "no", "off"):
                return False
            raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")
        return parse_bool
    return tp


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (read from its source), by field name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for a, b in itertools.pairwise(body):
        if (isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name) and isinstance(b, ast.Expr)
                and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str)):
            docs[a.target.id] = " ".join(b.value.value.split())
    return docs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One subcommand per experiment, one option per config field (help = the field's docstring)."""
    sub = parser.add_subparsers(dest="experiment", metavar="NAME", required=True)
    for name, (_module, _cls, help_) in EXPERIMENTS.items():
        aliases = [name.replace("_", "-")] if "_" in name else []
        p = sub.add_parser(name, aliases=aliases, help=help_, description=help_)
        p.add_argument("--out", default=None,
                       help=f"output directory (default: runs/realcheck/{name}, a scratch directory ignored by git)")
        p.add_argument("--commit-results", action="store_true",
                       help=f"write to results/realcheck/{name}, the committed results (drawn by make figures)")
        p.add_argument("--overwrite", action="store_true",
                       help="replace a finished result of another config in the output directory (else refused; "
                            "the same config is reported as done and skipped)")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        cls = _config_class(name)
        hints = typing.get_type_hints(cls)
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None,
                           type=_field_parser(hints[f.name]), metavar=f.name.upper(),
                           help=f"{docs.get(f.name, '')} (default: {f.default!r})")


def run(args: argparse.Namespace) -> int:
    name = ALIASES.get(args.experiment, args.experiment)
    module = importlib.import_module(EXPERIMENTS[name][0])
    cls = _config_class(name)
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
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


#: Options that must be at least this (beyond "counts are >= 1"), with the reason.
MINIMA: dict[tuple[str, str], tuple[int, str]] = {
    ("covariance", "n_responses"): (2, "a covariance within a prompt needs >= 2 responses per prompt"),
}


def _build(cls, name: str, changes: dict[str, Any]):
    """The experiment's config; every invalid option is a one-line ConfigError (nothing has run yet)."""
    import math

    from grpo_theory.llm.config import ConfigError, _check_policy

    for key, v in changes.items():
        lo, why = MINIMA.get((name, key), (1, "must be >= 1") if key.startswith("n_") else (None, ""))
        if lo is not None and isinstance(v, int) and v < lo:
            raise ConfigError([(key, v, why if why.startswith("must") else f"must be >= {lo}: {why}")])
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError([(key, v, "must be a finite number")])
    try:
        cfg = cls(**changes)
    except (ValueError, TypeError) as e:
        key = next((k for k in changes if k in str(e)), next(iter(changes), "config"))
        raise ConfigError([(key, changes.get(key, ""), str(e))]) from None
    model = getattr(cfg, "model", None)
    if isinstance(model, str):
        try:
            _check_policy(model)
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
    """The saved result in ``out`` if it is of this config; refuse one of another config unless ``overwrite``."""
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
    raise ConfigError([("--out", str(out), f"holds a finished result with config hash {h(saved['config'])}, but "
                                           f"this command's config has hash {h(want)}: pass --overwrite to replace "
                                           "it, or choose another --out")])
