"""Figure code only reads results: it imports nothing that trains, and missing results name their command.

The import scan reads every module under ``grpo_theory/figures`` whole: ``import``/``from`` statements
anywhere in the file (inside functions too, relative ones included) and module names held in string
constants, which ``importlib`` loads. From there it follows, transitively, what importing those modules
loads (the statements outside function bodies), and fails naming the chain that reaches a training
module. (A dependency's function that imports a training module on call, such as ``policy_identity``
making the start checkpoint, is not followed: figure code would have to call it, and a figure module
that did would import its module by name, which the first rule sees.)
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest

import grpo_theory
from grpo_theory.figures.data import headline as headline_data
from grpo_theory.figures.data import results

PKG = Path(grpo_theory.__file__).resolve().parent
#: Modules that train a model or run an experiment.
TRAINING = {f"grpo_theory.llm.{m}" for m in ("trainer", "experiment", "pretrain", "update", "run_state",
                                            "cli_train", "cli_experiment", "cli_pretrain")}
MODULE_NAME = r"grpo_theory(\.\w+)+"


def _module_file(name: str) -> Path | None:
    rel = Path(*name.split("."))
    for cand in (PKG.parent / rel.with_suffix(".py"), PKG.parent / rel / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _name_of(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _nodes(tree: ast.AST, whole: bool):
    """Every node of ``tree`` (``whole``), or those run at import time: function bodies left out."""
    if whole:
        yield from ast.walk(tree)
        return
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(c for c in ast.iter_child_nodes(node)
                    if not isinstance(c, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))


def imports_of(source: str, module: str, is_package: bool = False, *, whole: bool = True) -> set[str]:
    """The ``grpo_theory`` modules ``source`` (the text of ``module``) imports, and their parent packages
    (``whole=False``: only what importing it runs, and no names in strings)."""
    import re

    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in _nodes(ast.parse(source), whole):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
        elif whole and isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and re.fullmatch(MODULE_NAME, node.value):
            found.add(node.value)
    out = set()
    for name in found:
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {n for n in out if n.startswith("grpo_theory") and _module_file(n) is not None}


def reachable_training(start: list[Path]) -> dict[str, list[str]]:
    """training module -> one import chain from a module in ``start`` to it."""
    chains = {_name_of(p): [_name_of(p)] for p in start}
    todo = list(chains)
    hits: dict[str, list[str]] = {}
    while todo:
        name = todo.pop()
        path = _module_file(name)
        assert path is not None, name
        whole = len(chains[name]) == 1  # a start module: read whole
        for dep in sorted(imports_of(path.read_text(), name, path.name == "__init__.py", whole=whole)):
            if dep not in chains:
                chains[dep] = [*chains[name], dep]
                todo.append(dep)
                if dep in TRAINING:
                    hits[dep] = chains[dep]
    return hits


def test_no_figure_module_reaches_a_training_module():
    modules = sorted((PKG / "figures").rglob("*.py"))
    assert len(modules) >= 15  # the scan sees the package
    hits = reachable_training(modules)
    assert not hits, "figure code imports training code: " + "; ".join(" -> ".join(c) for c in hits.values())


def test_the_scan_finds_a_training_import_wherever_it_is(tmp_path):
    """The scan can fail: an import inside a function, a relative one, or a module name for importlib."""
    for src in ("def f():\n    from grpo_theory.llm.experiment import run_experiment\n",
                "from ...llm import trainer\n",
                "import importlib\nimportlib.import_module('grpo_theory.llm.pretrain')\n"):
        found = imports_of(src, "grpo_theory.figures.data.x")
        assert found & TRAINING, src
    assert not imports_of("def f():\n    import grpo_theory.llm.trainer\n", "m", whole=False)
    hits = reachable_training([PKG / "llm" / "headline.py"])  # headline -> budgets -> ... no training
    assert not hits, hits
    hits = reachable_training([PKG / "llm" / "cli_experiment.py"])  # a module that does train is caught
    assert "grpo_theory.llm.experiment" in hits


@pytest.fixture
def no_results(tmp_path, monkeypatch):
    (tmp_path / "results").mkdir()
    monkeypatch.setattr(results, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results")
    return tmp_path


def _parse_experiment_command(command: str):
    """``command`` parsed by the real ``grpo-theory experiment`` parser (SystemExit if it is not valid)."""
    from grpo_theory.cli import OneLineParser
    from grpo_theory.llm import cli_experiment

    words = shlex.split(command)
    assert words[:4] == ["python", "-m", "grpo_theory", "experiment"], command
    parser = OneLineParser(prog="grpo-theory experiment")
    cli_experiment.add_arguments(parser)
    return parser.parse_args(words[4:])


@pytest.mark.parametrize("experiment", ["headline", "ablation", "partial_credit"])
def test_missing_results_name_the_command_that_makes_them(no_results, experiment):
    from grpo_theory.artifacts import repo_root
    from grpo_theory.llm.cli_experiment import default_out

    assert results.find_results(experiment) == (None, "")
    with pytest.raises(results.MissingResultsError) as e:
        results.experiment_config(experiment)
    msg = str(e.value)
    assert "\n" not in msg and msg.endswith(f"make them with: {results.make_command(experiment)}")
    assert f"results/{experiment}, results/full/{experiment}" in msg
    # the command is real, and it writes where the figures look first
    args = _parse_experiment_command(results.make_command(experiment))
    out = default_out(args.name, args.preset, commit_results=args.commit_results)
    assert out.relative_to(repo_root()) == Path("results", experiment)


def test_the_sweep_command_writes_where_f10_reads():
    from grpo_theory.artifacts import repo_root

    args = _parse_experiment_command(headline_data.SWEEP_COMMAND)
    assert args.name == "lr_sweep" and (repo_root() / args.out) == headline_data.SWEEP_DIR


def test_make_figures_skips_a_figure_without_results_and_fails(no_results, monkeypatch, capsys):
    """F7 (ablation) has no results: it is not drawn, F10 is, and the exit status is 2."""
    from grpo_theory.figures import __main__ as figures_cli
    from grpo_theory.figures import registry

    drawn = []

    def build(fig, recompute=False):  # the config step only: nothing is written to paper_figures/
        fig.config()
        drawn.append(fig.fid)
        return {"fid": fig.fid, "cached": True, "data_s": 0.0, "plot_s": 0.0, "paths": []}

    monkeypatch.setattr(registry, "build", build)
    assert figures_cli.main(["--only", "F7,F10"]) == 2
    assert drawn == ["F10"]
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert err == ["error: F7 not drawn: no results of experiment 'ablation' (looked in results/ablation, "
                   "results/full/ablation, results/gpu/ablation, results/quick/ablation); make them with: "
                   "python -m grpo_theory experiment ablation --preset paper --commit-results"]
