"""Countdown's brute-force solver: reachable values and the canonical solution of a problem.

An expression uses each given number at most once with + - * and parentheses. The canonical solution of
a target is the one with the fewest numbers, then the shortest text, then the lexicographically first.
``all_solutions`` tabulates every value (the slow reference); ``solve_countdown`` gives the same answer for
one target faster. Tables are cached per sorted multiset, so sub-multisets are shared across problems.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from functools import lru_cache

# Operator -> precedence; a bare number has precedence 3. Parentheses depend only on the precedences.
_OPS = (("+", 1), ("-", 1), ("*", 2))
# (value, precedence) -> (length, text) of the best expression
_Table = dict[tuple[int, int], tuple[int, str]]


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


__all__ = ["all_solutions", "reachable", "solve_countdown"]
