"""The fixed problem sets of a task: held-out evaluation sets, training sets and the SFT problem stream.

``eval_problems(task, n, seed)`` and ``train_problems(task, n, seed)`` draw from separate seeded streams,
without duplicates, and the training set never contains a prompt of the evaluation pool (the first
``EVAL_POOL`` evaluation problems of evaluation seed 0, of which any smaller evaluation set is a prefix).
Streams are keyed by ``task.name``, so two tasks of one name (``addition`` and ``addition_partial``) share
their problems.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache

from grpo_theory.llm.tasks.problem import Problem, Task

EVAL_POOL = 2000
"""Size of the evaluation pool that every training set excludes (default evaluation seed 0)."""


def _unique(stream: Iterator[Problem], n: int, exclude: set[str], what: str) -> list[Problem]:
    seen = set(exclude)
    out: list[Problem] = []
    misses = 0
    for p in stream:
        if p.prompt in seen:
            misses += 1
            if misses > 100 * n + 10_000:
                raise ValueError(f"cannot draw {n} distinct {what} problems: the task has too few prompts")
            continue
        seen.add(p.prompt)
        out.append(p)
        if len(out) == n:
            break
    return out


def _stream(task: Task, seed_text: str) -> Iterator[Problem]:
    # A string seed is hashed with SHA-512 by random.Random, so streams are reproducible across processes
    # (independent of PYTHONHASHSEED) and the train and eval streams are unrelated.
    rng = random.Random(seed_text)
    while True:
        yield from task.sample(rng, 64)


def eval_problems(task: Task, n: int, seed: int = 0) -> list[Problem]:
    """A fixed held-out set of ``n`` distinct problems; a smaller ``n`` gives a prefix of a larger one."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return _unique(_stream(task, f"{task.name}/eval/{seed}"), n, set(), "eval")


def eval_prompts(task: Task) -> frozenset[str]:
    """The prompts of the evaluation pool that training data must avoid."""
    return _eval_prompts_cached(task)  # type: ignore[arg-type]  # tasks are frozen dataclasses (hashable)


@lru_cache(maxsize=8)
def _eval_prompts_cached(task: Task) -> frozenset[str]:
    return frozenset(p.prompt for p in eval_problems(task, EVAL_POOL, seed=0))


def train_problems(task: Task, n: int, seed: int = 0) -> list[Problem]:
    """A fixed training set of ``n`` distinct problems from a stream separate from evaluation's, with every
    prompt of the evaluation pool (``EVAL_POOL`` problems of evaluation seed 0) excluded."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return _unique(_stream(task, f"{task.name}/train/{seed}"), n, set(eval_prompts(task)), "train")


class ProblemStream:
    """Endless batches of fresh training problems (for SFT), never from the evaluation pool.

    An iterator whose whole state is one ``random.Random``, so ``copy.deepcopy`` snapshots it (pretraining
    rewinds the stream when it rolls back to an earlier evaluation).
    """

    def __init__(self, task: Task, seed: int, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.task, self.batch_size = task, batch_size
        self.banned = eval_prompts(task)
        self.rng = random.Random(f"{task.name}/sft/{seed}")

    def __iter__(self) -> ProblemStream:
        return self

    def __next__(self) -> list[Problem]:
        batch: list[Problem] = []
        while len(batch) < self.batch_size:
            drawn = self.task.sample(self.rng, self.batch_size - len(batch))
            batch.extend(p for p in drawn if p.prompt not in self.banned)
        return batch

    def __deepcopy__(self, memo: dict) -> ProblemStream:
        new = ProblemStream.__new__(ProblemStream)
        new.task, new.batch_size, new.banned = self.task, self.batch_size, self.banned  # immutable, shared
        new.rng = random.Random()
        new.rng.setstate(self.rng.getstate())
        return new


def problem_stream(task: Task, seed: int, batch_size: int) -> ProblemStream:
    """Endless batches of ``batch_size`` fresh training problems; see ``ProblemStream``."""
    return ProblemStream(task, seed, batch_size)


__all__ = ["EVAL_POOL", "ProblemStream", "eval_problems", "eval_prompts", "problem_stream", "train_problems"]
