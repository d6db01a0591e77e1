"""Every config field is documented, and every command exposes every field of its configs.

The configs are found by walking the package's source (every dataclass named ``*Config`` or ``*Options``,
and the experiment presets), so a new config, or a new field without a help text, fails here.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

import grpo_theory
from grpo_theory.configfields import add_fields, describe, from_args, given, help_of, option, parse_bool

PACKAGE = Path(grpo_theory.__file__).parent
#: Dataclasses that are configs without the name suffix.
EXTRA_CONFIGS = {"Preset", "Sweep"}


def _is_dataclass_def(node: ast.ClassDef) -> bool:
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Name | ast.Attribute) and ast.unparse(target).endswith("dataclass"):
            return True
    return False


def config_classes() -> dict[str, type]:
    """``"module.Class" -> class`` for every config dataclass defined in the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and _is_dataclass_def(node) and (
                    node.name.endswith(("Config", "Options")) or node.name in EXTRA_CONFIGS):
                found[f"{module}.{node.name}"] = getattr(importlib.import_module(module), node.name)
    return found


CONFIGS = config_classes()


def test_the_walk_finds_the_configs():
    names = {k.rsplit(".", 1)[1] for k in CONFIGS}
    assert {"TrainConfig", "PretrainConfig", "ExperimentOptions", "TrainOptions", "CheckConfig",
            "GradEquivConfig", "DirectionConfig", "CovarianceConfig", "DiscardConfig", "BudgetConfig",
            "SmolChecksConfig", "Preset", "Sweep"} <= names


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_config_field_has_a_help_text(name):
    cls = CONFIGS[name]
    undocumented = [f.name for f in dataclasses.fields(cls) if not help_of(f).strip()]
    assert not undocumented, f"{name}: fields without metadata['help'] (configfields.option): {undocumented}"


def test_realcheck_configs_share_one_base():
    from grpo_theory.realcheck.config import CheckConfig

    checks = [c for n, c in CONFIGS.items() if n.startswith("grpo_theory.realcheck.") and c is not CheckConfig
              and n.endswith("Config")]
    assert len(checks) == 6
    for cls in checks:
        assert issubclass(cls, CheckConfig), cls
        assert {f.name for f in dataclasses.fields(CheckConfig)} <= {f.name for f in dataclasses.fields(cls)}


# --------------------------------------------------------------------------------------------- commands


def _commands():
    """(command words, module, config classes, fields the command does not expose) for every command."""
    from grpo_theory.llm import cli_experiment, cli_pretrain, cli_train
    from grpo_theory.llm.config import TrainConfig
    from grpo_theory.llm.pretrain import PretrainConfig
    from grpo_theory.realcheck import cli as realcheck_cli

    out = [(["train"], cli_train, [cli_train.TrainOptions, TrainConfig], ()),
           (["pretrain"], cli_pretrain, [PretrainConfig, cli_pretrain.PretrainOptions], cli_pretrain.SKIPPED),
           (["experiment"], cli_experiment, [cli_experiment.ExperimentOptions], ())]
    for name in realcheck_cli.EXPERIMENTS:
        out.append((["realcheck", name], realcheck_cli,
                    [realcheck_cli.RunOptions, realcheck_cli._config_class(name)], ()))
    return out


#: Config dataclasses that are not the options of a command, and why.
NOT_COMMANDS = {"CheckConfig": "the base of the realcheck configs (its fields are theirs)",
                "Preset": "chosen by name with --preset", "Sweep": "part of a Preset"}


def _parser_of(words, module) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grpo-theory " + words[0])
    module.add_arguments(parser)
    if len(words) == 1:
        return parser
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[words[1]]


@pytest.mark.parametrize(("words", "module", "classes", "skip"), _commands(),
                         ids=lambda x: "-".join(x) if isinstance(x, list) and isinstance(x[0], str) else "")
def test_each_command_exposes_every_field_with_its_help_and_default(words, module, classes, skip):
    parser = _parser_of(words, module)
    actions = {a.dest: a for a in parser._actions}
    help_text = " ".join(parser.format_help().split())
    for cls in classes:
        for f in dataclasses.fields(cls):
            if f.name in skip:
                continue
            assert f.name in actions, f"{' '.join(words)}: no option for {cls.__name__}.{f.name}"
            a = actions[f.name]
            assert a.help.replace("%%", "%") == describe(f)
            assert " ".join(help_of(f).split()[:4]) in help_text  # shown in --help
            if f.default not in (None, dataclasses.MISSING) and not f.metadata.get("flag"):
                assert "(default: " in a.help
            if "choices" in f.metadata and a.choices is None:  # a comma list: checked per member
                allowed = tuple(f.metadata["choices"])
                assert a.type(",".join(map(str, allowed))) == allowed
                with pytest.raises(argparse.ArgumentTypeError, match="not allowed"):
                    a.type(f"{allowed[0]},not-a-choice")
            elif "choices" in f.metadata:
                assert list(a.choices) == list(f.metadata["choices"])


def test_every_config_is_a_command_or_says_why_not():
    covered = {cls.__name__ for _, _, classes, _ in _commands() for cls in classes}
    for name in CONFIGS:
        short = name.rsplit(".", 1)[1]
        assert short in covered or short in NOT_COMMANDS, f"{name} is no command's options"


# --------------------------------------------------------------------------------------------- the builder


@dataclasses.dataclass(frozen=True)
class _Toy:
    what: str = option(help="positional", choices=("a", "b"))
    n: int = option(3, "a count")
    xs: tuple[float, ...] = option((0.5, 1.0), "comma list")
    words: tuple[str, ...] | None = option(None, "several words", nargs="+")
    on: bool = option(True, "a boolean with a value")
    force: bool = option(False, "a flag", flag=True)


def _toy_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_fields(p, _Toy)
    return p


def test_builder_parses_each_kind_of_field():
    args = _toy_parser().parse_args(["b", "--n", "7", "--xs", "1,2.5", "--words", "x", "y", "--on", "no",
                                     "--force"])
    assert from_args(args, _Toy) == _Toy("b", 7, (1.0, 2.5), ("x", "y"), False, True)
    args = _toy_parser().parse_args(["a"])
    assert given(args, _Toy) == {"what": "a", "force": False}
    assert from_args(args, _Toy) == _Toy("a")


@pytest.mark.parametrize("argv", [["c"], ["a", "--n", "x"], ["a", "--on", "maybe"], ["a", "--xs", "1,z"], []])
def test_builder_rejects_bad_values(argv, capsys):
    with pytest.raises(SystemExit) as e:
        _toy_parser().parse_args(argv)
    assert e.value.code == 2


def test_help_states_default_and_allowed_values():
    text = " ".join(_toy_parser().format_help().split())
    assert "a count (default: 3)" in text and "comma list (default: 0.5,1.0)" in text
    assert "{a,b}" in text and "a flag" in text and "(default: False)" not in text


def test_option_refuses_an_empty_help_and_unknown_settings():
    with pytest.raises(ValueError, match="help"):
        option(1, " ")
    with pytest.raises(ValueError, match="unknown"):
        option(1, "x", colour="red")
    assert parse_bool("Yes") is True and parse_bool("off") is False
    with pytest.raises(argparse.ArgumentTypeError):
        parse_bool("2")


# --- bounds ----------------------------------------------------------------------------------------------


def test_field_problems_reports_each_bound():
    from dataclasses import dataclass

    from grpo_theory.configfields import field_problems

    @dataclass(frozen=True)
    class C:
        n: int = option(1, "a count", minimum=1)
        t: float = option(1.0, "a temperature", above=0)
        p: tuple[float, ...] = option((0.2, 0.8), "an interval", length=2, minimum=0, maximum=1)
        free: int = option(-3, "no bound")

    assert field_problems(C, {"n": 1, "t": 0.5, "p": (0.0, 1.0), "free": -9}) == []
    assert field_problems(C, {"n": 0}) == [("n", 0, "must be >= 1")]
    assert field_problems(C, {"t": 0.0}) == [("t", 0.0, "must be > 0")]
    assert field_problems(C, {"t": float("inf")}) == [("t", float("inf"), "must be a finite number")]
    assert field_problems(C, {"p": (0.5,)}) == [("p", (0.5,), "must be 2 values in [0, 1]")]
    assert field_problems(C, {"p": (0.5, 1.5)}) == [("p", (0.5, 1.5), "must be 2 values in [0, 1]")]
    assert field_problems(C, {"n": 0, "t": -1.0}) == [("n", 0, "must be >= 1"), ("t", -1.0, "must be > 0")]
    assert [d for d in map(describe, dataclasses.fields(C))][:3] == [
        "a count (>= 1) (default: 1)", "a temperature (> 0) (default: 1.0)",
        "an interval (2 values in [0, 1]) (default: 0.2,0.8)"]


def test_every_numeric_realcheck_field_has_a_bound():
    # a new count or rate without a bound would reach the check unvalidated (a traceback, not one line)
    import typing

    from grpo_theory.configfields import BOUND_KEYS, default_of, field_problems
    from grpo_theory.realcheck import cli as realcheck_cli

    missing = []
    for name in realcheck_cli.EXPERIMENTS:
        cls = realcheck_cli._config_class(name)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            numeric = {int, float} & set(typing.get_args(hints[f.name]) or (hints[f.name],))
            if numeric and not set(f.metadata) & BOUND_KEYS:
                missing.append(f"{cls.__name__}.{f.name}")
        # the defaults are inside the bounds
        assert field_problems(cls, {f.name: default_of(f) for f in dataclasses.fields(cls)}) == []
    assert missing == []
