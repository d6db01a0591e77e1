"""Question tasks for chat models (SmolLM2-135M-Instruct), with verifiable answers in free text.

The character-level tasks (``addition``, ``countdown``) ask ``"123+456="`` and demand the exact digits;
a chat model answers in prose, so these tasks ask a question in English and verify a short part of the reply:

* ``compare`` -- ``"Answer with one word, yes or no. Is 57 larger than 38?"`` for two different 2-digit
  numbers. Reward 1 iff the first standalone word "yes" or "no" of the reply (case-insensitive) is the true
  answer; a reply with neither word gets 0. Each answer is true for half of the prompts, so "always yes"
  or "always no" earns 1/2 on average.
* ``add_question`` -- ``"What is 3 + 4? Reply with the number only."`` for two ``n_digits``-digit operands.
  Reward 1 iff the last integer in the reply is the sum (the lenient verifier of chat-model arithmetic).

Both satisfy the :class:`grpo_theory.llm.tasks.Task` protocol (so the trainer, the problem sets and the
real-model checks accept them) and are registered in :data:`grpo_theory.llm.tasks.TASKS`. Their prompts
contain letters, so they are for policies with a full tokenizer, not the tiny character model.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from grpo_theory.llm.tasks.problem import Problem

_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_INT = re.compile(r"-?\d+")


def first_yes_no(text: str) -> str | None:
    """The first standalone "yes" or "no" in ``text``, lower-cased, or None ("yesterday" is not "yes")."""
    m = _YES_NO.search(text)
    return m.group(1).lower() if m else None


def last_integer(text: str) -> int | None:
    """The last integer (optional leading minus) in ``text``, or None."""
    nums = _INT.findall(text)
    return int(nums[-1]) if nums else None


@dataclass(frozen=True)
class CompareTask:
    """Is a larger than b? Two different integers in ``[low, high]``; the answer is "yes" or "no".

    ``Problem.numbers`` is ``(a, b)``, ``target`` is 1 if a > b else 0, ``answer`` the word.
    """

    low: int = 10
    """Smallest number."""
    high: int = 99
    """Largest number."""
    template: str = "Answer with one word, yes or no. Is {a} larger than {b}?"
    """The question (``{a}``, ``{b}`` are filled in)."""
    max_new_tokens: int = 8
    """Reply length cap (the verdict word comes first in almost every reply that has one)."""
    name: str = "compare"

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high:
            raise ValueError(f"need 0 <= low < high, got low={self.low}, high={self.high}")
        if "{a}" not in self.template or "{b}" not in self.template:
            raise ValueError(f"template must contain {{a}} and {{b}}, got {self.template!r}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")

    def make(self, a: int, b: int) -> Problem:
        if not (self.low <= a <= self.high and self.low <= b <= self.high) or a == b:
            raise ValueError(f"need two different numbers in [{self.low}, {self.high}], got {a}, {b}")
        return Problem(prompt=self.template.format(a=a, b=b), answer="yes" if a > b else "no",
                       numbers=(a, b), target=int(a > b))

    def sample(self, rng: random.Random, n: int) -> list[Problem]:
        out: list[Problem] = []
        while len(out) < n:
            a, b = rng.randint(self.low, self.high), rng.randint(self.low, self.high)
            if a != b:
                out.append(self.make(a, b))
        return out

    def reward(self, problem: Problem, completion: str) -> float:
        return float(first_yes_no(completion) == problem.answer)

    def sft_completion(self, problem: Problem) -> str:
        return problem.answer.capitalize()


@dataclass(frozen=True)
class AddQuestionTask:
    """What is a + b? for two ``n_digits``-digit operands (no leading zeros); last-integer verifier."""

    n_digits: int = 1
    """Digits per operand (1: 0..9, 2: 0..99, ...)."""
    template: str = "What is {a} + {b}? Reply with the number only."
    """The question (``{a}``, ``{b}`` are filled in)."""
    max_new_tokens: int = 12
    """Reply length cap."""
    name: str = "add_question"

    def __post_init__(self) -> None:
        if not 1 <= self.n_digits <= 6:
            raise ValueError(f"n_digits must be in 1..6, got {self.n_digits}")
        if "{a}" not in self.template or "{b}" not in self.template:
            raise ValueError(f"template must contain {{a}} and {{b}}, got {self.template!r}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")

    def make(self, a: int, b: int) -> Problem:
        hi = 10**self.n_digits
        if not (0 <= a < hi and 0 <= b < hi):
            raise ValueError(f"operands must be in [0, {hi}), got {a}, {b}")
        return Problem(prompt=self.template.format(a=a, b=b), answer=str(a + b), numbers=(a, b), target=a + b)

    def sample(self, rng: random.Random, n: int) -> list[Problem]:
        hi = 10**self.n_digits
        return [self.make(rng.randrange(hi), rng.randrange(hi)) for _ in range(n)]

    def reward(self, problem: Problem, completion: str) -> float:
        return float(last_integer(completion) == problem.target)

    def sft_completion(self, problem: Problem) -> str:
        return problem.answer


CHAT_TASKS = {"compare": CompareTask, "add_question": AddQuestionTask}
"""The chat-model tasks by name (part of :data:`grpo_theory.llm.tasks.TASKS`)."""

__all__ = ["CHAT_TASKS", "AddQuestionTask", "CompareTask", "first_yes_no", "last_integer"]
