"""Held-out evaluation: greedy accuracy, Mean@k and Pass@k, each with a standard error over problems.

For problem i with c_i correct answers among n sampled ones:

* greedy accuracy = mean_i 1[greedy answer of i is correct]
* Mean@k          = mean_i c_i / n                       (expected accuracy of one sample)
* Pass@k          = mean_i [1 - C(n - c_i, k) / C(n, k)]  (unbiased estimator of P(at least one of k correct),
                                                        Chen et al. 2021; equals 1[c_i > 0] when n = k)

Standard errors are ``std_i(x_i) / sqrt(N)`` with ``ddof=1`` over the N problems (0 when N = 1); they measure
the noise from which problems were drawn, conditional on the sampled answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tqdm.auto import tqdm

from grpo_theory.llm.policy import Policy
from grpo_theory.llm.tasks import Problem, Task


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased Pass@k from ``c`` correct out of ``n`` samples: ``1 - C(n-c, k) / C(n, k)``."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean_and_stderr(xs: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std with ddof=1 over sqrt(N); 0 for N < 2)."""
    n = len(xs)
    if n == 0:
        raise ValueError("no values")
    m = sum(xs) / n
    if n < 2:
        return m, 0.0
    var = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(var / n)


def greedy_correct(
    policy: Policy, task: Task, problems: Sequence[Problem], *, batch_size: int = 512, progress: bool = False
) -> list[float]:
    """Per-problem exact match (1.0 iff the reward is 1) of the greedy completion.

    Exact match, not the reward itself, so that a partial-credit reward is still evaluated by accuracy.
    """
    out: list[float] = []
    for s in tqdm(range(0, len(problems), batch_size), desc="greedy eval", disable=not progress, leave=False):
        chunk = problems[s : s + batch_size]
        r = policy.generate([p.prompt for p in chunk], 1, greedy=True, max_new_tokens=task.max_new_tokens)
        out.extend(float(task.reward(p, t) == 1.0) for p, t in zip(chunk, r.texts, strict=True))
    return out


def evaluate(
    policy: Policy,
    task: Task,
    problems: Sequence[Problem],
    *,
    k: int = 8,
    n_samples: int | None = None,
    temperature: float = 0.7,
    top_p: float = 0.8,
    seed: int = 0,
    batch_size: int = 512,
    progress: bool = False,
) -> dict[str, float | list[int]]:
    """Greedy accuracy, Mean@k and Pass@k on ``problems``, with standard errors.

    ``n_samples`` (default ``k``) completions are sampled per problem at (``temperature``, ``top_p``) with
    a fixed ``seed`` (the j-th ``generate`` call of ``batch_size // n_samples`` problems uses ``seed + j``,
    so the samples depend on ``batch_size`` too); Pass@k uses the unbiased estimator, so ``n_samples > k``
    lowers its variance. ``k = 0`` skips sampling (greedy accuracy only). Returns a flat dict:
    ``greedy_acc``, ``greedy_acc_se``, ``mean_at_k``, ``mean_at_k_se``, ``pass_at_k``, ``pass_at_k_se``,
    ``k``, ``n_samples``, ``n_problems``, and the per-problem outcomes that bootstrap intervals resample:
    ``per_problem_greedy`` (0/1 per problem, in ``problems`` order) and ``per_problem_correct`` (correct
    samples out of ``n_samples``).
    """
    if len(problems) == 0:
        raise ValueError("no problems to evaluate")
    n = k if n_samples is None else n_samples
    if k < 0 or (k > 0 and n < k):
        raise ValueError(f"need k >= 0 and n_samples >= k, got k={k}, n_samples={n}")
    greedy = greedy_correct(policy, task, problems, batch_size=batch_size, progress=progress)
    res: dict[str, float | list[int]] = {"n_problems": len(problems), "k": k, "n_samples": n if k else 0}
    res["greedy_acc"], res["greedy_acc_se"] = mean_and_stderr(greedy)
    res["per_problem_greedy"] = [int(g == 1.0) for g in greedy]
    if k == 0:
        return res
    per_batch = max(1, batch_size // n)
    means: list[float] = []
    passes: list[float] = []
    counts: list[int] = []
    starts = range(0, len(problems), per_batch)
    for j, s in enumerate(tqdm(starts, desc=f"pass@{k}", disable=not progress, leave=False)):
        chunk = problems[s : s + per_batch]
        r = policy.generate(
            [p.prompt for p in chunk], n, temperature=temperature, top_p=top_p,
            max_new_tokens=task.max_new_tokens, seed=seed + j,
        )
        for i, p in enumerate(chunk):
            c = sum(task.reward(p, t) == 1.0 for t in r.texts[i * n : (i + 1) * n])
            counts.append(int(c))
            means.append(c / n)
            passes.append(pass_at_k(n, c, k))
    res["mean_at_k"], res["mean_at_k_se"] = mean_and_stderr(means)
    res["pass_at_k"], res["pass_at_k_se"] = mean_and_stderr(passes)
    res["per_problem_correct"] = counts
    return res
