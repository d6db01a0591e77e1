"""The fixed toy policies every check runs on (built once, from fixed seeds).

The policy seeds are separate from the Monte Carlo seed of a check, so that changing the number of
samples or the sampling seed never changes the policy being tested.
"""

from __future__ import annotations

from functools import cache

import torch

from grpo_theory.montecarlo.bandit import bandit_with_success_probs
from grpo_theory.montecarlo.tabular import random_tabular_policy
from grpo_theory.montecarlo.toy_policy import ToyPolicy

POLICY_SEED = 977

#: Success probabilities of the check bandit's prompts: easy, hard and balanced.
BANDIT_P = (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)


def generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``."""
    return torch.Generator().manual_seed(int(seed))


@cache
def check_bandit() -> ToyPolicy:
    """6 prompts with p in :data:`BANDIT_P`, K = 6 responses (3 correct), per-prompt parameters."""
    p = torch.tensor(BANDIT_P, dtype=torch.float64)
    return bandit_with_success_probs(p, 6, generator(POLICY_SEED), num_correct=3)


@cache
def check_tabular() -> ToyPolicy:
    """8 prompts sharing the parameters of a V = 3, L = 4 tabular policy (31 responses, D = 45)."""
    return random_tabular_policy(8, generator(POLICY_SEED + 1), offset_scale=0.7, theta_scale=0.3)


@cache
def check_directions(num_prompts: int, dim: int, num: int = 3) -> torch.Tensor:
    """``[Q, num, D]`` fixed random unit directions used to project vector estimates."""
    v = torch.randn(num_prompts, num, dim, generator=generator(POLICY_SEED + 2), dtype=torch.float64)
    return v / v.norm(dim=-1, keepdim=True)


def fixture_policy(name: str) -> ToyPolicy:
    """``"bandit"`` -> :func:`check_bandit`, ``"tabular"`` -> :func:`check_tabular`."""
    if name == "bandit":
        return check_bandit()
    if name == "tabular":
        return check_tabular()
    raise ValueError(f"name must be 'bandit' or 'tabular', got {name!r}")


def bernoulli(p: torch.Tensor | float, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Float64 Bernoulli(p) draws of ``shape`` (``p`` broadcast against ``shape``)."""
    return (torch.rand(shape, generator=gen, dtype=torch.float64) < p).to(torch.float64)
