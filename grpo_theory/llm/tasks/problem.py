"""What every task is: a :class:`Problem` (prompt, a correct answer, numbers) and the :class:`Task` protocol.

A task draws problems from a ``random.Random``, scores a decoded completion with a verifiable reward and
names the supervised target used in pretraining; the trainer, pretraining, evaluation and the problem sets
(:mod:`grpo_theory.llm.tasks.problem_sets`) need nothing else from it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Problem:
    """One task instance.

    prompt: the text the policy continues, e.g. ``"123+456="``.
    answer: a correct completion (for countdown: the canonical one; others may also be correct).
    numbers: the operands (addition) or the available numbers (countdown).
    target: the value the answer must have.
    """

    prompt: str
    answer: str
    numbers: tuple[int, ...]
    target: int


@runtime_checkable
class Task(Protocol):
    """What the trainer, pretraining and evaluation need from a task."""

    name: str
    max_new_tokens: int
    """Generation budget: the longest correct completion plus <eos> (and a little slack)."""

    def sample(self, rng: random.Random, n: int) -> list[Problem]:
        """Draw ``n`` independent problems (duplicates possible) using only ``rng``."""
        ...

    def reward(self, problem: Problem, completion: str) -> float:
        """1.0 if ``completion`` (decoded text up to <eos>) solves ``problem``, else 0.0."""
        ...

    def sft_completion(self, problem: Problem) -> str:
        """The supervised target for pretraining (without <eos>)."""
        ...


__all__ = ["Problem", "Task"]
