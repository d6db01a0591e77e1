"""Prints the mutation score of the last ``mutmut run`` (``make mutation``).

Reads the ``mutants/**/*.py.meta`` files mutmut writes (one JSON object per mutated source file,
with an ``exit_code_by_key`` map from mutant name to the test run's exit code) and reports

    score = detected / checked,  detected = killed + timeout,  checked = every mutant with a result.

Exit codes follow mutmut 3: 1 or 3 killed, 0 survived, 5/33 no tests, 36/24/-24/152/255 timeout,
34 skipped (not counted), None not checked (not counted). Run: ``python -m
grpo_theory.losses._mutation_score``.

When a full run does not fit in the time at hand, score a uniform random sample instead::

    python -m grpo_theory.losses._mutation_score --make-sample 200 --seed 0 > mutants/sample.txt
    mutmut run --max-children 2 $(cat mutants/sample.txt)
    python -m grpo_theory.losses._mutation_score --only mutants/sample.txt

The sample score comes with its binomial standard error, sqrt(s (1 - s) / n).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 37}
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
NOT_COUNTED = {None, 34, 2}


def classify(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    if code in NOT_COUNTED:
        return "not checked"
    return "suspicious"


def all_codes(root: Path) -> dict[str, tuple[str, int | None]]:
    """Mutant name -> (source file, exit code) over all meta files under ``root``."""
    out: dict[str, tuple[str, int | None]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for name, code in codes.items():
            out[name] = (str(meta.relative_to(root))[: -len(".meta")], code)
    return out


def collect(root: Path, only: set[str] | None = None) -> tuple[Counter, dict[str, list[str]]]:
    """Counts statuses (of the mutants in ``only``, if given); also returns undetected names per file."""
    counts: Counter = Counter()
    survivors: dict[str, list[str]] = {}
    for name, (path, code) in all_codes(root).items():
        if only is None or name in only:
            status = classify(code)
            counts[status] += 1
            if status in ("survived", "no tests", "suspicious"):
                survivors.setdefault(path, []).append(name)
    return counts, survivors


def main() -> None:
    parser = argparse.ArgumentParser(description="mutation score of the last mutmut run")
    parser.add_argument("--root", default="mutants", help="mutmut's output folder (default: mutants)")
    parser.add_argument("--list", action="store_true", help="also list surviving mutants")
    parser.add_argument("--make-sample", type=int, metavar="N", help="print N mutant names drawn uniformly")
    parser.add_argument("--seed", type=int, default=0, help="seed for --make-sample (default 0)")
    parser.add_argument("--only", metavar="FILE", help="score only the mutant names listed in FILE")
    args = parser.parse_args()
    if args.make_sample:
        names = sorted(all_codes(Path(args.root)))
        for n in sorted(random.Random(args.seed).sample(names, min(args.make_sample, len(names)))):
            print(n)
        return
    only = set(Path(args.only).read_text().split()) if args.only else None
    counts, survivors = collect(Path(args.root), only)
    checked = sum(v for k, v in counts.items() if k != "not checked")
    if checked == 0:
        raise SystemExit(f"no mutmut results under {args.root}/: run `mutmut run` first")
    detected = counts["killed"] + counts["timeout"]
    print(" ".join(f"{k}={counts[k]}" for k in ("killed", "timeout", "survived", "no tests", "suspicious",
                                                 "not checked")))
    score = detected / checked
    print(f"mutation score: {detected}/{checked} = {100 * score:.1f}% (killed + timeout over checked)")
    if only is not None:
        frame = len(all_codes(Path(args.root)))
        se = math.sqrt(score * (1 - score) / checked)
        print(f"uniform sample of {len(only)} of {frame} mutants; standard error {100 * se:.1f} points")
    if args.list:
        for path, names in survivors.items():
            print(f"{path}: {len(names)} not detected")
            for n in names:
                print(f"    {n}")


if __name__ == "__main__":
    main()
