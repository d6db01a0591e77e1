"""Prints the mutation score of the last ``mutmut run`` (``make mutation``).

Reads the ``mutants/**/*.py.meta`` files mutmut writes (one JSON object per mutated source file,
with an ``exit_code_by_key`` map from mutant name to the test run's exit code) and reports

    score = detected / checked,  detected = killed + timeout,  checked = every mutant with a result.

Exit codes follow mutmut 3: 1 or 3 killed, 0 survived, 5/33 no tests, 36/24/-24/152/255 timeout,
34 skipped (not counted), None not checked (not counted). Run: ``python -m grpo_theory.losses._mutation_score``.
"""

from __future__ import annotations

import argparse
import json
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


def collect(root: Path) -> tuple[Counter, dict[str, list[str]]]:
    """Counts statuses over all meta files under ``root``; also returns surviving names per file."""
    counts: Counter = Counter()
    survivors: dict[str, list[str]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for name, code in codes.items():
            status = classify(code)
            counts[status] += 1
            if status in ("survived", "no tests", "suspicious"):
                survivors.setdefault(str(meta.relative_to(root))[: -len(".meta")], []).append(name)
    return counts, survivors


def main() -> None:
    parser = argparse.ArgumentParser(description="mutation score of the last mutmut run")
    parser.add_argument("--root", default="mutants", help="mutmut's output folder (default: mutants)")
    parser.add_argument("--list", action="store_true", help="also list surviving mutants")
    args = parser.parse_args()
    counts, survivors = collect(Path(args.root))
    checked = sum(v for k, v in counts.items() if k != "not checked")
    if checked == 0:
        raise SystemExit(f"no mutmut results under {args.root}/: run `mutmut run` first")
    detected = counts["killed"] + counts["timeout"]
    print(" ".join(f"{k}={counts[k]}" for k in ("killed", "timeout", "survived", "no tests", "suspicious",
                                                 "not checked")))
    print(f"mutation score: {detected}/{checked} = {100 * detected / checked:.1f}% (killed + timeout over checked)")
    if args.list:
        for path, names in survivors.items():
            print(f"{path}: {len(names)} not detected")
            for n in names:
                print(f"    {n}")


if __name__ == "__main__":
    main()
