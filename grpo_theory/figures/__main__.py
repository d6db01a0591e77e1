"""``python -m grpo_theory.figures [--only F1,F3] [--recompute] [--list]``: writes every figure.

Data are cached under ``paper_figures/data/`` (one JSON per figure, keyed by its config hash), so a
second run only redraws; ``--recompute`` ignores the cache.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grpo_theory.figures", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated figure ids, e.g. F1,F3 (default: all)")
    parser.add_argument("--recompute", action="store_true", help="ignore cached data and recompute it")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    args = parser.parse_args(argv)

    from tqdm import tqdm

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
    rows = []
    for fig in bar:
        bar.set_postfix_str(fig.fid)
        rows.append(build(fig, recompute=args.recompute))
    bar.close()
    for r in rows:
        how = "cached" if r["cached"] else "computed"
        names = ", ".join(p.name for p in r["paths"])
        print(f"{r['fid']:4s} data {r['data_s']:6.1f} s ({how:8s}) plot {r['plot_s']:5.1f} s  -> {names}")
    print(f"{len(rows)} figures in {time.perf_counter() - t0:.1f} s, written to {PAPER_FIGURES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
