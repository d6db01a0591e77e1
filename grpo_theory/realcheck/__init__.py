"""The theory measured on real causal LMs (results R4, R6, R7, R8/R9 of the claims list).

One module per experiment, each with a frozen config dataclass, ``run_experiment(cfg) -> dict`` and
``run(cfg, out=...)`` that writes ``results/realcheck/<name>/``:

- :mod:`~grpo_theory.realcheck.gradient_equivalence` (R4): 2-GRPO vs DPO parameter gradients;
- :mod:`~grpo_theory.realcheck.direction_invariance` (R6): E[ĝ_2 | q] vs E[ĝ_16 | q];
- :mod:`~grpo_theory.realcheck.covariance` (R8/R9): Cov(g⁺, g⁻) across and within prompts;
- :mod:`~grpo_theory.realcheck.discard_rate` (R7): zero-signal pairs during 2-GRPO training.

Shared pieces (flat gradients, the count-sketch projection, atomic result files) are in
:mod:`~grpo_theory.realcheck._common`; the command line is :mod:`~grpo_theory.realcheck.cli`.
"""
