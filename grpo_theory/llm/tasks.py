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

import itertools
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

# Operator -> precedence; a bare number has precedence 3. Parentheses depend only on the precedences.
_OPS = (("+", 1), ("-", 1), ("*", 2))
_Table = dict[tuple[int, int], tuple[int, str]]  # (value, precedence) -> (length, text) of the best expression


@lru_cache(maxsize=1 << 16)
def _exact(ms: tuple[int, ...]) -> _Table:
    """Best expression per (value, top precedence) that uses every number of the sorted multiset ``ms`` once.

    "Best" is shortest, then lexicographically first. Keeping one entry per precedence (not per value) makes
    this exact: whether a sub-expression needs parentheses depends only on its precedence, so the best
    composite is built from best parts. Cached on the multiset, so sub-multisets are shared across problems.
    """
    if len(ms) == 1:
        return {(ms[0], 3): (len(str(ms[0])), str(ms[0]))}
    table: _Table = {}
    n = len(ms)
    seen = set()
    for r in range(1, n):
        for idx in itertools.combinations(range(n), r):
            left = tuple(ms[i] for i in idx)
            right = tuple(ms[i] for i in range(n) if i not in idx)
            if (left, right) in seen:  # repeated numbers give the same split more than once
                continue
            seen.add((left, right))
            for (va, pa), (la, ta) in _exact(left).items():
                for (vb, pb), (lb, tb) in _exact(right).items():
                    for op, p in _OPS:
                        # The right operand of "-" needs parentheses around "+"/"-" (a-(b+c) != a-b+c);
                        # "+" and "*" do not at equal precedence because they are associative.
                        lpar, rpar = pa < p, pb < p or (op == "-" and pb == p)
                        length = la + lb + 1 + 2 * (lpar + rpar)
                        v = va + vb if op == "+" else va - vb if op == "-" else va * vb
                        old = table.get((v, p))
                        if old is not None and length > old[0]:
                            continue  # cheap reject before building the string
                        text = (f"({ta})" if lpar else ta) + op + (f"({tb})" if rpar else tb)
                        if old is None or (length, text) < old:
                            table[(v, p)] = (length, text)
    return table


@lru_cache(maxsize=1 << 16)
def _values(ms: tuple[int, ...]) -> frozenset[int]:
    """Every value of an expression that uses each number of the sorted multiset ``ms`` exactly once."""
    if len(ms) == 1:
        return frozenset(ms)
    out: set[int] = set()
    for left, right in _splits(ms):
        for a in _values(left):
            for b in _values(right):
                out.update((a + b, a - b, a * b))
    return frozenset(out)


@lru_cache(maxsize=1 << 16)
def _splits(ms: tuple[int, ...]) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """The distinct ordered splits of a sorted multiset into two non-empty sorted parts."""
    n = len(ms)
    out: dict[tuple[tuple[int, ...], tuple[int, ...]], None] = {}
    for r in range(1, n):
        for idx in itertools.combinations(range(n), r):
            pair = (tuple(ms[i] for i in idx), tuple(ms[i] for i in range(n) if i not in idx))
            out[pair] = None  # a dict keeps the first-seen order and drops repeats (repeated numbers)
    return tuple(out)


def _sub_multisets(ms: tuple[int, ...], r: int) -> list[tuple[int, ...]]:
    return sorted(set(itertools.combinations(ms, r)))


def reachable(numbers: Iterable[int]) -> frozenset[int]:
    """Values reachable from a sub-multiset (at least one number) of ``numbers``."""
    ms = tuple(sorted(numbers))
    return frozenset().union(*(_values(sub) for r in range(1, len(ms) + 1) for sub in _sub_multisets(ms, r)))


def all_solutions(numbers: Iterable[int]) -> dict[int, str]:
    """value -> canonical expression for every reachable value, by full tabulation (the slow reference).

    Canonical = fewest numbers, then shortest, then lexicographically first.
    """
    ms = tuple(sorted(numbers))
    best: dict[int, tuple[int, int, str]] = {}
    for r in range(1, len(ms) + 1):
        for sub in _sub_multisets(ms, r):
            for (v, _), (length, text) in _exact(sub).items():
                key = (r, length, text)
                if v not in best or key < best[v]:
                    best[v] = key
    return {v: key[2] for v, key in best.items()}


def _best_top(ms: tuple[int, ...], target: int) -> tuple[int, str] | None:
    """``min`` over precedences of ``_exact(ms)[target, p]``, without tabulating the other values."""
    best: tuple[int, str] | None = None
    for left, right in _splits(ms):
        for (va, pa), (_, ta) in _exact(left).items():
            for (vb, pb), (_, tb) in _exact(right).items():
                for op, p in _OPS:
                    if (va + vb if op == "+" else va - vb if op == "-" else va * vb) != target:
                        continue
                    lpar, rpar = pa < p, pb < p or (op == "-" and pb == p)
                    text = (f"({ta})" if lpar else ta) + op + (f"({tb})" if rpar else tb)
                    if best is None or (len(text), text) < best:
                        best = (len(text), text)
    return best


def solve_countdown(numbers: Iterable[int], target: int) -> str | None:
    """The canonical solution (fewest numbers, then shortest, then lexicographic), or None if unreachable.

    Same answer as ``all_solutions(numbers).get(target)``, faster: sub-multisets are tried by size, tables of
    fewer numbers are cached and shared across problems, and the full set is searched for ``target`` only.
    """
    ms = tuple(sorted(numbers))
    if not ms:
        raise ValueError("no numbers")
    for r in range(1, len(ms) + 1):
        found: list[tuple[int, str]] = []
        for sub in _sub_multisets(ms, r):
            if target not in _values(sub):
                continue
            if r == 1:
                found.append((len(str(target)), str(target)))
            elif r < len(ms):
                found.extend(lt for (v, _), lt in _exact(sub).items() if v == target)
            else:
                top = _best_top(sub, target)
                if top is not None:
                    found.append(top)
        if found:
            return min(found)[1]
    return None


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


# --------------------------------------------------------------------------------------------------------------
# registry and fixed problem sets

TASKS = {"addition": AdditionTask, "countdown": CountdownTask}


def make_task(name: str, **kwargs) -> Task:
    """Build a task by name (``"addition"``, ``"addition_partial"``, ``"countdown"``, or a chat-model question
    task of :mod:`grpo_theory.llm.tasks_smollm`: ``"compare"``, ``"add_question"``) with its dataclass fields
    as keywords."""
    # imported here: that module imports Problem from this one
    from grpo_theory.llm.tasks_smollm import CHAT_TASKS

    for k, v in CHAT_TASKS.items():
        TASKS.setdefault(k, v)  # type: ignore[arg-type]
    from grpo_theory.llm.tasks_partial import PartialAdditionTask  # imported here: it subclasses AdditionTask

    TASKS.setdefault("addition_partial", PartialAdditionTask)  # type: ignore[arg-type]
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


__all__ = [
    "EVAL_POOL",
    "TASKS",
    "AdditionTask",
    "CountdownTask",
    "ParseError",
    "Problem",
    "ProblemStream",
    "Task",
    "all_solutions",
    "eval_problems",
    "evaluate_expression",
    "make_task",
    "problem_stream",
    "reachable",
    "solve_countdown",
    "train_problems",
    "uses_at_most_once",
]
