"""Runs the benchmark sections: ``python -m grpo_theory.bench [SECTION ...]`` (default: all).

Each existing module ``grpo_theory.bench.<section>`` gets a header and its ``main()`` is called; a
section whose module does not exist is skipped with a note. A section that raises is reported and
the others still run; the exit status is then 1.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
import traceback

from grpo_theory.bench import SECTIONS

#: ``peer`` (our trainer vs TRL's, grpo_theory.bench.peer) runs last: it needs trl, and from the main
#: venv it re-runs itself in .venv-crosscheck (or is skipped with a note when that does not exist).
ALL_SECTIONS = (*SECTIONS, "peer")


def main(sections: tuple[str, ...] | list[str] = ALL_SECTIONS) -> int:
    unknown = [s for s in sections if s not in ALL_SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; known: {list(ALL_SECTIONS)}", file=sys.stderr)
        return 2
    failed = []
    for name in sections:
        module_name = f"grpo_theory.bench.{name}"
        print(f"\n== {name} " + "=" * max(0, 70 - len(name)), flush=True)
        if importlib.util.find_spec(module_name) is None:
            print(f"(skipped: {module_name} does not exist)")
            continue
        t0 = time.perf_counter()
        try:
            importlib.import_module(module_name).main()
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        print(f"({name}: {time.perf_counter() - t0:.1f} s)", flush=True)
    if failed:
        print(f"\nfailed sections: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ALL_SECTIONS))
