"""proofs/: one file per result, numbered steps each naming a test that exists, verdicts agree with the
registry."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from grpo_theory.theory.registry import RESULTS

ROOT = Path(__file__).resolve().parents[2]
CITE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: r.id)
def test_proof_file_cites_existing_tests_and_states_the_verdict(result):
    text = (ROOT / result.proof).read_text()
    assert text.startswith(f"# {result.id} ")
    assert re.search(r"^1\. ", text, flags=re.M), "numbered steps"
    cites = CITE.findall(text)
    assert cites, "at least one test cited"
    for path, name in cites:
        assert name in _test_names(ROOT / path), f"{path}::{name} does not exist"
    steps = re.split(r"^\d+\. ", text.split("**Verdict")[0], flags=re.M)[1:]
    assert steps and all(CITE.search(step) for step in steps), "every numbered step names a test"
    verdict = re.search(r"\*\*Verdict: ([^*]+?)\.?\*\*", text)
    assert verdict and verdict.group(1).removesuffix(" (in part)") == result.verdict


def test_index_lists_every_result():
    index = (ROOT / "proofs" / "README.md").read_text()
    for r in RESULTS:
        assert f"| {r.id} | {r.title} |" in index and r.proof.split("/")[-1] in index
    assert len(list((ROOT / "proofs").glob("R*-*.md"))) == len(RESULTS) == 16
