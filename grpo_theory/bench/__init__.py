"""Benchmarks behind ``make bench``: each module ``grpo_theory.bench.<name>`` exposes ``main()``.

Every benchmark reports ratios measured within one run (fast vs reference on the same inputs),
never absolute numbers to compare across machines.
"""

#: Benchmark modules, run in this order by ``python -m grpo_theory.bench``.
SECTIONS = ("losses", "montecarlo", "rollout", "train")
