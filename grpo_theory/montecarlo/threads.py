"""Run Monte Carlo work on one intra-op thread.

The engine is many small tensor operations. On a shared machine with few cores, a second intra-op
thread mostly waits for the first and can make a run an order of magnitude slower, so the checks
and sweeps pin torch to one thread while they run (the previous setting is restored).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import torch

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Context manager: ``torch.set_num_threads(1)`` inside, the previous value restored on exit."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def single_threaded(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`one_thread`."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_thread():
            return fn(*args, **kwargs)

    return run
