"""The generated blocks of the Markdown docs, and ``grpo-theory docs`` that rewrites or checks them.

A block is the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in a Markdown file of the
repository. Its content is a function of committed data only (the claims registry and its report,
``results/**/*.json``), so a test regenerates every block and fails when the committed text differs.
Text outside the blocks is written by hand.

    grpo-theory docs            # rewrite every stale block in place
    grpo-theory docs --check    # exit 1, naming each stale block; write nothing
"""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpo_theory.artifacts import read_json, repo_root

MINUS = "−"
# arms of results/headline/, in the order of the front page, with their printed names
HEADLINE_ARMS = {
    "16-GRPO": "16-GRPO",
    "2-GRPO": "2-GRPO",
    "2-GRPO (8eta)": "2-GRPO (8η rule)",
    "2-GRPO+RS": "2-GRPO+RS",
    "online DPO": "online DPO",
    "2-GRPO random reward": "2-GRPO, random reward",
}


class Context:
    """What the generators read, each item loaded once: the claims report and committed results."""

    def __init__(self, root: Path | None = None, report: dict[str, Any] | None = None,
                 headline: dict[str, Any] | None = None) -> None:
        self.root = root or repo_root()
        self._report = report
        self._headline = headline

    @property
    def report(self) -> dict[str, Any]:
        """``grpo-theory claims``' report (quick Monte Carlo, seed 0), computed on first use."""
        if self._report is None:
            from grpo_theory.theory import claims

            self._report = claims.collect()
        return self._report

    @property
    def headline(self) -> dict[str, Any]:
        """``results/headline/summary.json``, read on first use."""
        if self._headline is None:
            self._headline = read_json(self.root / "results" / "headline" / "summary.json")
        return self._headline


@dataclass(frozen=True)
class Block:
    """One generated block: the file it lives in (repository-relative), its name, its generator."""

    file: str
    name: str
    render: Callable[[Context], str]


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}".replace("-", MINUS)


def _ci(value: float, lo: float, hi: float, digits: int = 1) -> str:
    """``82.9 (79.2–86.6)``; with a negative bound ``−12.4 (−15.4 to −9.6)``."""
    sep = " to " if lo < 0 or hi < 0 else "–"
    return f"{_num(value, digits)} ({_num(lo, digits)}{sep}{_num(hi, digits)})"


def _pct_ci(value: float, lo: float, hi: float) -> str:
    """``82.9% (95% CI 79.2–86.6%)``."""
    return f"{_num(value, 1)}% (95% CI {_num(lo, 1)}–{_num(hi, 1)}%)"


def _pct(share: float) -> str:
    return "100" if share == 1.0 else f"{100 * share:.1f}"


def headline_table(summary: dict[str, Any]) -> str:
    """The headline table from ``results/headline/summary.json``'s ``arms``: one row per arm."""
    arms = summary["arms"]
    ref = summary["reference"]
    lines = [
        "| arm | steps | Mean@8 % | retention % (95% CI) | gain retention % (95% CI) | "
        "Δ vs 16-GRPO, pts (95% CI) | at equal steps: retention % (95% CI) | rollouts % | CPU time % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = [a for a in HEADLINE_ARMS if a in arms] + [a for a in arms if a not in HEADLINE_ARMS]
    for name in order:
        a = arms[name]
        acc = f"{100 * a['mean_at_k']['mean']:.1f} ± {100 * a['mean_at_k']['std']:.1f}"
        cells: list[str] = [HEADLINE_ARMS.get(name) or name, f"{a['steps']:.0f}", acc]
        if name == ref:
            cells += ["100", "100", "–", "–"]
        else:
            r, g, d = a["retention"], a["gain_retention"], a["paired_delta"]
            eq = a["budgets"]["equal_steps"]
            cells += [
                _ci(r["value"], *r["ci95"]),
                _ci(g["value"], g["ci95"][0], g["ci95"][1], digits=0),
                _ci(100 * d["value"], 100 * d["ci95"][0], 100 * d["ci95"][1]),
                _ci(eq["retention"], *eq["retention_ci95"]),
            ]
        cells += [_pct(a["rollout_share"]), _pct(a["cpu_time_share"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _headline_block(ctx: Context) -> str:
    s = ctx.headline
    ref = s["methods"][s["reference"]]
    note = (f"Mean@8: mean ± std over seeds {', '.join(map(str, s['seeds']))}; the start checkpoint has "
            f"{100 * ref['start_mean_at_k']:.1f}%. Retention: the arm's Mean@8 as a % of 16-GRPO's; gain "
            "retention: its gain over the start checkpoint as a % of 16-GRPO's. Intervals: paired two-way "
            "bootstrap over seeds and test problems.")
    return f"{headline_table(s)}\n\n{textwrap.fill(note, width=110, break_on_hyphens=False)}"


def _claims_block(ctx: Context) -> str:
    from grpo_theory.theory import claims

    return claims.format_markdown(ctx.report)


def _summary_block(ctx: Context) -> str:
    """The opening verdict: counts from the claims registry, numbers from results/headline/."""
    from grpo_theory.theory.registry import CONDITIONAL, FALSE, HOLDS, RESULTS

    paper = [r for r in RESULTS if int(r.id[1:]) <= 14]
    added = [r for r in RESULTS if int(r.id[1:]) > 14]
    n_hold = sum(r.verdict in (HOLDS, CONDITIONAL) for r in paper)
    n_cond = sum(r.verdict == CONDITIONAL for r in paper)
    n_false = sum(r.verdict == FALSE for r in paper)
    a = ctx.headline["arms"]["2-GRPO"]
    r, eq = a["retention"], a["budgets"]["equal_steps"]
    claim = a["paper_claim"]
    reading = {"rejected": f"not {claim['retention_pct']}%",
               "supported": f"as the paper's {claim['retention_pct']}%",
               "inconclusive": f"which cannot tell it from {claim['retention_pct']}%"}[claim["verdict"]]
    lo, hi = eq["retention_ci95"]
    steps = "matches" if lo <= 100 <= hi else ("beats" if lo > 100 else "falls short of")
    added_txt = " and ".join(f"{x.id} ({x.title[0].lower() if x.title[1:2].islower() else x.title[0]}"
                             f"{x.title[1:]})" for x in added)
    text = (
        f"**Of the paper's {len(paper)} formal results, {n_hold} hold ({n_cond} of them only under "
        f"conditions the paper leaves implicit) and {n_false} are false as printed; {added_txt} are added. "
        f"At the paper's step count, with learning rates tuned per method on a validation split, "
        f"2-GRPO keeps {_pct_ci(r['value'], *r['ci95'])} of 16-GRPO's accuracy at equal epochs, {reading}. "
        f"At equal optimizer steps it {steps} 16-GRPO: {_pct_ci(eq['retention'], lo, hi)}. It uses "
        f"{_pct(a['rollout_share'])}% of the rollouts and {_pct(a['cpu_time_share'])}% of the CPU time "
        f"(the paper: 12.5% and 21%), over {len(a['seeds'])} seeds.**"
    )
    return textwrap.fill(text, width=110, break_on_hyphens=False)


def _proofs_index_block(ctx: Context) -> str:
    """The index of ``proofs/README.md``: one row per registry entry."""
    from grpo_theory.theory.registry import RESULTS

    lines = ["| R | result | paper | verdict | proof | tests |", "|---|---|---|---|---|---|"]
    for r in RESULTS:
        name = r.proof.rsplit("/", 1)[-1]
        tests = ", ".join(f"`{t}`" for t in r.tests)
        lines.append(f"| {r.id} | {r.title} | {r.reference} | {r.verdict} | [{name}]({name}) | {tests} |")
    return "\n".join(lines)


def _realcheck_files_block(ctx: Context) -> str:
    """Each committed realcheck result: its files and the top-level keys of its ``result.json``."""
    lines = []
    base = ctx.root / "results" / "realcheck"
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        files = sorted(p.name + ("/" if p.is_dir() else "") for p in d.iterdir())
        line = f"- `results/realcheck/{d.name}/`: {', '.join(f'`{f}`' for f in files)}"
        if (d / "result.json").exists():
            keys = list(read_json(d / "result.json"))
            line += f"; `result.json` keys: {', '.join(f'`{k}`' for k in keys)}"
        lines.append(line)
    return "\n".join(lines)


BLOCKS: tuple[Block, ...] = (
    Block("README.md", "summary", _summary_block),
    Block("README.md", "claims", _claims_block),
    Block("README.md", "headline", _headline_block),
    Block("proofs/README.md", "index", _proofs_index_block),
    Block("grpo_theory/realcheck/README.md", "result-files", _realcheck_files_block),
)


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN {re.escape(name)} -->\n)(.*?)(<!-- END {re.escape(name)} -->)", re.S)


def committed(text: str, name: str) -> str:
    """The current content of block ``name`` in ``text``; ``ValueError`` if it is missing or repeated."""
    found = _pattern(name).findall(text)
    if len(found) != 1:
        raise ValueError(f"block {name!r}: expected one BEGIN/END pair, found {len(found)}")
    return found[0][1]


def replace(text: str, name: str, content: str) -> str:
    """``text`` with block ``name`` holding ``content`` (one trailing newline)."""
    committed(text, name)
    return _pattern(name).sub(lambda m: m.group(1) + content.rstrip("\n") + "\n" + m.group(3), text)


def stale(ctx: Context, blocks: tuple[Block, ...] = BLOCKS) -> dict[str, dict[str, str]]:
    """``{file: {name: fresh content}}`` for every block whose committed content differs."""
    out: dict[str, dict[str, str]] = {}
    for b in blocks:
        fresh = b.render(ctx).rstrip("\n") + "\n"
        if committed((ctx.root / b.file).read_text(encoding="utf-8"), b.name) != fresh:
            out.setdefault(b.file, {})[b.name] = fresh
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming each block whose committed text is stale")


def run(args: argparse.Namespace) -> int:
    ctx = Context()
    todo = stale(ctx)
    for file, blocks in todo.items():
        for name in blocks:
            print(f"{file}: block {name!r} is {'stale' if args.check else 'rewritten'}")
        if not args.check:
            from grpo_theory.artifacts import atomic_write_text

            path = ctx.root / file
            text = path.read_text(encoding="utf-8")
            for name, content in blocks.items():
                text = replace(text, name, content)
            atomic_write_text(path, text)
    if not todo:
        print(f"all {len(BLOCKS)} generated blocks are up to date")
    return 1 if todo and args.check else 0
