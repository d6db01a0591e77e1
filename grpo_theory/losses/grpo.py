r"""GRPO-family losses composed from advantages, surrogate, KL and aggregation.

Every loss here has the trainer signature
``fn(logp, old_logp, rewards, mask, *, ref_logp=None, **conventions) -> LossOutput``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from grpo_theory.losses._validate import (
    check_choice,
    check_nonneg,
    check_rewards,
    check_rewards_match,
    check_token_tensors,
)
from grpo_theory.losses.advantages import _valid_and_tied, group_advantages, rloo_advantages
from grpo_theory.losses.aggregate import aggregate
from grpo_theory.losses.kl import LOSS_KL_KINDS, loss_kl_term
from grpo_theory.losses.surrogate import policy_surrogate

Tensor = torch.Tensor


@dataclass(frozen=True)
class LossOutput:
    """A scalar loss to minimize and detached metrics (Python floats) for logging.

    Attributes:
        loss: scalar tensor (differentiable w.r.t. ``logp``).
        metrics: e.g. ``clip_frac``, ``zero_signal_frac`` (fraction of groups with all rewards equal),
            ``reward_mean``, ``adv_abs_mean``, ``kl`` (if a reference was given), ``num_tokens``.
    """

    loss: Tensor
    metrics: dict[str, float] = field(default_factory=dict)


def policy_loss_from_advantages(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None = None,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    dual_clip: float | None = None,
    level: str = "token",
    log_ratio_clamp: float | None = None,
    loss_agg_mode: str = "seq-mean-token-mean",
    normalizer: float | None = None,
    horizon: float | None = None,
    empty_rows: str = "count",
    beta: float = 0.0,
    kl_kind: str = "k3",
) -> LossOutput:
    r"""Surrogate + optional KL-in-loss, aggregated: the shared back half of every GRPO-style loss.

    .. math::

        \mathcal L = \mathrm{agg}\big(\ell^{\rm clip}_t + \beta\,\hat k_t\big)

    with :math:`\ell^{\rm clip}` from :func:`policy_surrogate` and :math:`\hat k` from
    :func:`kl_estimate` (only when ``beta > 0``; then ``ref_logp`` is required). Shapes as in
    :func:`grpo_loss`; ``advantages`` is ``[P, G]`` or ``[P, G, T]``. G = 1 is allowed here (the
    advantages are already computed): a trainer's flat micro-batch of B rollouts is ``[B, 1, T]``.
    """
    _, m = check_token_tensors(logp, mask, old_logp=old_logp, ref_logp=ref_logp, min_group=1)
    beta = check_nonneg(beta, "beta")
    check_choice(kl_kind, LOSS_KL_KINDS, "kl_kind")
    if beta > 0 and ref_logp is None:
        raise ValueError("ref_logp (shape [P, G, T]) is required when beta > 0")
    per_token, diag = policy_surrogate(
        logp, old_logp, advantages, m,
        clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip, level=level,
        log_ratio_clamp=log_ratio_clamp,
    )
    return add_kl_and_aggregate(
        per_token, diag, logp, old_logp, m, ref_logp=ref_logp, beta=beta, kl_kind=kl_kind, level=level,
        loss_agg_mode=loss_agg_mode, normalizer=normalizer, horizon=horizon, empty_rows=empty_rows,
    )


def add_kl_and_aggregate(
    per_token: Tensor,
    diag: dict[str, float],
    logp: Tensor,
    old_logp: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None,
    beta: float,
    kl_kind: str,
    level: str,
    loss_agg_mode: str,
    normalizer: float | None,
    horizon: float | None,
    empty_rows: str,
) -> LossOutput:
    r"""``agg(per_token + beta * kl)`` with metrics: the shared tail of every GRPO-family loss.

    ``per_token`` is ``[P, G, T]``; the KL term (``kl_kind`` in ``LOSS_KL_KINDS``, ratio ``level``
    for ``"k3_is"``) is added only when ``beta > 0`` and logged whenever ``ref_logp`` is given.
    """
    m = mask.bool()
    metrics = dict(diag)
    if ref_logp is not None:
        kl = loss_kl_term(logp, ref_logp, old_logp, m, kl_kind=kl_kind, level=level)
        with torch.no_grad():
            n = int(m.sum())
            metrics["kl"] = float(torch.where(m, kl, torch.zeros_like(kl)).sum() / n) if n else 0.0
        if beta > 0:
            per_token = per_token + beta * torch.where(m, kl, torch.zeros_like(kl))
    loss = aggregate(per_token, m, loss_agg_mode, normalizer=normalizer, horizon=horizon,
                     empty_rows=empty_rows)
    metrics["num_tokens"] = float(m.sum())
    metrics["loss"] = float(loss.detach())
    return LossOutput(loss=loss, metrics=metrics)


def _reward_metrics(rewards: Tensor, advantages: Tensor) -> dict[str, float]:
    with torch.no_grad():
        valid, _, tied = _valid_and_tied(rewards, "mask")
        r = torch.where(valid, rewards, torch.zeros_like(rewards))
        return {
            "reward_mean": float(r.sum() / valid.sum().clamp(min=1)),
            "zero_signal_frac": float(tied.to(rewards.dtype).mean()),
            "adv_abs_mean": float(advantages.abs().mean()),
        }


def grpo_loss(
    logp: Tensor,
    old_logp: Tensor,
    rewards: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None = None,
    scale: str = "group",
    std_ddof: int = 0,
    eps: float = 0.0,
    nan_policy: str = "raise",
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    dual_clip: float | None = None,
    level: str = "token",
    log_ratio_clamp: float | None = None,
    loss_agg_mode: str = "seq-mean-token-mean",
    normalizer: float | None = None,
    horizon: float | None = None,
    empty_rows: str = "count",
    beta: float = 0.0,
    kl_kind: str = "k3",
) -> LossOutput:
    r"""The GRPO loss: group-normalized advantages, clipped surrogate, optional KL, aggregation.

    .. math::

        \mathcal L = \mathrm{agg}_{p,i,t}\Big[-\min\big(\rho_{p,i,t} A_{p,i},\
        \mathrm{clip}(\rho_{p,i,t}, 1-\epsilon_{\rm low}, 1+\epsilon_{\rm high}) A_{p,i}\big)
        + \beta\,\hat k_{p,i,t}\Big],\qquad A = \texttt{group\_advantages}(r).

    Defaults (the paper's conventions, all visible here): population std (``std_ddof=0``),
    ``eps=0``, ``scale="group"``, clip 0.2/0.28, no dual clip, token-level ratio,
    ``loss_agg_mode="seq-mean-token-mean"`` (the paper's :math:`\frac1G\sum_i\frac1{|o_i|}\sum_t`),
    ``beta=0`` (no KL), KL estimator k3 when ``beta > 0``. To reproduce a library use e.g.
    ``**ADVANTAGE_PRESETS["verl"], loss_agg_mode="token-mean", dual_clip=3.0, log_ratio_clamp=20.0``.

    Args:
        logp: ``[P, G, T]`` current-policy log-probs of the sampled tokens (requires grad).
        old_logp: ``[P, G, T]`` sampling-policy log-probs (pass ``logp.detach()`` on-policy).
        rewards: ``[P, G]`` sequence rewards.
        mask: ``[P, G, T]`` 0/1 completion mask.
        ref_logp: ``[P, G, T]`` reference log-probs; required if ``beta > 0``, else only logged.
        scale, std_ddof, eps, nan_policy: see :func:`group_advantages`.
        clip_low, clip_high, dual_clip, level, log_ratio_clamp: see :func:`policy_surrogate`.
        loss_agg_mode, normalizer, horizon, empty_rows: see :func:`aggregate`.
        beta: KL-in-loss coefficient, ``>= 0``.
        kl_kind: ``"k1"``, ``"k2"``, ``"k3"`` (default), ``"k3+"`` (:func:`kl_estimate`) or ``"k3_is"``
            (:func:`kl_importance_weighted`: k3 times the ratio at ``level``; TRL's
            ``use_bias_correction_kl=True``). TRL with ``use_bias_correction_kl=False`` is ``"k3"``.

    Returns:
        :class:`LossOutput`.

    Examples:
        >>> import torch
        >>> logp = torch.zeros(1, 2, 1, requires_grad=True)  # one prompt, two 1-token rollouts
        >>> out = grpo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2, 1))
        >>> out.loss  # ratio 1: -(A_1 + A_2)/2 = -(1 - 1)/2
        tensor(0., grad_fn=<DivBackward0>)
        >>> out.loss.backward(); logp.grad.flatten()  # -A_i / 2
        tensor([-0.5000,  0.5000])
    """
    rewards = check_rewards(rewards, allow_nan=nan_policy == "mask")
    shape, _ = check_token_tensors(logp, mask, old_logp=old_logp)
    check_rewards_match(rewards, shape)
    adv = group_advantages(rewards, scale=scale, std_ddof=std_ddof, eps=eps, nan_policy=nan_policy)
    out = policy_loss_from_advantages(
        logp, old_logp, adv, mask, ref_logp=ref_logp,
        clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip, level=level,
        log_ratio_clamp=log_ratio_clamp, loss_agg_mode=loss_agg_mode, normalizer=normalizer,
        horizon=horizon, empty_rows=empty_rows, beta=beta, kl_kind=kl_kind,
    )
    out.metrics.update(_reward_metrics(rewards, adv))
    return out


def two_grpo_loss(
    logp: Tensor,
    old_logp: Tensor,
    rewards: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None = None,
    **conventions,
) -> LossOutput:
    r"""2-GRPO: :func:`grpo_loss` with exactly G = 2 rollouts per prompt (raises otherwise).

    With the default conventions (population std, ``eps=0``) a mixed pair gets advantages
    :math:`\pm1` and a tied pair 0, so on-policy (ratio 1, no KL) the gradient of the loss is
    :math:`-\tfrac1{2P}\sum_{\text{untied pairs}}(\tfrac1{|o^+|}\nabla\log\pi(o^+) -
    \tfrac1{|o^-|}\nabla\log\pi(o^-))` (``seq-mean-token-mean``). All keywords of :func:`grpo_loss` are
    accepted.

    Examples:
        >>> import torch
        >>> two_grpo_loss(torch.zeros(1, 3, 1), torch.zeros(1, 3, 1), torch.zeros(1, 3), torch.ones(1, 3, 1))
        Traceback (most recent call last):
        ...
        ValueError: rewards must have G = 2 rollouts per prompt for 2-GRPO (shape [P, 2]), got shape (1, 3)
    """
    if not isinstance(rewards, torch.Tensor) or rewards.ndim != 2 or rewards.shape[1] != 2:
        got = tuple(rewards.shape) if isinstance(rewards, torch.Tensor) else type(rewards).__name__
        raise ValueError("rewards must have G = 2 rollouts per prompt for 2-GRPO (shape [P, 2]), got shape "
                         f"{got}")
    return grpo_loss(logp, old_logp, rewards, mask, ref_logp=ref_logp, **conventions)


def dr_grpo_loss(
    logp: Tensor,
    old_logp: Tensor,
    rewards: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None = None,
    loss_agg_mode: str = "seq-mean-token-sum-norm",
    **conventions,
) -> LossOutput:
    r"""Dr. GRPO: centered advantages (``scale="none"``) and a constant length normalizer.

    :func:`grpo_loss` with ``scale="none"`` forced and ``loss_agg_mode="seq-mean-token-sum-norm"``
    by default (sum over tokens / (number of sequences × ``horizon``, default T)).

    Examples:
        >>> import torch
        >>> logp = torch.zeros(1, 2, 2, requires_grad=True)
        >>> out = dr_grpo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2, 2))
        >>> out.loss.backward(); logp.grad  # -A/(S*T) = -(±0.5)/(2*2)
        tensor([[[-0.1250, -0.1250],
                 [ 0.1250,  0.1250]]])
    """
    if "scale" in conventions:
        raise ValueError("scale is fixed to 'none' for dr_grpo_loss; use grpo_loss to choose it")
    return grpo_loss(
        logp, old_logp, rewards, mask, ref_logp=ref_logp, scale="none", loss_agg_mode=loss_agg_mode,
        **conventions
    )


def rloo_loss(
    logp: Tensor,
    old_logp: Tensor,
    rewards: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None = None,
    **conventions,
) -> LossOutput:
    r"""RLOO: leave-one-out advantages (:func:`rloo_advantages`) with the GRPO surrogate and aggregation.

    Accepts the keywords of :func:`policy_loss_from_advantages` (clip, aggregation, KL); default
    aggregation ``seq-mean-token-mean``.

    Examples:
        >>> import torch
        >>> logp = torch.zeros(1, 2, 1, requires_grad=True)
        >>> rloo_loss(logp, logp.detach(), torch.tensor([[3.0, 1.0]]), torch.ones(1, 2, 1)).loss.backward()
        >>> logp.grad.flatten()  # -(r_i - r_j)/2
        tensor([-1.,  1.])
    """
    rewards = check_rewards(rewards)
    shape, _ = check_token_tensors(logp, mask, old_logp=old_logp)
    check_rewards_match(rewards, shape)
    adv = rloo_advantages(rewards)
    out = policy_loss_from_advantages(logp, old_logp, adv, mask, ref_logp=ref_logp, **conventions)
    out.metrics.update(_reward_metrics(rewards, adv))
    return out
