r"""Group-relative advantages: GRPO (std-normalized), Dr. GRPO (centered) and RLOO.

All functions take rewards of shape ``[P, G]`` (P prompts, G rollouts per prompt) and return
advantages of the same shape, one scalar per rollout (a trainer broadcasts it over tokens).
"""

from __future__ import annotations

from typing import Any

import torch

from grpo_theory.losses._validate import check_choice, check_nonneg, check_rewards

Tensor = torch.Tensor

SCALES = ("group", "batch", "none")
NAN_POLICIES = ("raise", "mask")

#: Named conventions for :func:`group_advantages`. Each value is a dict of keyword arguments.
#: For rewards ``[1, 0]`` they give: paper ±1, trl ±0.707007, verl ±0.707106, openrlhf ±0.707107,
#: open_instruct ±1.0 (to 1e-8), nano_aha ±0.9998, dr_grpo ±0.5.
ADVANTAGE_PRESETS: dict[str, dict[str, Any]] = {
    # The paper's proofs: population std, no eps (G=2 mixed pair -> ±1).
    "paper": {"scale": "group", "std_ddof": 0, "eps": 0.0},
    # TRL GRPOTrainer: nanstd (Bessel) + 1e-4 outside the sqrt.
    "trl": {"scale": "group", "std_ddof": 1, "eps": 1e-4},
    # verl compute_grpo_outcome_advantage: torch.std (Bessel) + 1e-6.
    "verl": {"scale": "group", "std_ddof": 1, "eps": 1e-6},
    # OpenRLHF group_norm: torch.std (Bessel) + 1e-9.
    "openrlhf": {"scale": "group", "std_ddof": 1, "eps": 1e-9},
    # open-instruct "standard": numpy std (population) + 1e-8.
    "open_instruct": {"scale": "group", "std_ddof": 0, "eps": 1e-8},
    # nano-aha-moment / GRPO-Zero: numpy std (population) + 1e-4.
    "nano_aha": {"scale": "group", "std_ddof": 0, "eps": 1e-4},
    # Dr. GRPO: centered rewards, no std division.
    "dr_grpo": {"scale": "none", "std_ddof": 0, "eps": 0.0},
}


def _valid_and_tied(rewards: Tensor, nan_policy: str) -> tuple[Tensor, Tensor, Tensor]:
    """Returns (valid [P,G] bool, count [P,1], tied [P,1] bool) for the reward groups."""
    valid = ~torch.isnan(rewards) if nan_policy == "mask" else torch.ones_like(rewards, dtype=torch.bool)
    count = valid.sum(dim=-1, keepdim=True)
    hi = torch.where(valid, rewards, -torch.inf).amax(dim=-1, keepdim=True)
    lo = torch.where(valid, rewards, torch.inf).amin(dim=-1, keepdim=True)
    # A group with <= 1 valid reward has nothing to compare with: treat it as tied.
    tied = (hi == lo) | (count <= 1)
    return valid, count, tied


def group_advantages(
    rewards: Tensor,
    *,
    scale: str = "group",
    std_ddof: int = 0,
    eps: float = 0.0,
    nan_policy: str = "raise",
) -> Tensor:
    r"""GRPO advantages: rewards centered on their group mean, optionally divided by a std.

    For prompt :math:`p` with rewards :math:`r_{p,1..G}`,

    .. math::

        A_{p,i} = \frac{r_{p,i} - \bar r_p}{s + \varepsilon},\qquad
        \bar r_p = \tfrac1G \textstyle\sum_j r_{p,j},

    where :math:`s` is the group std :math:`\sqrt{\sum_j (r_{p,j}-\bar r_p)^2/(G-\mathrm{ddof})}`
    (``scale="group"``), one std over all :math:`P\cdot G` rewards around the batch mean
    (``scale="batch"``), or :math:`s = 1, \varepsilon = 0` (``scale="none"``: Dr. GRPO,
    :math:`A = r - \bar r`). ``eps`` is added to the std, outside the square root.

    Tied groups (all rewards equal) get exactly 0, never NaN, also with ``eps=0``; this is forced
    rather than computed so that rounding in the mean cannot leave a tiny residue.

    With G = 2 and ``std_ddof=0, eps=0``, :math:`A_i = \mathrm{sign}(r_i - r_j)` for any real rewards.

    Args:
        rewards: ``[P, G]`` rewards, ``G >= 2``. Bool/int are promoted to the default float dtype.
        scale: ``"group"`` (default), ``"batch"`` or ``"none"``.
        std_ddof: 0 (population std, the paper's proofs; default) or 1 (Bessel: TRL, verl, OpenRLHF).
        eps: constant added to the std, ``>= 0`` (default 0). Ignored for ``scale="none"``.
        nan_policy: ``"raise"`` (default): non-finite rewards raise ``ValueError``. ``"mask"``: NaN
            rewards are treated as missing (left out of mean and std) and get advantage 0; +-inf
            still raises.

    Returns:
        ``[P, G]`` advantages, same dtype as ``rewards``.

    Examples:
        >>> import torch
        >>> group_advantages(torch.tensor([[1.0, 0.0], [3.0, 3.0]]))
        tensor([[ 1., -1.],
                [ 0.,  0.]])
        >>> group_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), scale="none")
        tensor([[ 0.7500, -0.2500, -0.2500, -0.2500]])
        >>> group_advantages(torch.tensor([[2.0, 0.0]]), std_ddof=1)  # (2-1)/sqrt(2)
        tensor([[ 0.7071, -0.7071]])
    """
    check_choice(scale, SCALES, "scale")
    check_choice(nan_policy, NAN_POLICIES, "nan_policy")
    if std_ddof not in (0, 1):
        raise ValueError(f"std_ddof must be 0 (population) or 1 (Bessel), got {std_ddof!r}")
    eps = check_nonneg(eps, "eps")
    rewards = check_rewards(rewards, allow_nan=nan_policy == "mask")

    valid, count, tied = _valid_and_tied(rewards, nan_policy)
    # Shift each group by its smallest reward first: for near-tied groups (1 vs 1 + 1e-5) the
    # differences are then exact (Sterbenz), so centering does not amplify rounding. The shift
    # cancels in r - mean, for the value and for the gradient.
    lo = torch.where(valid, rewards, torch.inf).amin(dim=-1, keepdim=True)
    lo = torch.where(count > 0, lo, torch.zeros_like(lo))
    shifted = torch.where(valid, rewards - lo, torch.zeros_like(rewards))
    mean = shifted.sum(dim=-1, keepdim=True) / count.clamp(min=1)
    centered = torch.where(valid & ~tied, shifted - mean, torch.zeros_like(rewards))
    if scale == "none":
        return centered

    if scale == "group":
        dev = torch.where(valid, shifted - mean, torch.zeros_like(rewards))
        denom_n = (count - std_ddof).clamp(min=1)
        var = (dev * dev).sum(dim=-1, keepdim=True) / denom_n
        # Tied groups have var 0; give them a unit std so neither value nor gradient is NaN.
        var = torch.where(tied, torch.ones_like(var), var)
    else:  # batch
        n = valid.sum()
        r0 = torch.where(valid, rewards, torch.zeros_like(rewards))
        bmean = r0.sum() / n.clamp(min=1)
        bdev = torch.where(valid, rewards - bmean, torch.zeros_like(rewards))
        var = (bdev * bdev).sum() / (n - std_ddof).clamp(min=1)
        var = torch.where(var > 0, var, torch.ones_like(var))
    std = var.sqrt()
    return centered / (std + eps)


def rloo_advantages(rewards: Tensor) -> Tensor:
    r"""REINFORCE leave-one-out advantages: each reward minus the mean of the other G - 1.

    .. math::

        A_{p,i} = r_{p,i} - \frac{1}{G-1}\sum_{j\ne i} r_{p,j} = \frac{G}{G-1}(r_{p,i} - \bar r_p).

    So RLOO is :math:`G/(G-1)` times Dr. GRPO; at G = 2 it is :math:`r_i - r_j`. Tied groups give 0.

    Args:
        rewards: ``[P, G]`` finite rewards, ``G >= 2``.

    Returns:
        ``[P, G]`` advantages.

    Examples:
        >>> import torch
        >>> rloo_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
        tensor([[ 1.0000, -0.3333, -0.3333, -0.3333]])
        >>> rloo_advantages(torch.tensor([[0.5, 2.0]]))
        tensor([[-1.5000,  1.5000]])
    """
    rewards = check_rewards(rewards)
    g = rewards.shape[1]
    _, _, tied = _valid_and_tied(rewards, "raise")
    loo_mean = (rewards.sum(dim=-1, keepdim=True) - rewards) / (g - 1)
    return torch.where(tied, torch.zeros_like(rewards), rewards - loo_mean)
