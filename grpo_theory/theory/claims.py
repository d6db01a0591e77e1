"""``grpo-theory claims``: run every symbolic check and a quick Monte Carlo check per result, print a table.

Columns: ID, statement, verdict, symbolic (✓/✗, with the number of exact parts), Monte Carlo (the z-score
of the Monte Carlo comparisons, |z| ≤ 4 passes; "exact" with the largest deviation for deterministic
identities checked on random draws, which have no z; "—" where no distribution is involved or the Monte
Carlo module is unavailable), proof file. The exit status is 1 if any symbolic check or any Monte Carlo
check fails, else 0; a failing symbolic check prints its failed parts with their residuals. ``--json``
prints the same content as JSON; ``--full`` uses the larger Monte Carlo sample size.

The Monte Carlo checks come from ``grpo_theory.montecarlo.checks`` (``MC_CHECKS[rid](n_samples, seed)``
returning an object with ``estimate``, ``exact``, ``stderr``, ``z``, ``passed``, ``kind``, ``max_abs_dev``);
it is imported only here, so importing :mod:`grpo_theory.theory` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import time
from typing import Any

MC_MODULE = "grpo_theory.montecarlo.checks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--full", action="store_true", help="more Monte Carlo samples (FULL_SAMPLES)")
    parser.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (default 0)")
    parser.add_argument("--only", nargs="+", metavar="RID", help="check only these results, e.g. R5 R6")
    parser.add_argument("--no-mc", action="store_true", help="skip the Monte Carlo checks")
    parser.add_argument("--markdown", action="store_true", help="print the README claims table (Markdown)")


def load_mc() -> tuple[Any | None, str]:
    """The Monte Carlo module, or (None, reason) when it cannot be imported."""
    try:
        return importlib.import_module(MC_MODULE), ""
    except ImportError as exc:  # the module is optional for the symbolic report
        return None, f"{MC_MODULE} unavailable ({exc})"


def _finite(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def collect(only: list[str] | None = None, *, mc: bool = True, full: bool = False, seed: int = 0) -> dict:
    """Run the checks; returns {"results": [...], "mc_note": str, "passed": bool}."""
    from grpo_theory.theory.registry import BY_ID, RESULTS

    if only:
        unknown = [rid for rid in only if rid not in BY_ID]
        if unknown:
            raise ValueError(f"unknown result id(s) {unknown}; known: {list(BY_ID)}")
    selected = [r for r in RESULTS if not only or r.id in only]
    module, note = load_mc() if mc else (None, "Monte Carlo checks skipped (--no-mc)")
    n_samples = None
    if module is not None:
        n_samples = module.FULL_SAMPLES if full else module.QUICK_SAMPLES
    rows = []
    for r in selected:
        t0 = time.perf_counter()
        parts: list[dict[str, Any]] = []
        try:
            evidence = r.check()
            sym_ok = bool(evidence)
            parts = [{"name": p.name, "ok": p.ok, "found": p.found} for p in getattr(evidence, "parts", [])]
            failed = [f"{p['name']} [{p['found']}]" for p in parts if not p["ok"]]
            why = "failed: " + "; ".join(failed) if failed else "check returned False"
            sym_error = "" if sym_ok else why
        except Exception as exc:  # a crashing check is a failing check, reported, not a crashed report
            sym_ok, sym_error = False, f"{type(exc).__name__}: {exc}"
        row: dict[str, Any] = {
            "id": r.id, "title": r.title, "statement": r.statement, "reference": r.reference,
            "verdict": r.verdict, "verdict_text": r.verdict_text, "proof": r.proof, "tests": list(r.tests),
            "real_model": r.real_model, "shown_in": list(r.shown_in),
            "symbolic": sym_ok, "symbolic_error": sym_error, "symbolic_parts": parts, "mc": None,
        }
        fn = getattr(module, "MC_CHECKS", {}).get(r.id) if module is not None else None
        if fn is not None:
            try:
                res = fn(n_samples, seed)
                row["mc"] = {
                    "estimate": _finite(res.estimate), "exact": _finite(res.exact),
                    "stderr": _finite(res.stderr), "z": _finite(res.z), "passed": bool(res.passed),
                    "detail": str(getattr(res, "detail", "")), "kind": str(getattr(res, "kind", "z")),
                    "max_abs_dev": _finite(getattr(res, "max_abs_dev", None)),
                    "n_samples": n_samples, "seed": seed,
                }
            except Exception as exc:
                row["mc"] = {"passed": False, "z": None, "error": f"{type(exc).__name__}: {exc}"}
        row["seconds"] = round(time.perf_counter() - t0, 3)
        rows.append(row)
    passed = all(x["symbolic"] and (x["mc"] is None or x["mc"]["passed"]) for x in rows)
    return {"results": rows, "mc_note": note, "mc_samples": n_samples, "passed": passed}


def _mc_text(mc: dict, *, markdown: bool = False) -> str:
    """z for Monte Carlo comparisons, "exact, max |Δ|" for identities (never a z for an identity)."""
    mark = "✓" if mc["passed"] else "✗"
    z, dev, kind = mc.get("z"), mc.get("max_abs_dev"), mc.get("kind", "z")
    exact = f"exact, max |Δ| = {dev:.1g}" if dev is not None else "exact"
    if kind == "exact":
        return f"{mark} {exact}" if markdown else f"{exact} {mark}"
    ztext = (f"z = {z:+.2f}" if markdown else f"{z:+.2f}") if z is not None else "z = ?"
    if kind == "z+exact":
        ztext += f"; identities {exact}" if markdown else f" (+{exact})"
    return f"{mark} {ztext}" if markdown else f"{ztext} {mark}"


def _mc_cell(mc: dict | None) -> str:
    if mc is None:
        return "—"
    if mc.get("error"):
        return "error ✗"
    return _mc_text(mc)


def format_table(report: dict) -> str:
    head = ("ID", "statement", "verdict", "symbolic", "Monte Carlo", "proof")
    rows = []
    for x in report["results"]:
        n_parts = len(x.get("symbolic_parts") or [])
        sym = ("✓" if x["symbolic"] else "✗") + (f" {n_parts}" if n_parts else "")
        rows.append((x["id"], x["title"], x["verdict"], sym, _mc_cell(x["mc"]), x["proof"]))
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out.append("")
    for x in report["results"]:
        if x["verdict"] != "holds":
            out.append(f"{x['id']}: {x['verdict_text']}")
        if x["symbolic_error"]:
            err = x["symbolic_error"]
            out.append(f"{x['id']}: symbolic check {err}" if err.startswith(("failed", "check returned"))
                       else f"{x['id']}: symbolic check raised {err}")
        if x["mc"] and x["mc"].get("error"):
            out.append(f"{x['id']}: Monte Carlo check raised {x['mc']['error']}")
    if report["mc_note"]:
        out.append(f"note: {report['mc_note']}")
    elif report["mc_samples"]:
        out.append(f"Monte Carlo: {report['mc_samples']} samples per check; |z| ≤ 4 passes; identities "
                   "checked on random draws are exact (max |Δ| ≤ 4e-10 passes). symbolic: number of exact "
                   "parts checked.")
    out.append("all checks passed" if report["passed"] else "SOME CHECKS FAILED")
    return "\n".join(out)


def _shown_in_label(path: str) -> str:
    """``paper_figures/F5_x.png`` → ``F5``; ``notebooks/01_x.py`` → ``nb 01``."""
    name = path.rsplit("/", 1)[-1]
    return f"nb {name[:2]}" if path.startswith("notebooks/") else name.split("_", 1)[0]


def format_markdown(report: dict) -> str:
    """The README claims table: R-id | paper statement | verdict | symbolic | Monte Carlo | proof | real
    model |
    figure. Every cell comes from the registry and the report, so the committed table can be regenerated."""
    out = [
        "| R | paper statement | verdict | symbolic | Monte Carlo | proof | real model | figure |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for x in report["results"]:
        sym = ("✓ " if x["symbolic"] else "✗ ") + ", ".join(f"`{t}`" for t in x["tests"])
        mc = x["mc"]
        mc_cell = "—" if mc is None else ("✗ error" if mc.get("error") else _mc_text(mc, markdown=True))
        mc_cell = mc_cell.replace("|", "\\|")  # a bare | would split the table's cell
        verdict = x["verdict_text"].replace("|", "\\|")
        statement = f"{x['statement']}; *{x['reference']}*".replace("|", "\\|")
        proof = f"[{x['proof'].split('/')[-1]}]({x['proof']})"
        shown = ", ".join(f"[{_shown_in_label(p)}]({p})" for p in x["shown_in"]) or "—"
        cells = [x["id"], statement, verdict, sym, mc_cell, proof, x["real_model"].replace("|", "\\|"), shown]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    try:
        report = collect(args.only, mc=not args.no_mc, full=args.full, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif args.markdown:
        print(format_markdown(report))
    else:
        print(format_table(report))
    return 0 if report["passed"] else 1
