"""Verifiable arithmetic tasks: problem generators, exact-match rewards, SFT targets and fixed problem sets.

Two tasks, both over the tokenizer's alphabet ``0-9 + - * ( ) = , space``:

* ``addition`` -- fixed-width n-digit addition. Prompt ``"123+456="``, the only correct answer ``"0579"``
  (n + 1 digits, zero-padded, not reversed). Reward 1 iff the completion is exactly the answer.
* ``countdown`` -- 3-4 small numbers and a target, prompt ``"3,5,7,11 24="``. Any expression over + - * and
  parentheses that uses each given number at most once and evaluates to the target earns reward 1, so a prompt
  has several correct answers. The SFT target is one canonical solution (fewest numbers, then shortest, then
  lexicographically first) found by a brute-force solver. The completion is parsed by a small recursive-descent
  evaluator; model output never reaches ``eval``.

Problem sets: ``eval_problems(task, n, seed)`` and ``train_problems(task, n, seed)`` draw from separate seeded
streams, without duplicates, and the training set never contains a prompt of the evaluation pool (the first
``EVAL_POOL`` evaluation problems of evaluation seed 0, of which any smaller evaluation set is a prefix).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, runtime_checkable

EVAL_POOL = 2000
"""Size of the evaluation pool that every training set excludes (default evaluation seed 0)."""


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


# --------------------------------------------------------------------------------------------------------------
# addition


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
        return Problem(prompt=f"{a:0{n}d}+{b:0{n}d}=", answer=f"{a + b:0{n + 1}d}", numbers=(a, b), target=a + b)

    def sample(self, rng: random.Random, n: int) -> list[Problem]:
        hi = 10**self.n_digits
        return [self.make(rng.randrange(hi), rng.randrange(hi)) for _ in range(n)]

    def reward(self, problem: Problem, completion: str) -> float:
        # Surrounding whitespace is forgiven (chat models like to add a newline); the digits must match exactly.
        return float(completion.strip() == problem.answer)

    def sft_completion(self, problem: Problem) -> str:
        return problem.answer


# --------------------------------------------------------------------------------------------------------------
# countdown: safe evaluator


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


# --------------------------------------------------------------------------------------------------------------
# countdown: brute-force solver

_PREC = {"+": 1, "-": 1, "*": 2}


@dataclass(frozen=True)
class _Expr:
    """A solver expression: its value, printed text, the precedence of its top operator (3 for a number)."""

    value: int
    text: str
    prec: int
    n_numbers: int

    def key(self) -> tuple[int, int, str]:
        # canonical order: fewest numbers, then shortest text, then lexicographic
        return (self.n_numbers, len(self.text), self.text)


def _combine(a: _Expr, b: _Expr, op: str) -> _Expr:
    p = _PREC[op]
    left = a.text if a.prec >= p else f"({a.text})"
    # The right operand of "-" needs parentheses around "+"/"-" (a-(b+c) != a-b+c); "+" and "*" do not
    # need them at equal precedence because they are associative.
    right_needs = b.prec < p or (op == "-" and b.prec == p)
    right = f"({b.text})" if right_needs else b.text
    value = a.value + b.value if op == "+" else a.value - b.value if op == "-" else a.value * b.value
    return _Expr(value, f"{left}{op}{right}", p, a.n_numbers + b.n_numbers)


@lru_cache(maxsize=1 << 16)
def _solutions(numbers: tuple[int, ...]) -> dict[int, str]:
    """value -> canonical expression over a sub-multiset of ``numbers`` (sorted tuple), for every reachable value.

    Exhaustive: every subset, every binary tree, every operator assignment (4 numbers: ~10^4 expressions).
    """
    n = len(numbers)
    best: dict[int, dict[int, _Expr]] = {}  # bitmask -> value -> best expression using exactly those numbers
    for i, x in enumerate(numbers):
        best[1 << i] = {x: _Expr(x, str(x), 3, 1)}
    for mask in sorted(range(1, 1 << n), key=lambda m: bin(m).count("1")):
        if mask in best:
            continue
        table: dict[int, _Expr] = {}
        sub = (mask - 1) & mask
        while sub:
            rest = mask ^ sub
            for a in best[sub].values():
                for b in best[rest].values():
                    for op in ("+", "-", "*"):
                        e = _combine(a, b, op)
                        old = table.get(e.value)
                        if old is None or e.key() < old.key():
                            table[e.value] = e
            sub = (sub - 1) & mask
        best[mask] = table
    out: dict[int, _Expr] = {}
    for table in best.values():
        for v, e in table.items():
            if v not in out or e.key() < out[v].key():
                out[v] = e
    return {v: e.text for v, e in out.items()}


def solve_countdown(numbers: Iterable[int], target: int) -> str | None:
    """The canonical solution (fewest numbers, then shortest, then lexicographic), or None if unreachable."""
    return _solutions(tuple(sorted(numbers))).get(target)


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
            raise ValueError(f"need 2 <= min_numbers <= max_numbers <= 5, got {self.min_numbers}, {self.max_numbers}")
        if not 1 <= self.max_number <= 99:
            raise ValueError(f"max_number must be in 1..99, got {self.max_number}")
        if not 0 <= self.min_target <= self.max_target:
            raise ValueError(f"need 0 <= min_target <= max_target, got {self.min_target}, {self.max_target}")

    @property
    def max_new_tokens(self) -> int:
        # Longest canonical solution with max_numbers two-digit numbers: digits + operators + a few parentheses.
        return 2 * self.max_numbers + (self.max_numbers - 1) + 6 + 1

    def sample(self, rng: random.Random, n: int) -> list[Problem]:
        out = []
        while len(out) < n:
            k = rng.randint(self.min_numbers, self.max_numbers)
            numbers = tuple(rng.randint(1, self.max_number) for _ in range(k))
            sols = _solutions(tuple(sorted(numbers)))
            targets = sorted(
                v for v in sols if self.min_target <= v <= self.max_target and v not in numbers
            )
            if not targets:  # rare (e.g. all ones): draw again, still a function of rng only
                continue
            target = rng.choice(targets)
            prompt = ",".join(map(str, numbers)) + f" {target}="
            out.append(Problem(prompt=prompt, answer=sols[target], numbers=numbers, target=target))
        return out

    def reward(self, problem: Problem, completion: str) -> float:
        try:
            value, used = evaluate_expression(completion.strip())
        except ParseError:
            return 0.0
        return float(value == problem.target and uses_at_most_once(used, problem.numbers))

    def sft_completion(self, problem: Problem) -> str:
        return problem.answer


# --------------------------------------------------------------------------------------------------------------
# registry and fixed problem sets

TASKS = {"addition": AdditionTask, "countdown": CountdownTask}


def make_task(name: str, **kwargs) -> Task:
    """Build a task by name (``"addition"`` or ``"countdown"``) with its dataclass fields as keywords."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {sorted(TASKS)}")
    return TASKS[name](**kwargs)


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
    return _eval_prompts_cached(task)


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


__all__ = [
    "EVAL_POOL",
    "TASKS",
    "AdditionTask",
    "CountdownTask",
    "ParseError",
    "Problem",
    "ProblemStream",
    "Task",
    "eval_problems",
    "evaluate_expression",
    "make_task",
    "problem_stream",
    "solve_countdown",
    "train_problems",
    "uses_at_most_once",
]
