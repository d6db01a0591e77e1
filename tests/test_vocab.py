"""One vocabulary: ``grpo_theory.vocab`` names every aggregation mode and score kind the package uses.

The scan below reads every string literal of ``grpo_theory/`` and ``notebooks/`` (ast) and picks those that
*spell* an aggregation mode or a score kind: the whole literal is built from the words seq/token/prompt/batch,
mean/sum and norm joined by ``-`` or ``_`` (``token-mean``, ``seq_mean_token_sum``, ``batch_token_mean``), or
is ``sum``/``summed``/``seq_sum`` or ``length-normalized`` (any separator, either spelling). Each such literal
must be one of ``vocab``'s names; so an underscore spelling, an old kind name or a new name added in one
module without ``vocab`` fails. Keys that merely contain a name (``rel_err_seq_mean_token_sum``) are
identifiers of a record, not names, and are not matched.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

from grpo_theory import vocab

ROOT = Path(__file__).resolve().parents[1]

_WORD = r"(?:(?:seq|token|prompt|batch)[-_])+(?:mean|sum)"
NAME_LIKE = re.compile(
    rf"{_WORD}(?:[-_]{_WORD})*(?:[-_]norm)?"  # aggregation modes
    r"|(?:seq[-_])?sum(?:med)?|length[-_]?normali[sz]ed"  # score kinds
)
NAMES = set(vocab.ALL_AGG_MODES) | set(vocab.SCORE_KINDS)

#: Literals that spell "sum" but name something else: (file, keyword argument the literal is passed as).
OTHER_SUMS = {("grpo_theory/integrations/trl.py", "reduction")}  # accelerate's reduce(..., reduction="sum")


def bad_literals(source: str, rel: str) -> list[str]:
    """``"rel:line: 'literal'"`` for every name-like string literal of ``source`` that is not in vocab."""
    tree = ast.parse(source)
    allowed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and (rel, node.arg) in OTHER_SUMS:
            allowed.add(id(node.value))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in allowed:
            continue
        if NAME_LIKE.fullmatch(node.value) and node.value not in NAMES:
            found.append(f"{rel}:{node.lineno}: {node.value!r}")
    return found


def _sources() -> list[Path]:
    return sorted((ROOT / "grpo_theory").rglob("*.py")) + sorted((ROOT / "notebooks").glob("*.py"))


def test_vocab_imports_without_torch_numpy_or_sympy():
    code = (
        "import sys\n"
        "for m in ('torch', 'numpy', 'sympy'):\n"
        "    sys.modules[m] = None  # any import of them raises ImportError\n"
        "import grpo_theory.vocab as v\n"
        "print(len(v.ALL_AGG_MODES), len(v.SCORE_KINDS))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["6", "2"]


def test_tuples_are_the_literal_types():
    assert vocab.AGG_MODES == get_args(vocab.AggMode)
    assert vocab.GROUP_AGG_MODES == get_args(vocab.GroupAggMode)
    assert vocab.ALL_AGG_MODES == vocab.AGG_MODES + vocab.GROUP_AGG_MODES
    assert set(get_args(vocab.AnyAggMode)) == set(vocab.ALL_AGG_MODES)
    assert vocab.SCORE_KINDS == get_args(vocab.ScoreKind) == ("summed", "length-normalized")
    assert set(vocab.AGG_ALIASES) == set(get_args(vocab.AggAlias))
    assert set(vocab.AGG_ALIASES.values()) <= set(vocab.ALL_AGG_MODES)


def test_no_underscore_alias_of_a_name():
    assert all("_" not in name for name in NAMES)
    spelled = {n.replace("-", "_") for n in NAMES} | {n.replace("-", "") for n in NAMES}
    assert not spelled & set(vocab.AGG_ALIASES), "an alias is only a respelling of one of our names"


def test_every_mode_or_kind_literal_in_the_package_comes_from_vocab():
    bad = []
    for path in _sources():
        bad += bad_literals(path.read_text(), path.relative_to(ROOT).as_posix())
    assert not bad, "names not in grpo_theory.vocab:\n" + "\n".join(bad)


def test_the_scan_catches_planted_names():
    planted = (
        "def f(kind='token_mean', agg='seq_mean_token_sum', other='sum', x='batch_token_mean'):\n"
        "    return {'seq_sum': 1, 'length_normalized': 2, 'seq-mean-token-mean': 3, 'summed': 4}\n"
        "acc.reduce(t, reduction='sum')\n"
    )
    got = [line.split(": ", 1)[1] for line in bad_literals(planted, "grpo_theory/x.py")]
    assert sorted(got) == sorted(["'token_mean'", "'seq_mean_token_sum'", "'sum'", "'batch_token_mean'",
                                  "'seq_sum'", "'length_normalized'", "'sum'"])
    # the one allowed "sum" is allowed only where it is, and only as that keyword
    assert bad_literals(planted.splitlines()[2], "grpo_theory/integrations/trl.py") == []


def test_compound_record_keys_are_not_names():
    assert bad_literals("x = {'rel_err_seq_mean_token_sum': 1, 'cov_summed': 2}", "grpo_theory/x.py") == []
