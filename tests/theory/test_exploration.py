"""R12: rounds of two rollouts with improving policies, and the budget caveat (20 vs 160 rollouts)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grpo_theory.theory import exploration as e


@given(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=0, max_size=6))
def test_improving_rounds_find_a_success_at_least_as_often(p0, incs):
    ps = [p0] + [min(1.0, p0 + x * (1 - p0)) for x in incs]  # every p_i >= p_0
    assert e.success_probability(ps) >= 1 - (1 - p0) ** (2 * len(ps)) - 1e-12


def test_success_probability_by_hand():
    assert e.success_probability([0.5, 0.5]) == pytest.approx(1 - 0.25 * 0.25)
    assert e.success_probability([0.5, 0.0]) < 1 - 0.5**4  # the premise p_i >= p_0 is needed


def test_budget_caveat_numbers():
    assert e.ever_success(0.01, 20) == pytest.approx(0.18209, abs=1e-5)
    assert e.ever_success(0.01, 160) == pytest.approx(0.799723, abs=1e-6)  # 0.99^160 = e^(-1.60805)
    assert e.ever_mixed_group(2, 0.01, 10) == pytest.approx(1 - 0.9802**10)
    assert e.ever_mixed_group(16, 0.01, 10) == pytest.approx(1 - (0.99**16 + 0.01**16) ** 10)


def test_registry_check_r12():
    assert e.check_R12()
