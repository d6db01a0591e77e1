"""R13: the G = 2 normalized advantage is bounded; the Cauchy fact is about the t statistic."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from grpo_theory.losses import group_advantages
from grpo_theory.theory import two_sample as t


def test_registry_check_r13():
    assert t.check_R13()


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=2))
def test_g2_normalized_advantage_in_minus1_0_1_for_any_rewards(r):
    assume(r[0] == r[1] or abs(r[0] - r[1]) > 1e-100)
    adv = group_advantages(torch.tensor([r], dtype=torch.float64))[0].numpy()
    assert np.all(np.isin(np.round(adv, 12), [-1.0, 0.0, 1.0]))


def test_t_statistic_quantiles_are_cauchy():
    # Normal pairs: T = (X̄ − μ)/(s/√2) has t_1 = Cauchy quantiles tan(π(u − 1/2)); |T| > 1 w.p. 1/2
    x = np.random.default_rng(0).normal(size=(200_000, 2))
    s = x.std(axis=1, ddof=1)
    T = x.mean(axis=1) / (s / np.sqrt(2))
    frac = np.mean(np.abs(T) > 1.0)
    assert abs(frac - 0.5) < 4 * np.sqrt(0.25 / len(T))
    frac3 = np.mean(np.abs(T) > 3.0)  # 1 − (2/π) atan 3
    exact3 = 1 - 2 / np.pi * np.arctan(3.0)
    assert abs(frac3 - exact3) < 4 * np.sqrt(exact3 * (1 - exact3) / len(T))
