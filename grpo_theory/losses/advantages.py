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


def _pow2_floor(x: Tensor) -> Tensor:
    """``2**floor(log2(x))`` for ``x > 0`` (1 where ``x == 0``), without gradient.

    Dividing by a power of two is exact in binary floating point, so rescaling by it changes no
    rounding: results are bitwise those of the unscaled formula wherever that one neither
    overflows nor underflows.
    """
    with torch.no_grad():
        _, e = torch.frexp(x)  # x = m * 2**e with m in [0.5, 1)
        p2 = torch.pow(torch.tensor(2.0, dtype=x.dtype), (e - 1).to(x.dtype))
        return torch.where(x > 0, p2, torch.ones_like(x))


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16/bfloat16 are computed in float32 (and rounded back once); float32/64 in themselves."""
    return torch.promote_types(dtype, torch.float32)


def _group_deviations(
    rewards: Tensor, valid: Tensor, count: Tensor, tied: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Deviations from the group mean in a per-group power-of-two unit, with rounding residue zeroed.

    Returns ``(dev, unit, dev_all)``, all in the dtype of ``rewards``: ``dev * unit`` is
    :math:`r_i - \bar r` (``[P, G]``, exactly 0 at invalid, tied and zeroed entries), ``unit``
    (``[P, 1]``) a power of two with the group's largest shifted reward in ``[unit, 2 unit)``, and
    ``dev_all`` the deviations of every valid entry before zeroing (for the variance).

    Two exact power-of-two rescalings keep every intermediate near 1: by the group's largest
    :math:`|r|` (so the shift by the group minimum cannot overflow), then by the largest shifted
    reward (so squaring cannot overflow or underflow, e.g. a gap of 1e30 or 1e-30 in float32).
    A deviation with :math:`|r_i - \bar r| \le (n+2)\,\epsilon\,(\max_j r_j - \min_j r_j)`
    (:math:`n` valid rewards, :math:`\epsilon` the machine epsilon of the computation dtype) is
    below the rounding error of the computed mean and is set to exactly 0: the middle reward of
    ``[0.1, 0.2, 0.3]`` gets advantage 0, not 1.7e-16.
    """
    zero = torch.zeros_like(rewards)
    s1 = _pow2_floor(torch.where(valid, rewards.abs(), zero).amax(dim=-1, keepdim=True))
    r1 = rewards / s1
    lo = torch.where(valid, r1, torch.inf).amin(dim=-1, keepdim=True)
    lo = torch.where(count > 0, lo, torch.zeros_like(lo))
    # Shifting by the group minimum first makes near-tied differences exact (Sterbenz); the shift
    # cancels in r - mean, for the value and for the gradient.
    shifted = torch.where(valid, r1 - lo, zero)
    zmax = shifted.amax(dim=-1, keepdim=True)
    s2 = _pow2_floor(zmax)
    z = shifted / s2
    mean = z.sum(dim=-1, keepdim=True) / count.clamp(min=1)
    dev_all = torch.where(valid, z - mean, zero)
    tol = (count + 2).to(rewards.dtype) * torch.finfo(rewards.dtype).eps * (zmax / s2)
    mixed = valid & ~tied
    keep = mixed & (dev_all.abs() > tol)
    # A zeroed entry keeps the derivative of the formula (value x - x = 0 exactly), so gradients in
    # the rewards stay those of the smooth function.
    residue = torch.where(mixed, dev_all - dev_all.detach(), zero)
    return torch.where(keep, dev_all, residue), s1 * s2, dev_all


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
    rather than computed so that rounding in the mean cannot leave a tiny residue. Likewise a
    reward within rounding of its group mean, :math:`|r_{p,i} - \bar r_p| \le (n+2)\,\epsilon\,
    (\max_j r_{p,j} - \min_j r_{p,j})` (:math:`n` valid rewards, :math:`\epsilon` the machine epsilon
    of the computation dtype), gets exactly 0 (e.g. the middle of ``[0.1, 0.2, 0.3]``), so clip
    metrics that test the sign of :math:`A` do not count it.

    Numerics: each group is rescaled by exact powers of two (its largest :math:`|r|`, then its
    largest shifted reward) before anything is squared, so a mixed pair gives exactly
    :math:`\pm1` (population std, ``eps=0``) for any gap the dtype can hold (1e-30 to 1e30 in
    float32/bfloat16, the whole float16 range), with no overflow, underflow or NaN. float16 and
    bfloat16 are computed in float32 and rounded once; float32/float64 results are bitwise those
    of the unscaled formula wherever that formula neither overflows nor underflows.

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

    out_dtype = rewards.dtype
    r = rewards.to(_work_dtype(out_dtype))
    valid, count, tied = _valid_and_tied(r, nan_policy)
    dev, unit, dev_all = _group_deviations(r, valid, count, tied)
    if scale == "none":
        return (dev * unit).to(out_dtype)

    if scale == "group":
        denom_n = (count - std_ddof).clamp(min=1)
        var = (dev_all * dev_all).sum(dim=-1, keepdim=True) / denom_n
        # Tied groups have var 0; give them a unit std so neither value nor gradient is NaN.
        var = torch.where(tied, torch.ones_like(var), var)
        # (dev * unit) / (std * unit + eps), written so that nothing is squared in reward units.
        # Tensor / tensor: a Python scalar over a subnormal unit goes through 1/unit, which overflows.
        eps_u = torch.full_like(unit, eps) / unit if eps > 0 else torch.zeros_like(unit)
        return (dev / (var.sqrt() + eps_u)).to(out_dtype)

    # batch: one std over every valid reward, computed the same overflow-safe way.
    flat_valid = valid.reshape(1, -1)
    n = flat_valid.sum(dim=-1, keepdim=True)
    _, bunit, bdev = _group_deviations(r.reshape(1, -1), flat_valid, n, torch.zeros_like(n, dtype=torch.bool))
    bvar = (bdev * bdev).sum() / (n.squeeze() - std_ddof).clamp(min=1)
    bvar = torch.where(bvar > 0, bvar, torch.ones_like(bvar))
    return (dev * unit / (bvar.sqrt() * bunit.squeeze() + eps)).to(out_dtype)


def rloo_advantages(rewards: Tensor) -> Tensor:
    r"""REINFORCE leave-one-out advantages: each reward minus the mean of the other G - 1.

    .. math::

        A_{p,i} = r_{p,i} - \frac{1}{G-1}\sum_{j\ne i} r_{p,j} = \frac{G}{G-1}(r_{p,i} - \bar r_p).

    So RLOO is :math:`G/(G-1)` times Dr. GRPO; at G = 2 it is :math:`r_i - r_j`. Tied groups give 0,
    and so does a reward within rounding of its group mean (the rule of :func:`group_advantages`).

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
    valid, count, tied = _valid_and_tied(rewards, "raise")
    loo_mean = (rewards.sum(dim=-1, keepdim=True) - rewards) / (g - 1)
    # r_i - loo_mean = G/(G-1) (r_i - mean): zero exactly where the centered deviation is (see
    # group_advantages), so a reward at its group mean gets 0, not a rounding residue.
    work = rewards.to(_work_dtype(rewards.dtype))
    dev, _, _ = _group_deviations(work, valid, count, tied)
    a = rewards - loo_mean
    a = torch.where(dev == 0, a - a.detach(), a)  # value 0, derivative of the formula
    return torch.where(tied, torch.zeros_like(rewards), a)
