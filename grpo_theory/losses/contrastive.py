r"""GRPO with binary rewards written as a weighted positive-minus-negative (N-vs-M contrastive) objective."""

from __future__ import annotations

from typing import NamedTuple

import torch

from grpo_theory.losses._validate import check_nonneg, check_rewards, check_rewards_match, check_token_tensors

Tensor = torch.Tensor


class ContrastiveTerms(NamedTuple):
    """Per-prompt pieces of the contrastive form; every field is ``[P]``.

    Attributes:
        weight: :math:`\\sqrt{\\hat p(1-\\hat p)}` (0 for tied groups).
        positive: mean over correct rollouts of the per-sequence token-mean of :math:`\\min(\\rho,
        1+\\epsilon_{high})`.
        negative: mean over wrong rollouts of the per-sequence token-mean of :math:`\\max(\\rho,
        1-\\epsilon_{low})`.
        objective: ``weight * (positive - negative)``, the GRPO objective of each prompt (to maximize).
    """

    weight: Tensor
    positive: Tensor
    negative: Tensor
    objective: Tensor

    @property
    def loss(self) -> Tensor:
        """Scalar loss ``-objective.mean()``: equals :func:`grpo_loss` with the paper's conventions."""
        return -self.objective.mean()


def contrastive_form(
    logp: Tensor,
    old_logp: Tensor,
    rewards: Tensor,
    mask: Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
) -> ContrastiveTerms:
    r"""The GRPO objective for binary rewards as weight × (mean positive term − mean negative term).

    For a prompt with :math:`G^+` correct and :math:`G^-` wrong rollouts, :math:`\hat p = G^+/G`,

    .. math::

        J_p = \sqrt{\hat p(1-\hat p)}\Big(\frac1{G^+}\sum_{j\in+}\frac1{|o_j|}\sum_t \min(\rho_{j,t},
        1+\epsilon_{\rm high})
        - \frac1{G^-}\sum_{k\in-}\frac1{|o_k|}\sum_t \max(\rho_{k,t}, 1-\epsilon_{\rm low})\Big).

    This is exactly the GRPO objective :math:`\frac1G\sum_i\frac1{|o_i|}\sum_t\min(\rho A_i,
    \mathrm{clip}(\rho)A_i)` with population std, ``eps=0`` and ``seq-mean-token-mean``, because
    :math:`A^+ G^+/G = \sqrt{\hat p(1-\hat p)} = -A^- G^-/G`. Tied groups (:math:`\hat p \in \{0,1\}`)
    have weight 0 and their empty side is defined as 0. A fully masked rollout contributes a
    per-sequence mean of 0 (as ``aggregate(..., empty_rows="count")``).

    Args:
        logp, old_logp, mask: ``[P, G, T]``.
        rewards: ``[P, G]`` with entries in {0, 1}.
        clip_low, clip_high: as in :func:`policy_surrogate`.

    Returns:
        :class:`ContrastiveTerms`.

    Examples:
        >>> import torch
        >>> lp = torch.zeros(1, 4, 1)  # ratio 1 everywhere; 1 correct out of 4
        >>> t = contrastive_form(lp, lp, torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.ones(1, 4, 1))
        >>> t.weight, t.positive, t.negative, t.objective  # sqrt(1/4 * 3/4)
        (tensor([0.4330]), tensor([1.]), tensor([1.]), tensor([0.]))
    """
    shape, m = check_token_tensors(logp, mask, old_logp=old_logp)
    rewards = check_rewards(rewards)
    check_rewards_match(rewards, shape)
    if not bool(((rewards == 0) | (rewards == 1)).all()):
        raise ValueError("rewards must be binary (entries in {0, 1}) for the contrastive form")
    if not (0.0 <= clip_low < 1.0):
        raise ValueError(f"clip_low must be in [0, 1), got {clip_low}")
    check_nonneg(clip_high, "clip_high")

    ratio = torch.exp(torch.where(m, logp - old_logp, torch.zeros_like(logp)))
    n_tok = m.sum(dim=-1).clamp(min=1).to(logp.dtype)

    def seq_mean(x: Tensor) -> Tensor:  # [P, G, T] -> [P, G]
        return torch.where(m, x, torch.zeros_like(x)).sum(dim=-1) / n_tok

    pos_seq = seq_mean(torch.clamp(ratio, max=1.0 + clip_high))
    neg_seq = seq_mean(torch.clamp(ratio, min=1.0 - clip_low))
    is_pos = rewards == 1
    g = rewards.shape[1]
    n_pos = is_pos.sum(dim=-1).to(logp.dtype)
    n_neg = g - n_pos
    positive = torch.where(is_pos, pos_seq, torch.zeros_like(pos_seq)).sum(-1) / n_pos.clamp(min=1)
    negative = torch.where(~is_pos, neg_seq, torch.zeros_like(neg_seq)).sum(-1) / n_neg.clamp(min=1)
    p_hat = n_pos / g
    weight = torch.sqrt(p_hat * (1.0 - p_hat))
    return ContrastiveTerms(weight, positive, negative, weight * (positive - negative))
