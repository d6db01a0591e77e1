"""Runs every benchmark section that exists: ``python -m grpo_theory.bench``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time

from grpo_theory.bench import SECTIONS


def main(sections: tuple[str, ...] = SECTIONS) -> int:
    for name in sections:
        module_name = f"grpo_theory.bench.{name}"
        print(f"\n== {name} " + "=" * max(0, 70 - len(name)))
        if importlib.util.find_spec(module_name) is None:
            print(f"(skipped: {module_name} does not exist)")
            continue
        t0 = time.perf_counter()
        importlib.import_module(module_name).main()
        print(f"({name}: {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
