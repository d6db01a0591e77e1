"""``python -m grpo_theory.figures [--only F1,F3] [--recompute] [--list]``: writes every figure.

Data are cached under ``paper_figures/data/`` (one JSON per figure, keyed by its config hash), so a
second run only redraws; ``--recompute`` ignores the cache. A corrupt cache file is recomputed with a
one-line warning; a corrupt results file stops the run with an error naming it (exit status 2).
Figures only read results, they never train: a figure whose results are missing is skipped with a
one-line error naming the command that makes them, the others are drawn, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from grpo_theory.artifacts import CorruptFileError


def first_corrupt_result(root: Path | None = None) -> str | None:
    """The first unreadable result file (``*.json``, or a ``*.jsonl`` broken before its last line) under
    ``root`` (default ``results/``), as one line naming it; None if all parse."""
    from grpo_theory.artifacts import portable_path, read_json, read_jsonl

    if root is None:
        from grpo_theory.figures.paths import RESULTS

        root = RESULTS
    for path in sorted(root.rglob("*.json*")):
        if path.suffix not in (".json", ".jsonl") or not path.is_file():
            continue
        try:
            read_json(path) if path.suffix == ".json" else read_jsonl(path)
        except CorruptFileError as e:
            return str(e).replace(str(path), portable_path(path))
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grpo_theory.figures",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated figure ids, e.g. F1,F3 (default: all)")
    parser.add_argument("--recompute", action="store_true", help="ignore cached data and recompute it")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from grpo_theory.figures.data.results import MissingResultsError
    from grpo_theory.figures.paths import PAPER_FIGURES
    from grpo_theory.figures.registry import BY_ID, FIGURES, build

    if args.list:
        for f in FIGURES:
            print(f"{f.fid:4s} {f.stem:28s} {f.title}  [{f.paper}]")
        return 0
    wanted = [s.strip().upper() for s in args.only.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in BY_ID]
    if unknown:
        parser.error(f"unknown figure ids {unknown}; known: {', '.join(BY_ID)}")
    figs = [BY_ID[w] for w in wanted] if wanted else FIGURES

    t0 = time.perf_counter()
    bar = tqdm(figs, desc="figures", unit="fig", file=sys.stderr)
    rows, missing = [], []
    for fig in bar:
        bar.set_postfix_str(fig.fid)
        try:
            rows.append(build(fig, recompute=args.recompute))
        except MissingResultsError as e:
            missing.append(f"error: {fig.fid} not drawn: {e}")
        except (CorruptFileError, json.JSONDecodeError, UnicodeDecodeError) as e:
            bar.close()
            bad = first_corrupt_result()
            print(f"error: {fig.fid}: " + (bad or str(e)), file=sys.stderr)
            return 2
    bar.close()
    for r in rows:
        how = "cached" if r["cached"] else "computed"
        names = ", ".join(p.name for p in r["paths"])
        print(f"{r['fid']:4s} data {r['data_s']:6.1f} s ({how:8s}) plot {r['plot_s']:5.1f} s  -> {names}")
    print(f"{len(rows)} figures in {time.perf_counter() - t0:.1f} s, written to {PAPER_FIGURES}")
    for line in missing:
        print(line, file=sys.stderr)
    return 2 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
