r"""Per-token estimators of :math:`\mathrm{KL}(\pi_\theta \,\|\, \pi_{\rm ref})` from samples of
:math:`\pi_\theta`."""

from __future__ import annotations

import torch

from grpo_theory.losses._validate import (
    check_choice,
    check_mask,
    check_nonneg,
    check_rewards,
    check_same_shape,
)

Tensor = torch.Tensor

KL_KINDS = ("k1", "k2", "k3", "k3+")

#: ``kl_kind`` values the GRPO-family losses accept: every :data:`KL_KINDS` entry plus ``"k3_is"``,
#: k3 times the policy's importance ratio (:func:`kl_importance_weighted`; TRL's
#: ``use_bias_correction_kl=True``, its default since it was added).
LOSS_KL_KINDS = (*KL_KINDS, "k3_is")

LEVELS = ("token", "sequence")


def kl_estimate(
    logp: Tensor,
    ref_logp: Tensor,
    kind: str = "k3",
    *,
    log_ratio_clamp: float | None = None,
    value_clamp: float | None = None,
) -> Tensor:
    r"""Per-token KL estimate for tokens sampled from :math:`\pi_\theta` (Schulman's k1/k2/k3).

    With :math:`d_t = \log\pi_\theta(o_t) - \log\pi_{\rm ref}(o_t)`:

    * ``"k1"``: :math:`d` (unbiased for the KL value; can be negative),
    * ``"k2"``: :math:`\tfrac12 d^2` (biased value; its gradient is the unbiased KL gradient),
    * ``"k3"``: :math:`e^{-d} + d - 1 \ge 0` (unbiased value, biased gradient; TRL, verl ``low_var_kl``),
    * ``"k3+"``: the value of k3 with the gradient of k2 (straight-through: ``k3.detach() + k2 -
      k2.detach()``, verl's ``"k3+"``).

    Use it in the loss (``beta * aggregate(kl, mask, ...)``) or fold it into the reward
    (``rewards - beta * (kl * mask).sum(-1)`` with a detached estimate).

    Args:
        logp: ``[...]`` log-probs of the sampled tokens under the policy (usually ``[P, G, T]``).
        ref_logp: same shape, under the reference policy.
        kind: one of ``"k1"``, ``"k2"``, ``"k3"`` (default), ``"k3+"``.
        log_ratio_clamp: ``None`` (default) or ``b > 0``: clamp :math:`d` to ``[-b, b]`` first
            (verl clamps k3's log-ratio at 20). For ``"k3+"`` it applies to the value only.
        value_clamp: ``None`` (default) or ``c > 0``: clamp the estimate to ``[-c, c]`` (verl: 10 for k3).

    Returns:
        A tensor of the input shape. Masked positions are not special: aggregate with a mask.

    Examples:
        >>> import math, torch
        >>> lp, ref = torch.tensor([0.0]), torch.tensor([-1.0])  # d = 1
        >>> kl_estimate(lp, ref, "k1"), kl_estimate(lp, ref, "k2")
        (tensor([1.]), tensor([0.5000]))
        >>> round(float(kl_estimate(lp, ref, "k3")), 6) == round(math.exp(-1), 6)  # e^-1 + 1 - 1
        True
    """
    check_same_shape([("logp", logp), ("ref_logp", ref_logp)])
    check_choice(kind, KL_KINDS, "kind")
    for nm, v in (("log_ratio_clamp", log_ratio_clamp), ("value_clamp", value_clamp)):
        if v is not None and not (0.0 < v < float("inf")):
            raise ValueError(f"{nm} must be None or a finite number > 0, got {v}")

    def _value(base: str) -> Tensor:
        d = logp - ref_logp
        if log_ratio_clamp is not None:
            d = d.clamp(-log_ratio_clamp, log_ratio_clamp)
        if base == "k1":
            out = d
        elif base == "k2":
            out = 0.5 * d * d
        else:  # expm1 keeps e^{-d} - 1 accurate for small d
            out = torch.expm1(-d) + d
        if value_clamp is not None:
            out = out.clamp(-value_clamp, value_clamp)
        return out

    if kind != "k3+":
        return _value(kind)
    k2 = 0.5 * (logp - ref_logp) ** 2
    return _value("k3").detach() + (k2 - k2.detach())


def kl_importance_weighted(
    logp: Tensor,
    ref_logp: Tensor,
    old_logp: Tensor,
    mask: Tensor,
    *,
    kind: str = "k3",
    level: str = "token",
) -> Tensor:
    r"""KL estimate times the importance ratio: :math:`\rho_t\,\hat k_t` (TRL
    ``use_bias_correction_kl=True``).

    The tokens were sampled from :math:`\pi_{\rm old}`, not :math:`\pi_\theta`. Reweighting by
    :math:`\rho_t = \pi_\theta(o_t)/\pi_{\rm old}(o_t)` (with gradient) makes
    :math:`\mathbb E_{\pi_{\rm old}}[\rho\,\hat k] = \mathbb E_{\pi_\theta}[\hat k]`, so its gradient is that
    of the per-token KL under :math:`\pi_\theta`: at :math:`\rho = 1` it is :math:`\hat
    k\,\nabla\log\pi_\theta + \nabla\hat k`, the score-function term that plain k3 in the loss leaves out
    (DeepSeek-V3.2's unbiased KL). With ``level="sequence"`` the ratio is the sequence's
    :math:`\exp(\frac1{n}\sum_t m_t(\log\pi_\theta - \log\pi_{\rm old}))`, as TRL multiplies by the ratio
    its surrogate uses. Log-ratios at masked positions are taken as 0 so padding cannot overflow.

    Args:
        logp, ref_logp, old_logp: ``[..., T]`` log-probs of the sampled tokens under the policy, the
            reference and the sampling policy.
        mask: same shape, 0/1 (needed for the sequence-level ratio and to neutralize padding).
        kind: the base estimator, one of :data:`KL_KINDS` (default ``"k3"``, TRL's).
        level: ``"token"`` (default) or ``"sequence"``.

    Returns:
        A tensor of the input shape (aggregate it with the mask).

    Examples:
        >>> import torch
        >>> lp, ref, old = torch.tensor([[0.0]]), torch.tensor([[-1.0]]), torch.tensor([[-0.5]])
        >>> w = kl_importance_weighted(lp, ref, old, torch.ones(1, 1))  # e^{0.5} * (e^{-1} + 1 - 1)
        >>> want = torch.exp(torch.tensor(0.5)) * torch.exp(torch.tensor(-1.0))
        >>> round(float(w), 6) == round(float(want), 6)
        True
    """
    check_same_shape([("logp", logp), ("ref_logp", ref_logp), ("old_logp", old_logp)])
    check_choice(level, LEVELS, "level")
    m = check_mask(mask, logp.shape)
    log_ratio = torch.where(m, logp - old_logp, torch.zeros_like(logp))
    if level == "sequence":
        n = m.sum(dim=-1, keepdim=True).clamp(min=1)
        log_ratio = (log_ratio.sum(dim=-1, keepdim=True) / n).expand(logp.shape)
    return torch.exp(log_ratio) * kl_estimate(logp, ref_logp, kind)


def loss_kl_term(
    logp: Tensor, ref_logp: Tensor, old_logp: Tensor, mask: Tensor, *, kl_kind: str, level: str
) -> Tensor:
    """The per-token KL of a GRPO-family loss for ``kl_kind`` in :data:`LOSS_KL_KINDS` (``[P, G, T]``)."""
    check_choice(kl_kind, LOSS_KL_KINDS, "kl_kind")
    if kl_kind == "k3_is":
        return kl_importance_weighted(logp, ref_logp, old_logp, mask, kind="k3", level=level)
    return kl_estimate(logp, ref_logp, kl_kind)


def kl_penalized_rewards(
    rewards: Tensor,
    logp: Tensor,
    ref_logp: Tensor,
    mask: Tensor,
    *,
    beta: float,
    kind: str = "k1",
) -> Tensor:
    r"""KL folded into the reward: :math:`r_{p,i} - \beta\sum_t m_{p,i,t}\,\hat k_{p,i,t}`, detached.

    The penalty is a constant for the policy gradient (as in TRL's RLOO trainer and OpenRLHF's
    default), so the KL acts through the advantage rather than through a loss term; k1 in the reward
    gives an unbiased KL gradient through the score function.

    Args:
        rewards: ``[P, G]``.
        logp, ref_logp, mask: ``[P, G, T]``.
        beta: ``>= 0``.
        kind: KL estimator (default ``"k1"``).

    Returns:
        ``[P, G]`` penalized rewards without gradient.

    Examples:
        >>> import torch
        >>> lp = torch.tensor([[[-1.0, -1.0], [-2.0, -5.0]]]); ref = torch.full((1, 2, 2), -1.5)
        >>> kl_penalized_rewards(torch.tensor([[1.0, 0.0]]), lp, ref, torch.tensor([[[1, 1], [1, 0]]]),
        ...                      beta=0.1)
        tensor([[0.9000, 0.0500]])
    """
    rewards = check_rewards(rewards)
    check_same_shape([("logp", logp), ("ref_logp", ref_logp)], ndim=3)
    if rewards.shape != logp.shape[:2]:
        raise ValueError(f"rewards must have shape [P, G]={tuple(logp.shape[:2])} matching logp, got "
                         f"{tuple(rewards.shape)}")
    m = check_mask(mask, logp.shape)
    beta = check_nonneg(beta, "beta")
    with torch.no_grad():
        k = kl_estimate(logp, ref_logp, kind)
        return rewards - beta * torch.where(m, k, torch.zeros_like(k)).sum(dim=-1).to(rewards.dtype)
