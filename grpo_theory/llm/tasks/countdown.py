"""``countdown``: reach a target from 3-4 small numbers; several answers are correct.

Prompt ``"3,5,7,11 24="``, over the tokenizer's alphabet ``0-9 + - * ( ) = , space``. Any expression over
+ - * and parentheses that uses each given number at most once and evaluates to the target earns reward 1.
The SFT target is the canonical solution found by :mod:`grpo_theory.llm.tasks.countdown_solver`. The
completion is parsed by the small recursive-descent evaluator below; model output never reaches ``eval``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from grpo_theory.llm.tasks.countdown_solver import reachable, solve_countdown
from grpo_theory.llm.tasks.problem import Problem


class ParseError(ValueError):
    """The text is not an expression of the countdown grammar."""


def evaluate_expression(text: str, max_len: int = 64) -> tuple[int, tuple[int, ...]]:
    """Evaluate an integer expression; return ``(value, numbers used in order)``. Raises ``ParseError``.

    Grammar (spaces ignored; no unary minus, no division)::

        expr   := term (("+" | "-") term)*
        term   := factor ("*" factor)*
        factor := NUMBER | "(" expr ")"
        NUMBER := a digit string without leading zeros (or "0")

    ``+`` and ``-`` are left-associative, ``*`` binds tighter. Long inputs are rejected up front, which also
    bounds the recursion depth.
    """
    s = text.replace(" ", "")
    if not s:
        raise ParseError("empty expression")
    if len(s) > max_len:
        raise ParseError(f"expression longer than {max_len} characters")
    pos = 0
    used: list[int] = []

    def peek() -> str:
        return s[pos] if pos < len(s) else ""

    def expr() -> int:
        nonlocal pos
        value = term()
        while peek() in ("+", "-"):
            op = s[pos]
            pos += 1
            rhs = term()
            value = value + rhs if op == "+" else value - rhs
        return value

    def term() -> int:
        nonlocal pos
        value = factor()
        while peek() == "*":
            pos += 1
            value *= factor()
        return value

    def factor() -> int:
        nonlocal pos
        c = peek()
        if c == "(":
            pos += 1
            value = expr()
            if peek() != ")":
                raise ParseError(f"expected ')' at {pos} in {text!r}")
            pos += 1
            return value
        start = pos
        while peek() != "" and peek() in "0123456789":  # ASCII digits only ("" is in every str)
            pos += 1
        digits = s[start:pos]
        if not digits:
            raise ParseError(f"expected a number or '(' at {start} in {text!r}")
        if len(digits) > 1 and digits[0] == "0":
            raise ParseError(f"number with a leading zero: {digits!r}")
        used.append(int(digits))
        return int(digits)

    value = expr()
    if pos != len(s):
        raise ParseError(f"unexpected {s[pos]!r} at {pos} in {text!r}")
    return value, tuple(used)


def uses_at_most_once(used: Iterable[int], available: Iterable[int]) -> bool:
    """True if the multiset ``used`` is contained in the multiset ``available``."""
    pool = list(available)
    for x in used:
        if x not in pool:
            return False
        pool.remove(x)
    return True


@dataclass(frozen=True)
class CountdownTask:
    """Reach ``target`` from 3-4 numbers with + - * and parentheses, each number used at most once.

    Prompt ``"3,5,7,11 24="``. The target is drawn uniformly from the values in ``[min_target, max_target]``
    that are reachable but not equal to a given number, so every problem needs at least two numbers.
    """

    min_numbers: int = 3
    """Fewest numbers in a problem."""
    max_numbers: int = 4
    """Most numbers in a problem."""
    max_number: int = 15
    """Numbers are drawn from 1..max_number."""
    min_target: int = 10
    """Smallest target."""
    max_target: int = 99
    """Largest target."""
    name: str = "countdown"

    def __post_init__(self) -> None:
        if not 2 <= self.min_numbers <= self.max_numbers <= 5:
            raise ValueError(
                f"need 2 <= min_numbers <= max_numbers <= 5, got {self.min_numbers}, {self.max_numbers}")
        if not 1 <= self.max_number <= 99:
            raise ValueError(f"max_number must be in 1..99, got {self.max_number}")
        if not 0 <= self.min_target <= self.max_target:
            raise ValueError(f"need 0 <= min_target <= max_target, got {self.min_target}, {self.max_target}")

    @property
    def max_new_tokens(self) -> int:
        # Longest canonical solution with max_numbers two-digit numbers: digits + operators + a few
        # parentheses.
        return 2 * self.max_numbers + (self.max_numbers - 1) + 6 + 1

    def sample(self, rng: random.Random, n: int) -> list[Problem]:
        out: list[Problem] = []
        while len(out) < n:
            k = rng.randint(self.min_numbers, self.max_numbers)
            numbers = tuple(rng.randint(1, self.max_number) for _ in range(k))
            targets = sorted(
                v for v in reachable(numbers) if self.min_target <= v <= self.max_target and v not in numbers
            )
            if not targets:  # rare (e.g. all ones): draw again, still a function of rng only
                continue
            target = rng.choice(targets)
            prompt = ",".join(map(str, numbers)) + f" {target}="
            answer = solve_countdown(numbers, target)
            if answer is None:  # cannot happen: target was drawn from the reachable values
                raise RuntimeError(f"no solution for reachable target {target} from {numbers}")
            out.append(Problem(prompt=prompt, answer=answer, numbers=numbers, target=target))
        return out

    def reward(self, problem: Problem, completion: str) -> float:
        try:
            value, used = evaluate_expression(completion.strip())
        except ParseError:
            return 0.0
        return float(value == problem.target and uses_at_most_once(used, problem.numbers))

    def sft_completion(self, problem: Problem) -> str:
        return problem.answer


__all__ = ["CountdownTask", "ParseError", "evaluate_expression", "uses_at_most_once"]
