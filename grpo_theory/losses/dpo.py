r"""DPO losses on sequence log-probs, pairing of 2-rollout groups, and online DPO as a trainer loss."""

from __future__ import annotations

from typing import NamedTuple

import torch

from grpo_theory.losses._validate import (
    check_choice,
    check_mask,
    check_positive,
    check_rewards,
    check_same_shape,
    check_token_tensors,
)
from grpo_theory.losses.grpo import LossOutput

Tensor = torch.Tensor

DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge")


def sequence_logps(logp: Tensor, mask: Tensor, *, length_normalize: bool = False) -> Tensor:
    r"""Sequence log-probs from per-token ones: :math:`\sum_t m_t \log\pi_t` (or its mean over valid tokens).

    ``length_normalize=True`` gives :math:`\frac1{n}\sum_t m_t\log\pi_t` (IPO / SimPO-style
    length-normalized scores); a fully masked row then gives 0.

    Args:
        logp: ``[..., T]`` per-token log-probs.
        mask: same shape, 0/1.
        length_normalize: divide by the number of valid tokens (default False: sum).

    Returns:
        ``[...]`` (the token dim removed).

    Examples:
        >>> import torch
        >>> lp = torch.tensor([[-1.0, -2.0, -9.0]]); m = torch.tensor([[1, 1, 0]])
        >>> sequence_logps(lp, m), sequence_logps(lp, m, length_normalize=True)
        (tensor([-3.]), tensor([-1.5000]))
    """
    if not isinstance(logp, torch.Tensor) or not logp.is_floating_point() or logp.ndim < 1:
        raise ValueError("logp must be a floating torch.Tensor of shape [..., T]")
    m = check_mask(mask, logp.shape)
    s = torch.where(m, logp, torch.zeros_like(logp)).sum(dim=-1)
    if length_normalize:
        s = s / m.sum(dim=-1).clamp(min=1).to(s.dtype)
    return s


def _softplus(x: Tensor) -> Tensor:
    """log(1 + e^x), with its gradient sigma(x); exact to float64 rounding for any x.

    Above ``threshold`` softplus returns x: at 40 the dropped term log1p(e^-40) = 4e-18 is below float64
    resolution, and e^40 still fits in float32.
    """
    return torch.nn.functional.softplus(x, threshold=40.0)


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    *,
    beta: float,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""Per-pair DPO losses.

    With :math:`u = (\log\pi_\theta(y_w) - \log\pi_{\rm ref}(y_w)) - (\log\pi_\theta(y_l) - \log\pi_{\rm
    ref}(y_l))`:

    * ``"sigmoid"``: :math:`-(1-\lambda)\log\sigma(\beta u) - \lambda\log\sigma(-\beta u)`
      (:math:`\lambda` = ``label_smoothing``; 0 is standard DPO, > 0 is conservative DPO),
    * ``"ipo"``: :math:`(u - \tfrac1{2\beta})^2`,
    * ``"hinge"``: :math:`\max(0, 1 - \beta u)`.

    Its gradient (sigmoid, :math:`\lambda=0`) is
    :math:`-\beta\,\sigma(-\beta u)\,[\nabla\log\pi_\theta(y_w) - \nabla\log\pi_\theta(y_l)]`.
    Inputs are sequence log-probs (sum over tokens; use :func:`sequence_logps`, with
    ``length_normalize=True`` for length-normalized scores as TRL's IPO does).

    Args:
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps: ``[N]`` each.
        beta: inverse temperature, ``> 0``.
        loss_type: ``"sigmoid"`` (default), ``"ipo"`` or ``"hinge"``.
        label_smoothing: in ``[0, 0.5)``; only for ``"sigmoid"``.

    Returns:
        ``[N]`` losses.

    Examples:
        >>> import torch
        >>> z = torch.zeros(1)
        >>> dpo_loss(z, z, z, z, beta=0.1)  # log 2 at u = 0
        tensor([0.6931])
        >>> dpo_loss(torch.tensor([1.0]), z, z, z, beta=0.5, loss_type="hinge")  # 1 - 0.5
        tensor([0.5000])
        >>> dpo_loss(torch.tensor([1.0]), z, z, z, beta=0.25, loss_type="ipo")  # (1 - 2)^2
        tensor([1.])
    """
    check_same_shape(
        [
            ("policy_chosen_logps", policy_chosen_logps),
            ("policy_rejected_logps", policy_rejected_logps),
            ("ref_chosen_logps", ref_chosen_logps),
            ("ref_rejected_logps", ref_rejected_logps),
        ],
        ndim=1,
    )
    beta = check_positive(beta, "beta")
    check_choice(loss_type, DPO_LOSS_TYPES, "loss_type")
    if not (0.0 <= label_smoothing < 0.5):
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    if label_smoothing > 0 and loss_type != "sigmoid":
        raise ValueError(f"label_smoothing is only defined for loss_type='sigmoid', got {loss_type!r}")
    u = (policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps)
    if loss_type == "sigmoid":
        # -log sigma(z) = softplus(-z). The default softplus threshold (20) drops ~exp(-20) = 2e-9 in
        # float64, hence _softplus; float64 logsigmoid would be exact but is ~1000x slower on CPU.
        return (1.0 - label_smoothing) * _softplus(-beta * u) + label_smoothing * _softplus(beta * u)
    if loss_type == "ipo":
        return (u - 1.0 / (2.0 * beta)) ** 2
    return torch.relu(1.0 - beta * u)


class PairedGroups(NamedTuple):
    """Result of :func:`pairs_from_groups`.

    Attributes:
        valid: ``[P]`` bool, False for tied pairs (masked, not broken).
        chosen: one tensor per input value, ``[P, ...]``: the higher-reward rollout.
        rejected: the same for the lower-reward rollout (for ties: rollout 1 and 0, to be masked).
    """

    valid: Tensor
    chosen: tuple[Tensor, ...]
    rejected: tuple[Tensor, ...]


def pairs_from_groups(rewards: Tensor, *values: Tensor) -> PairedGroups:
    r"""Turns 2-rollout groups into (chosen, rejected) pairs; tied pairs are flagged invalid.

    Rollout :math:`i` is chosen when :math:`r_i > r_j`. A tie (:math:`r_0 = r_1`) is *not* broken:
    ``valid`` is False there (2-GRPO gives such a pair zero advantage, whereas e.g. a "first >=
    second" rule would train on it). Each value of shape ``[P, 2, ...]`` is split into
    ``[P, ...]`` chosen and rejected parts.

    Args:
        rewards: ``[P, 2]`` finite rewards.
        *values: tensors of shape ``[P, 2, ...]`` (e.g. sequence log-probs ``[P, 2]`` or per-token ``[P, 2,
        T]``).

    Returns:
        :class:`PairedGroups`.

    Examples:
        >>> import torch
        >>> r = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
        >>> pg = pairs_from_groups(r, torch.tensor([[10.0, 20.0], [30.0, 40.0]]))
        >>> pg.valid, pg.chosen[0], pg.rejected[0]
        (tensor([ True, False]), tensor([20., 40.]), tensor([10., 30.]))
    """
    rewards = check_rewards(rewards)
    if rewards.shape[1] != 2:
        raise ValueError("rewards must have shape [P, 2] (two rollouts per prompt), got "
                         f"{tuple(rewards.shape)}")
    for k, v in enumerate(values):
        if not isinstance(v, torch.Tensor) or v.ndim < 2 or v.shape[:2] != rewards.shape:
            got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ValueError(f"values[{k}] must have shape [P, 2, ...] with [P, 2]={tuple(rewards.shape)}, "
                             f"got {got}")
    valid = rewards[:, 0] != rewards[:, 1]
    # Index of the chosen rollout: 0 if r_0 > r_1, else 1 (ties -> 1, flagged invalid).
    ci = (rewards[:, 1] >= rewards[:, 0]).long()
    ri = 1 - ci
    ar = torch.arange(rewards.shape[0], device=rewards.device)
    chosen = tuple(v[ar, ci] for v in values)
    rejected = tuple(v[ar, ri] for v in values)
    return PairedGroups(valid=valid, chosen=chosen, rejected=rejected)


def online_dpo_loss(
    logp: Tensor,
    old_logp: Tensor,
    rewards: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None = None,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    length_normalize: bool = False,
) -> LossOutput:
    r"""Online DPO on G = 2 groups, with the trainer signature of the GRPO losses.

    Each group of two rollouts becomes a (chosen, rejected) pair by reward
    (:func:`pairs_from_groups`); tied pairs are dropped. The loss is the mean of :func:`dpo_loss`
    over untied pairs (0, with zero gradient, if every pair is tied). ``ref_logp`` is the DPO
    reference (required). ``old_logp`` is not used (DPO has no importance ratio) but is checked for
    shape so the signature is uniform. Defaults: ``beta=0.1``, sigmoid loss, summed log-probs.

    Args:
        logp, old_logp, ref_logp, mask: ``[P, 2, T]``.
        rewards: ``[P, 2]``.
        beta, loss_type, label_smoothing: see :func:`dpo_loss`.
        length_normalize: see :func:`sequence_logps`.

    Returns:
        :class:`LossOutput` with metrics ``tie_frac``, ``pair_accuracy`` (fraction of untied pairs with
        positive implicit margin), ``margin_mean``, ``num_pairs``.

    Examples:
        >>> import torch
        >>> logp = torch.zeros(1, 2, 1, requires_grad=True)
        >>> out = online_dpo_loss(logp, logp.detach(), torch.tensor([[0.0, 1.0]]), torch.ones(1, 2, 1),
        ...                       ref_logp=torch.zeros(1, 2, 1), beta=0.5)
        >>> out.loss.backward(); logp.grad.flatten()  # -beta * sigma(0) * (+1 chosen, -1 rejected)
        tensor([ 0.2500, -0.2500])
    """
    if ref_logp is None:
        raise ValueError("ref_logp (shape [P, 2, T]) is required for online DPO: it is the reference policy")
    shape, m = check_token_tensors(logp, mask, old_logp=old_logp, ref_logp=ref_logp)
    rewards = check_rewards(rewards)
    if rewards.shape != shape[:2] or shape[1] != 2:
        raise ValueError(f"rewards must have shape [P, 2] matching logp {tuple(shape)}, got "
                         f"{tuple(rewards.shape)}")
    pol = sequence_logps(logp, m, length_normalize=length_normalize)
    ref = sequence_logps(ref_logp, m, length_normalize=length_normalize)
    pg = pairs_from_groups(rewards, pol, ref)
    per_pair = dpo_loss(
        pg.chosen[0], pg.rejected[0], pg.chosen[1], pg.rejected[1],
        beta=beta, loss_type=loss_type, label_smoothing=label_smoothing,
    )
    n = int(pg.valid.sum())
    per_pair = torch.where(pg.valid, per_pair, torch.zeros_like(per_pair))
    loss = per_pair.sum() / n if n else per_pair.sum() * 0.0
    with torch.no_grad():
        margin = beta * ((pg.chosen[0] - pg.chosen[1]) - (pg.rejected[0] - pg.rejected[1]))
        v = pg.valid
        metrics = {
            "loss": float(loss.detach()),
            "tie_frac": float((~v).to(pol.dtype).mean()),
            "zero_signal_frac": float((~v).to(pol.dtype).mean()),
            "num_pairs": float(n),
            "pair_accuracy": float((margin[v] > 0).to(pol.dtype).mean()) if n else 0.0,
            "margin_mean": float(margin[v].mean()) if n else 0.0,
            "reward_mean": float(rewards.mean()),
            "num_tokens": float(m.sum()),
        }
    return LossOutput(loss=loss, metrics=metrics)
