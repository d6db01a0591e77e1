"""Files and functions a reader can hold in mind, and the line length that lint enforces.

In ``grpo_theory/``: no module over ``MAX_MODULE_LINES`` lines and no function over ``MAX_FUNCTION_LINES``
lines (its docstring excluded), unless its docstring (the module's, for a module) has a line starting
``Why long:`` that gives the reason.
"""

from __future__ import annotations

import ast
import tomllib
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "grpo_theory"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
WHY = "Why long:"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _explains(doc: str | None) -> bool:
    return any(line.strip().startswith(WHY) and len(line.strip()) > len(WHY) + 10
               for line in (doc or "").splitlines())


def function_lengths(source: str) -> list[tuple[str, int, int, bool]]:
    """``(name, first line, length without the docstring, explained)`` for every function in ``source``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            doc_node = node.body[0] if node.body else None
            doc_lines = 0
            if (isinstance(doc_node, ast.Expr) and isinstance(doc_node.value, ast.Constant)
                    and isinstance(doc_node.value.value, str)):
                doc_lines = doc_node.end_lineno - doc_node.lineno + 1  # type: ignore[operator]
            length = node.end_lineno - node.lineno + 1 - doc_lines  # type: ignore[operator]
            out.append((node.name, node.lineno, length, _explains(ast.get_docstring(node))))
    return out


def test_function_length_rule_can_fail():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    long_fn = f'def f():\n    """Doc.\n\n    More doc.\n    """\n{body}\n'
    [(name, _, length, explained)] = function_lengths(long_fn)
    assert (name, length, explained) == ("f", MAX_FUNCTION_LINES + 1, False)
    explained_fn = long_fn.replace("More doc.", f"{WHY} one table of cases, read top to bottom.")
    assert function_lengths(explained_fn)[0][3] is True
    short = 'def g():\n    """A docstring of\n    three lines."""\n    return 1\n'
    assert function_lengths(short)[0][2] == 2


def test_no_long_functions_without_a_reason():
    bad = []
    for path in _modules():
        for name, line, length, explained in function_lengths(path.read_text(encoding="utf-8")):
            if length > MAX_FUNCTION_LINES and not explained:
                bad.append(f"{path.relative_to(ROOT)}:{line} {name} ({length} lines)")
    assert bad == [], f"split these, or say '{WHY} ...' in their docstring"


def test_no_long_modules_without_a_reason():
    bad = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES and not _explains(ast.get_docstring(ast.parse(text))):
            bad.append(f"{path.relative_to(ROOT)} ({n} lines)")
    assert bad == [], f"split these, or say '{WHY} ...' in their module docstring"


@pytest.fixture(scope="module")
def ruff_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]


def test_lint_enforces_the_configured_line_length(ruff_config):
    assert isinstance(ruff_config.get("line-length"), int)
    lint = ruff_config["lint"]
    assert "E" in lint["select"] or "E501" in lint["select"]
    assert "E501" not in lint.get("ignore", [])
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "ruff check grpo_theory tests notebooks" in makefile


def test_no_line_over_the_configured_length(ruff_config):
    # the same rule as ruff's E501, so the fast suite fails where `make lint` would
    limit = ruff_config["line-length"]
    bad = []
    for base in ("grpo_theory", "tests", "notebooks"):
        for path in sorted((ROOT / base).rglob("*.py")):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _width(line) > limit and not _ruff_exempt(line):
                    bad.append(f"{path.relative_to(ROOT)}:{i} ({_width(line)})")
    assert bad == []


def _width(line: str) -> int:
    """Display width, as ruff counts it: combining marks 0, wide East Asian characters 2."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in line)


def test_width_counts_like_ruff():
    assert _width("r̄") == 1 and _width("ab") == 2 and _width("中") == 2


def _ruff_exempt(line: str) -> bool:
    # E501 skips a line that is one word (a URL, a path) with at most a comment marker before it, and pragmas
    stripped = line.strip().lstrip("#").strip()
    return " " not in stripped or "# noqa" in line or "# type:" in line
