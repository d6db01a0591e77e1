"""The docs: generated blocks match their generators, links resolve, the README stays a front page.

The claims block is compared in ``tests/test_claims_cli.py``, which already computes the claims report.
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

import pytest

from grpo_theory import docblocks
from grpo_theory.artifacts import read_json
from grpo_theory.theory.registry import RESULTS

ROOT = Path(__file__).resolve().parents[1]
CHEAP = tuple(b for b in docblocks.BLOCKS if b.name != "claims")


@pytest.mark.parametrize("block", CHEAP, ids=lambda b: f"{b.file}:{b.name}")
def test_committed_block_equals_its_generator(block):
    text = (ROOT / block.file).read_text(encoding="utf-8")
    fresh = block.render(docblocks.Context(ROOT)).rstrip("\n") + "\n"
    assert docblocks.committed(text, block.name) == fresh, \
        f"run `grpo-theory docs` ({block.file}: {block.name})"


def test_check_names_a_stale_block_and_rewrite_fixes_only_the_block(tmp_path):
    (tmp_path / "results" / "headline").mkdir(parents=True)
    (tmp_path / "results" / "headline" / "summary.json").write_bytes(
        (ROOT / "results" / "headline" / "summary.json").read_bytes())
    doc = "hand text above\n<!-- BEGIN headline -->\nold numbers\n<!-- END headline -->\nhand text below\n"
    (tmp_path / "README.md").write_text(doc)
    ctx = docblocks.Context(tmp_path)
    block = next(b for b in docblocks.BLOCKS if b.name == "headline")
    todo = docblocks.stale(ctx, (block,))
    assert list(todo) == ["README.md"] and list(todo["README.md"]) == ["headline"]
    new = docblocks.replace(doc, "headline", todo["README.md"]["headline"])
    assert new.startswith("hand text above\n<!-- BEGIN headline -->\n| arm | steps |")
    assert new.endswith("<!-- END headline -->\nhand text below\n")
    (tmp_path / "README.md").write_text(new)
    assert docblocks.stale(ctx, (block,)) == {}


def test_missing_or_repeated_block_is_an_error():
    with pytest.raises(ValueError, match="found 0"):
        docblocks.committed("no markers", "claims")
    twice = "<!-- BEGIN a -->\nx\n<!-- END a -->\n" * 2
    with pytest.raises(ValueError, match="found 2"):
        docblocks.committed(twice, "a")


def test_interval_formatting():
    assert docblocks._ci(82.907, 79.15, 86.62) == "82.9 (79.2–86.6)"
    assert docblocks._ci(-12.425, -15.39, -9.58) == "−12.4 (−15.4 to −9.6)"
    assert docblocks._ci(1.2, -24.4, 21.0, digits=0) == "1 (−24 to 21)"
    assert docblocks._pct(1.0) == "100" and docblocks._pct(0.125) == "12.5"


def _summary_with(verdict: str, eq_ci: tuple[float, float]) -> str:
    s = copy.deepcopy(read_json(ROOT / "results" / "headline" / "summary.json"))
    s["arms"]["2-GRPO"]["paper_claim"]["verdict"] = verdict
    s["arms"]["2-GRPO"]["budgets"]["equal_steps"]["retention_ci95"] = list(eq_ci)
    return " ".join(docblocks._summary_block(docblocks.Context(ROOT, headline=s)).split())


def test_summary_wording_follows_the_evidence():
    assert "not 97.6%" in _summary_with("rejected", (98.6, 107.9))
    assert "as the paper's 97.6%" in _summary_with("supported", (98.6, 107.9))
    assert "cannot tell it from 97.6%" in _summary_with("inconclusive", (98.6, 107.9))
    assert "it matches 16-GRPO" in _summary_with("rejected", (98.6, 107.9))
    assert "it beats 16-GRPO" in _summary_with("rejected", (100.5, 107.9))
    assert "it falls short of 16-GRPO" in _summary_with("rejected", (80.0, 99.9))


def test_summary_counts_come_from_the_registry():
    text = " ".join(docblocks._summary_block(docblocks.Context(ROOT)).split())
    paper = [r for r in RESULTS if int(r.id[1:]) <= 14]
    n_false = sum(r.verdict == "false as printed" for r in paper)
    assert f"Of the paper's {len(paper)} formal results, {len(paper) - n_false} hold" in text
    assert f"and {n_false} are false as printed" in text


def test_headline_table_reads_every_arm():
    summary = read_json(ROOT / "results" / "headline" / "summary.json")
    rows = docblocks.headline_table(summary).splitlines()[2:]
    assert len(rows) == len(summary["arms"])
    two = next(r for r in rows if r.startswith("| 2-GRPO | "))
    a = summary["arms"]["2-GRPO"]
    assert f"{a['retention']['value']:.1f} (" in two and f"| {a['steps']:.0f} |" in two


def test_registry_figures_and_notebooks_exist():
    for r in RESULTS:
        for p in r.shown_in:
            assert (ROOT / p).is_file(), f"{r.id}: shown_in {p} does not exist"


# --- links -------------------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _tracked_markdown() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = [ROOT / f for f in out.stdout.split()]
    # the docs written in this tree and not committed yet count too
    files += [p for p in ROOT.glob("**/README.md") if ".venv" not in p.parts and p not in files]
    return [f for f in files if f.exists()]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)}


def test_slug_rule():
    assert _slug("Headline: does 2-GRPO keep 97.6% of 16-GRPO?") == "headline-does-2-grpo-keep-976-of-16-grpo"


def test_every_relative_link_resolves():
    bad = []
    for md in _tracked_markdown():
        text = re.sub(r"```.*?```", "", md.read_text(encoding="utf-8"), flags=re.S)
        for target in LINK.findall(re.sub(r"`[^`\n]*`", "", text)):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            path, _, anchor = target.partition("#")
            dest = (md.parent / path).resolve() if path else md
            if not dest.exists():
                bad.append(f"{md.relative_to(ROOT)} -> {target}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                bad.append(f"{md.relative_to(ROOT)} -> {target} (no such heading)")
    assert bad == []


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, \
        "long sections belong next to their code (grpo_theory/*/README.md, results/README.md)"
    headings = [line for line in lines if line.startswith("## ")]
    for needed in ("## Two commands", "## Map", "## Headline"):
        assert any(h.startswith(needed) for h in headings), needed
