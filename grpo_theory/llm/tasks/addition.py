"""``addition``: fixed-width n-digit addition with an exact-match reward.

Prompt ``"123+456="``, over the tokenizer's alphabet ``0-9 + =``; the only correct answer is ``"0579"``
(n + 1 digits, zero-padded, not reversed). Reward 1 iff the stripped completion is exactly the answer.
The partial-credit variant is :mod:`grpo_theory.llm.tasks.addition_partial`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from grpo_theory.llm.tasks.problem import Problem


@dataclass(frozen=True)
class AdditionTask:
    """Fixed-width addition of two ``n_digits``-digit numbers (leading zeros allowed in the operands).

    The answer has ``n_digits + 1`` digits, zero-padded: ``"005+017="`` -> ``"0022"``.
    """

    n_digits: int = 3
    """Digits per operand."""
    name: str = "addition"

    def __post_init__(self) -> None:
        if not 1 <= self.n_digits <= 18:
            raise ValueError(f"n_digits must be in 1..18, got {self.n_digits}")

    @property
    def max_new_tokens(self) -> int:
        return self.n_digits + 2  # n+1 answer digits and <eos>

    def make(self, a: int, b: int) -> Problem:
        n, hi = self.n_digits, 10**self.n_digits
        if not (0 <= a < hi and 0 <= b < hi):
            raise ValueError(f"operands must be in [0, {hi}), got {a}, {b}")
        return Problem(prompt=f"{a:0{n}d}+{b:0{n}d}=", answer=f"{a + b:0{n + 1}d}", numbers=(a, b),
                       target=a + b)

    def sample(self, rng: random.Random, n: int) -> list[Problem]:
        hi = 10**self.n_digits
        return [self.make(rng.randrange(hi), rng.randrange(hi)) for _ in range(n)]

    def reward(self, problem: Problem, completion: str) -> float:
        # Surrounding whitespace is forgiven (chat models like to add a newline); the digits must match
        # exactly.
        return float(completion.strip() == problem.answer)

    def sft_completion(self, problem: Problem) -> str:
        return problem.answer


__all__ = ["AdditionTask"]
