"""Benchmark: the vectorized Monte Carlo estimator vs its per-sample Python-loop twin.

Both compute the same per-prompt GRPO gradient estimator :math:`\\frac1G\\sum_i A_i g_i` (advantages
from :mod:`grpo_theory.losses`) on the same tabular toy policy, including sampling; the loop
version iterates over replicates, prompts and rollouts
(:func:`~grpo_theory.montecarlo.estimators.group_gradients_loop`).
Throughput is in sampled groups per second; the speed-up is the ratio of the two throughputs
measured in this one run (compare ratios, never absolute numbers across machines).

Run: ``python -m grpo_theory.bench.montecarlo``.
"""

from __future__ import annotations

import time

import torch

from grpo_theory.montecarlo.estimators import group_gradients_loop, sample_group_gradients
from grpo_theory.montecarlo.fixtures import check_tabular, generator

#: (G, estimator, vectorized replicates, loop replicates)
CASES = ((2, "paper", 20_000, 40), (16, "paper", 20_000, 10), (16, "rloo", 20_000, 10))


def _best_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(group_size: int, estimator: str, n_vec: int, n_loop: int) -> dict[str, float]:
    """Groups per second of both implementations on the check tabular policy (Q = 8 prompts)."""
    pol = check_tabular()
    gen = generator(0)
    sample_group_gradients(pol, group_size, 64, gen, estimator)  # warm-up
    t_vec = _best_time(lambda: sample_group_gradients(pol, group_size, n_vec, gen, estimator))
    t_loop = _best_time(lambda: group_gradients_loop(pol, group_size, n_loop, gen, estimator), repeats=1)
    vec = n_vec * pol.num_prompts / t_vec
    loop = n_loop * pol.num_prompts / t_loop
    return {"vectorized": vec, "loop": loop, "ratio": vec / loop}


def main() -> None:
    torch.set_num_threads(1)  # single-threaded: a ratio, not a peak number
    pol = check_tabular()
    print(
        f"per-prompt GRPO gradient estimator on {pol.name} (N={pol.num_responses} responses, D={pol.dim}), "
        "float64, sampling included, 1 thread"
    )
    print(f"{'G':>3s} {'estimator':10s} {'vectorized (groups/s)':>22s} {'loop (groups/s)':>16s} "
          f"{'speed-up':>9s}")
    for g, est, n_vec, n_loop in CASES:
        m = measure(g, est, n_vec, n_loop)
        print(f"{g:3d} {est:10s} {m['vectorized']:22.0f} {m['loop']:16.1f} {m['ratio']:8.0f}x")


if __name__ == "__main__":
    main()
