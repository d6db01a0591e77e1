"""Shared hypothesis strategies for loss tests (importable by every test package).

Shapes and structure (P, G, T, which rows are empty, which groups tie) are drawn by hypothesis so
that it can shrink them; bulk float values come from a torch generator seeded by a drawn integer,
which keeps example generation fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st

F64 = torch.float64

REWARD_KINDS = ("binary", "continuous", "tied", "near_tied", "integer")


@st.composite
def reward_groups(draw, *, P=(1, 4), G=(2, 6), kinds=REWARD_KINDS, dtype=F64) -> torch.Tensor:
    """``[P, G]`` rewards; each row is binary, continuous, tied, near-tied (1 vs 1+1e-5) or small integers."""
    p = draw(st.integers(*P)) if isinstance(P, tuple) else P
    g = draw(st.integers(*G)) if isinstance(G, tuple) else G
    rows = []
    for _ in range(p):
        kind = draw(st.sampled_from(kinds))
        if kind == "binary":
            row = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=g, max_size=g))
        elif kind == "continuous":
            row = draw(st.lists(st.floats(-5, 5, allow_nan=False, width=32), min_size=g, max_size=g))
        elif kind == "tied":
            row = [draw(st.floats(-5, 5, allow_nan=False, width=32))] * g
        elif kind == "near_tied":
            row = draw(st.lists(st.sampled_from([1.0, 1.00001]), min_size=g, max_size=g))
        else:
            row = draw(st.lists(st.integers(-3, 3), min_size=g, max_size=g))
        rows.append([float(x) for x in row])
    return torch.tensor(rows, dtype=dtype)


def binary_rewards(*, P=(1, 4), G=(2, 6)):
    """``[P, G]`` rewards in {0, 1}."""
    return reward_groups(P=P, G=G, kinds=("binary",))


@dataclass
class TokenBatch:
    """One batch of per-token tensors ``[P, G, T]`` and rewards ``[P, G]`` (float64)."""

    logp: torch.Tensor
    old_logp: torch.Tensor
    ref_logp: torch.Tensor
    mask: torch.Tensor
    rewards: torch.Tensor

    @property
    def shape(self) -> torch.Size:
        return self.logp.shape


@st.composite
def token_batches(
    draw,
    *,
    P=(1, 3),
    G=(2, 4),
    T=(1, 5),
    spread=(0.0, 0.6),
    empty_rows=True,
    reward_kinds=REWARD_KINDS,
) -> TokenBatch:
    """A random batch. Log-ratios are ``N(0, spread)``, so ratios fall inside and outside clip bands.

    Masks are left-aligned prefixes of random length (0 allowed if ``empty_rows``), with
    occasional holes, so length-1 rows and fully masked rows occur.
    """
    p = draw(st.integers(*P)) if isinstance(P, tuple) else P
    g = draw(st.integers(*G)) if isinstance(G, tuple) else G
    t = draw(st.integers(*T)) if isinstance(T, tuple) else T
    s = draw(st.floats(*spread)) if isinstance(spread, tuple) else spread
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    old = -torch.rand(p, g, t, generator=gen, dtype=F64) * 3 - 0.05
    logp = old + s * torch.randn(p, g, t, generator=gen, dtype=F64)
    ref = old + 0.3 * torch.randn(p, g, t, generator=gen, dtype=F64)
    lo = 0 if empty_rows else 1
    lengths = draw(st.lists(st.integers(lo, t), min_size=p * g, max_size=p * g))
    mask = (torch.arange(t).expand(p * g, t) < torch.tensor(lengths).unsqueeze(-1)).to(F64).reshape(p, g, t)
    if draw(st.booleans()):  # a hole somewhere: masks need not be prefixes
        hole = (torch.rand(p, g, t, generator=gen) < 0.15).to(F64)
        mask = mask * (1 - hole)
        if not empty_rows:
            mask[..., 0] = 1.0
    rewards = draw(reward_groups(P=p, G=g, kinds=reward_kinds))
    return TokenBatch(logp=logp, old_logp=old, ref_logp=ref, mask=mask, rewards=rewards)


#: Keyword sets for :func:`grpo_loss` that every test should survive.
@st.composite
def grpo_conventions(draw, *, allow_kl=True) -> dict:
    conv = {
        "scale": draw(st.sampled_from(["group", "batch", "none"])),
        "std_ddof": draw(st.sampled_from([0, 1])),
        "eps": draw(st.sampled_from([0.0, 1e-6, 1e-4, 0.1])),
        "clip_low": draw(st.sampled_from([0.0, 0.2, 0.5])),
        "clip_high": draw(st.sampled_from([0.0, 0.2, 0.28, 1.0])),
        "dual_clip": draw(st.sampled_from([None, 1.5, 3.0])),
        "level": draw(st.sampled_from(["token", "sequence"])),
        "log_ratio_clamp": draw(st.sampled_from([None, 0.3, 20.0])),
        "loss_agg_mode": draw(
            st.sampled_from(
                ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm",
                 "token-sum"]
            )
        ),
        "empty_rows": draw(st.sampled_from(["count", "skip"])),
    }
    if allow_kl and draw(st.booleans()):
        conv["beta"] = draw(st.sampled_from([0.01, 0.5]))
        conv["kl_kind"] = draw(st.sampled_from(["k1", "k2", "k3", "k3+"]))
    return conv
