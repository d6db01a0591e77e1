r"""CISPO, SAPO, GSPO and GMPO as trainer losses (``LOSSES`` signature), on GRPO group advantages.

Every function here is called as ``fn(logp, old_logp, rewards, mask, *, ref_logp=None, **conventions)``
with rewards ``[P, G]`` and per-token tensors ``[P, G, T]``, and returns a
:class:`~grpo_theory.losses.grpo.LossOutput`. The advantages are :func:`group_advantages` (same keywords
and defaults as :func:`grpo_loss`: population std, ``eps=0``); the surrogate is the engine's
(:mod:`grpo_theory.losses.surrogate_variants`); an optional KL term (``beta``, ``kl_kind``) and the
aggregation follow :func:`grpo_loss`. Each docstring names the engine call it reproduces.
"""

from __future__ import annotations

import torch

from grpo_theory.losses._validate import (
    check_choice,
    check_nonneg,
    check_positive,
    check_rewards,
    check_rewards_match,
    check_token_tensors,
)
from grpo_theory.losses.advantages import group_advantages
from grpo_theory.losses.aggregate import EMPTY_ROWS, aggregate
from grpo_theory.losses.grpo import LossOutput, _reward_metrics, add_kl_and_aggregate
from grpo_theory.losses.kl import LOSS_KL_KINDS, loss_kl_term
from grpo_theory.losses.surrogate_variants import (
    cispo_surrogate,
    gmpo_sequence_loss,
    gspo_surrogate,
    sapo_surrogate,
)

Tensor = torch.Tensor


def _advantages(logp, old_logp, rewards, mask, ref_logp, *, scale, std_ddof, eps, nan_policy, beta, kl_kind):
    """Checks the batch and returns ``(rewards, advantages [P, G], bool mask)``."""
    rewards = check_rewards(rewards, allow_nan=nan_policy == "mask")
    shape, m = check_token_tensors(logp, mask, old_logp=old_logp, ref_logp=ref_logp)
    check_rewards_match(rewards, shape)
    check_nonneg(beta, "beta")
    check_choice(kl_kind, LOSS_KL_KINDS, "kl_kind")
    if beta > 0 and ref_logp is None:
        raise ValueError("ref_logp (shape [P, G, T]) is required when beta > 0")
    adv = group_advantages(rewards, scale=scale, std_ddof=std_ddof, eps=eps, nan_policy=nan_policy)
    return rewards, adv, m


def cispo_loss(
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
    ratio_max: float | None = 5.0,
    ratio_min: float | None = None,
    level: str = "token",
    log_ratio_clamp: float | None = None,
    loss_agg_mode: str = "token-mean",
    normalizer: float | None = None,
    horizon: float | None = None,
    empty_rows: str = "count",
    beta: float = 0.0,
    kl_kind: str = "k3",
) -> LossOutput:
    r"""CISPO: :math:`\mathrm{agg}\big(-\mathrm{sg}[\mathrm{clip}(\rho_t, \rho_{\min},
    \rho_{\max})]\,A\,\log\pi_\theta(o_t) + \beta\hat k_t\big)`.

    See :func:`cispo_surrogate` for the per-token term. Defaults follow TRL ``loss_type="cispo"`` with
    the recommended ``epsilon_high=5.0``: one-sided cap ``ratio_max=5.0`` and a token mean
    (``loss_agg_mode="token-mean"``; TRL's normalizer is the generation batch's token count
    ``num_items_in_batch``: pass it as ``normalizer``). TRL: ``**ADVANTAGE_PRESETS["trl"],
    ratio_max=epsilon_high, normalizer=num_items_in_batch`` and ``kl_kind="k3_is"`` (its default
    ``use_bias_correction_kl=True``) or ``"k3"``. verl ``loss_mode="cispo"``: ``ratio_min=1-clip_ratio_low,
    ratio_max=1+clip_ratio_high, log_ratio_clamp=20``, ``empty_rows="skip"`` for the ``seq-mean-*`` modes.

    Args:
        logp, old_logp, rewards, mask, ref_logp: as in :func:`grpo_loss`.
        scale, std_ddof, eps, nan_policy: see :func:`group_advantages`.
        ratio_max, ratio_min, level, log_ratio_clamp: see :func:`cispo_surrogate`.
        loss_agg_mode, normalizer, horizon, empty_rows: see :func:`aggregate`.
        beta, kl_kind: KL-in-loss as in :func:`grpo_loss` (``"k3_is"`` uses the ratio at ``level``).

    Returns:
        :class:`LossOutput` (metrics of :func:`cispo_surrogate` plus reward and KL metrics).

    Examples:
        >>> import torch
        >>> logp = torch.full((1, 2, 1), -1.0, requires_grad=True)
        >>> cispo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2, 1)).loss.backward()
        >>> logp.grad.flatten()  # -rho * A / N_tokens at rho = 1: REINFORCE
        tensor([-0.5000,  0.5000])
    """
    rewards, adv, m = _advantages(logp, old_logp, rewards, mask, ref_logp, scale=scale, std_ddof=std_ddof,
                                  eps=eps, nan_policy=nan_policy, beta=beta, kl_kind=kl_kind)
    per_token, diag = cispo_surrogate(logp, old_logp, adv, m, ratio_max=ratio_max, ratio_min=ratio_min,
                                      level=level, log_ratio_clamp=log_ratio_clamp)
    out = add_kl_and_aggregate(per_token, diag, logp, old_logp, m, ref_logp=ref_logp, beta=beta,
                               kl_kind=kl_kind,
                               level=level, loss_agg_mode=loss_agg_mode, normalizer=normalizer,
                               horizon=horizon, empty_rows=empty_rows)
    out.metrics.update(_reward_metrics(rewards, adv))
    return out


def sapo_loss(
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
    tau_pos: float = 1.0,
    tau_neg: float = 1.05,
    level: str = "token",
    log_ratio_clamp: float | None = None,
    loss_agg_mode: str = "seq-mean-token-mean",
    normalizer: float | None = None,
    horizon: float | None = None,
    empty_rows: str = "count",
    beta: float = 0.0,
    kl_kind: str = "k3",
) -> LossOutput:
    r"""SAPO: :math:`\mathrm{agg}\big(-\tfrac4\tau\sigma(\tau(\rho_t - 1))\,A + \beta\hat k_t\big)`,
    :math:`\tau = \tau_{\rm pos}` if :math:`A > 0` else :math:`\tau_{\rm neg}`.

    See :func:`sapo_surrogate`. Defaults follow TRL ``loss_type="sapo"`` (temperatures 1.0 / 1.05, no
    clamp, per-sequence token mean with fully masked rows counted: ``empty_rows="count"``). TRL:
    ``**ADVANTAGE_PRESETS["trl"]`` and ``kl_kind="k3_is"`` or ``"k3"``. verl ``loss_mode="sapo"``:
    ``log_ratio_clamp=20, empty_rows="skip"`` (verl forces ``seq-mean-token-mean``).

    Args:
        logp, old_logp, rewards, mask, ref_logp: as in :func:`grpo_loss`.
        scale, std_ddof, eps, nan_policy: see :func:`group_advantages`.
        tau_pos, tau_neg, level, log_ratio_clamp: see :func:`sapo_surrogate`.
        loss_agg_mode, normalizer, horizon, empty_rows: see :func:`aggregate`.
        beta, kl_kind: KL-in-loss as in :func:`grpo_loss`.

    Returns:
        :class:`LossOutput`.

    Examples:
        >>> import torch
        >>> logp = torch.zeros(1, 2, 1, requires_grad=True)
        >>> sapo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2, 1)).loss.backward()
        >>> logp.grad.flatten()  # the gate's slope is 1 at rho = 1: -A / 2 as for GRPO
        tensor([-0.5000,  0.5000])
    """
    rewards, adv, m = _advantages(logp, old_logp, rewards, mask, ref_logp, scale=scale, std_ddof=std_ddof,
                                  eps=eps, nan_policy=nan_policy, beta=beta, kl_kind=kl_kind)
    per_token, diag = sapo_surrogate(logp, old_logp, adv, m, tau_pos=tau_pos, tau_neg=tau_neg, level=level,
                                     log_ratio_clamp=log_ratio_clamp)
    out = add_kl_and_aggregate(per_token, diag, logp, old_logp, m, ref_logp=ref_logp, beta=beta,
                               kl_kind=kl_kind,
                               level=level, loss_agg_mode=loss_agg_mode, normalizer=normalizer,
                               horizon=horizon, empty_rows=empty_rows)
    out.metrics.update(_reward_metrics(rewards, adv))
    return out


def gspo_loss(
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
    clip_low: float = 3e-4,
    clip_high: float = 4e-4,
    log_ratio_max: float | None = 10.0,
    loss_agg_mode: str = "seq-mean-token-mean",
    normalizer: float | None = None,
    horizon: float | None = None,
    empty_rows: str = "count",
    beta: float = 0.0,
    kl_kind: str = "k3",
) -> LossOutput:
    r"""GSPO: the clipped surrogate on the sequence's geometric-mean ratio :math:`s_i`, aggregated.

    .. math::

        \mathcal L = \mathrm{agg}_{p,i,t}\Big[\max\big(-A\,s_i,\ -A\,\mathrm{clip}(s_i, 1-\epsilon_{\rm low},
        1+\epsilon_{\rm high})\big) + \beta\hat k_t\Big], \qquad s_i = \exp\Big(\frac1{n_i}\sum_t m_t
        \log\frac{\pi_\theta(o_t)}{\pi_{\rm old}(o_t)}\Big),

    computed in verl's token form (:func:`gspo_surrogate`: same value and, after aggregation, same
    gradient). Defaults: the GSPO paper's clip 3e-4 / 4e-4, verl's log-ratio cap 10 and
    ``seq-mean-token-mean`` (the paper's sequence mean). verl ``loss_mode="gspo"``: ``clip_low/high =
    clip_ratio_low/high``, its ``loss_agg_mode``, ``empty_rows="skip"``. A ``"k3_is"`` KL uses the
    sequence ratio :math:`s_i`.

    Args:
        logp, old_logp, rewards, mask, ref_logp: as in :func:`grpo_loss`.
        scale, std_ddof, eps, nan_policy: see :func:`group_advantages`.
        clip_low, clip_high, log_ratio_max: see :func:`gspo_surrogate`.
        loss_agg_mode, normalizer, horizon, empty_rows: see :func:`aggregate`.
        beta, kl_kind: KL-in-loss as in :func:`grpo_loss`.

    Returns:
        :class:`LossOutput`.

    Examples:
        >>> import torch
        >>> logp = torch.zeros(1, 2, 2, requires_grad=True)
        >>> gspo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2, 2)).loss.backward()
        >>> logp.grad  # -A s_i / n_i per token, averaged over the 2 sequences
        tensor([[[-0.2500, -0.2500],
                 [ 0.2500,  0.2500]]])
    """
    rewards, adv, m = _advantages(logp, old_logp, rewards, mask, ref_logp, scale=scale, std_ddof=std_ddof,
                                  eps=eps, nan_policy=nan_policy, beta=beta, kl_kind=kl_kind)
    per_token, diag = gspo_surrogate(logp, old_logp, adv, m, clip_low=clip_low, clip_high=clip_high,
                                     log_ratio_max=log_ratio_max)
    out = add_kl_and_aggregate(per_token, diag, logp, old_logp, m, ref_logp=ref_logp, beta=beta,
                               kl_kind=kl_kind,
                               level="sequence", loss_agg_mode=loss_agg_mode, normalizer=normalizer,
                               horizon=horizon, empty_rows=empty_rows)
    out.metrics.update(_reward_metrics(rewards, adv))
    return out


def gmpo_loss(
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
    clip_low: float = 0.4,
    clip_high: float = 0.4,
    normalizer: float | None = None,
    empty_rows: str = "count",
    beta: float = 0.0,
    kl_kind: str = "k3",
    kl_agg_mode: str = "token-mean",
) -> LossOutput:
    r"""GMPO (verl ``geo_mean``): the mean over sequences of :func:`gmpo_sequence_loss`, plus optional KL.

    .. math::

        \mathcal L = \frac1S\sum_{p,i} -A_{p,i}\exp\Big(\frac1{n_{p,i}}\sum_t m_t\,\tilde d_{p,i,t}\Big)
        + \beta\,\mathrm{agg}_{\rm kl}(\hat k),

    with the sign-dependent log-space clip :math:`\tilde d` of :func:`gmpo_sequence_loss`. :math:`S` is
    ``normalizer`` if given, else the number of sequences (``empty_rows="count"``, verl's
    ``torch.mean``: an empty sequence adds 0 and counts) or of non-empty ones (``"skip"``). verl
    ignores ``loss_agg_mode`` for the policy term; its KL loss (``use_kl_loss``) is aggregated with the
    actor's ``loss_agg_mode``: ``kl_agg_mode`` here (default ``"token-mean"``, verl's default).
    verl: ``**ADVANTAGE_PRESETS["verl"], clip_low=clip_ratio_low, clip_high=clip_ratio_high``
    (verl's config default 0.2; the GMPO paper's 0.4 is ours).

    Args:
        logp, old_logp, rewards, mask, ref_logp: as in :func:`grpo_loss`.
        scale, std_ddof, eps, nan_policy: see :func:`group_advantages`.
        clip_low, clip_high: log-space clip widths (default 0.4).
        normalizer: sequence count override (> 0).
        empty_rows: ``"count"`` (default) or ``"skip"``.
        beta, kl_kind: KL-in-loss coefficient and estimator (``"k3_is"``: token-level ratio).
        kl_agg_mode: aggregation of the KL term (any :func:`aggregate` mode).

    Returns:
        :class:`LossOutput` (metrics of :func:`gmpo_sequence_loss` plus reward, KL and token counts).

    Examples:
        >>> import torch
        >>> logp = torch.zeros(1, 2, 2, requires_grad=True)
        >>> gmpo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2, 2)).loss.backward()
        >>> logp.grad  # -A / (S n_i) per token at ratio 1
        tensor([[[-0.2500, -0.2500],
                 [ 0.2500,  0.2500]]])
    """
    rewards, adv, m = _advantages(logp, old_logp, rewards, mask, ref_logp, scale=scale, std_ddof=std_ddof,
                                  eps=eps, nan_policy=nan_policy, beta=beta, kl_kind=kl_kind)
    check_choice(empty_rows, EMPTY_ROWS, "empty_rows")
    seq_loss, diag = gmpo_sequence_loss(logp, old_logp, adv, m, clip_low=clip_low, clip_high=clip_high)
    rows = m.any(dim=-1)
    if normalizer is not None:
        n_seq = check_positive(normalizer, "normalizer")
    else:
        n_seq = float(rows.numel()) if empty_rows == "count" else float(rows.sum())
    loss = seq_loss.sum() / n_seq if n_seq > 0 else seq_loss.sum() * 0.0
    metrics = dict(diag)
    if ref_logp is not None:
        kl = loss_kl_term(logp, ref_logp, old_logp, m, kl_kind=kl_kind, level="token")
        kl_agg = aggregate(kl, m, kl_agg_mode, empty_rows=empty_rows)
        with torch.no_grad():  # logged as a token mean, as for the other losses
            metrics["kl"] = float(torch.where(m, kl, torch.zeros_like(kl)).sum() / max(int(m.sum()), 1))
        if beta > 0:
            loss = loss + beta * kl_agg
    metrics["num_tokens"] = float(m.sum())
    metrics["loss"] = float(loss.detach())
    metrics.update(_reward_metrics(rewards, adv))
    return LossOutput(loss=loss, metrics=metrics)
