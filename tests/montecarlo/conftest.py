"""Monte Carlo tests run on one intra-op thread (many small tensor ops; see
grpo_theory.montecarlo.threads)."""

from __future__ import annotations

import pytest

from grpo_theory.montecarlo.threads import one_thread


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield
