r"""Per-prompt softmax bandit over K responses with binary rewards.

Prompt q owns its own logits :math:`\theta_q\in\mathbb R^K` (parameters :math:`\theta` ``[Q, K]``),
:math:`\pi_q = \mathrm{softmax}(\theta_q)`, and a fixed reward vector :math:`r_q\in\{0,1\}^K`.
With :math:`e_k` the k-th unit vector,

.. math::

    \nabla_{\theta_q}\log\pi_q(k) = e_k - \pi_q,\qquad
    p_q = \sum_k \pi_{q,k} r_{q,k},\qquad
    \nabla_{\theta_q} p_q = \pi_q\odot r_q - p_q\,\pi_q .

A prompt's gradient lives in its own block of the flat parameter vector. With ``embed=False``
(default) the score table keeps only that block (D = K), which is all a per-prompt check needs; with
``embed=True`` it is written into the full ``Q*K`` space (D = QK), for cross-prompt quantities.
"""

from __future__ import annotations

import torch

from grpo_theory.montecarlo.toy_policy import ToyPolicy

Tensor = torch.Tensor


def softmax_bandit(theta: Tensor, rewards: Tensor, *, embed: bool = False, name: str = "bandit") -> ToyPolicy:
    """The :class:`ToyPolicy` of a per-prompt softmax bandit.

    Args:
        theta: ``[Q, K]`` logits (float64 recommended).
        rewards: ``[Q, K]`` binary rewards.
        embed: write each prompt's score into the full ``[Q*K]`` parameter space (D = QK) instead
            of its own ``[K]`` block (D = K).
        name: label.

    Returns:
        a :class:`ToyPolicy` with N = K responses of length 1.
    """
    q, k = theta.shape
    theta = theta.detach()
    probs = torch.softmax(theta, -1)
    eye = torch.eye(k, dtype=theta.dtype)
    block = eye.unsqueeze(0) - probs.unsqueeze(1)  # (Q, K, K): row k is e_k - pi_q
    if embed:
        scores = torch.zeros(q, k, q, k, dtype=theta.dtype)
        scores[torch.arange(q), :, torch.arange(q), :] = block
        scores = scores.reshape(q, k, q * k)

        def log_prob_fn(th: Tensor) -> Tensor:
            return torch.log_softmax(th.reshape(q, k), -1)

        flat = theta.reshape(-1)
    else:
        scores = block

        def log_prob_fn(th: Tensor) -> Tensor:
            return torch.log_softmax(th, -1)

        flat = theta
    return ToyPolicy(
        probs=probs,
        rewards=rewards.to(theta.dtype),
        scores=scores,
        lengths=torch.ones(q, k, dtype=theta.dtype),
        theta=flat,
        log_prob_fn=log_prob_fn,
        name=name,
        per_prompt_blocks=not embed,
    )


def bandit_with_success_probs(
    p: Tensor,
    num_responses: int,
    generator: torch.Generator,
    *,
    num_correct: int | None = None,
    spread: float = 1.0,
    embed: bool = False,
) -> ToyPolicy:
    """A bandit whose prompts have exactly the success probabilities ``p``.

    Logits are drawn as ``spread * N(0, 1)``; the first ``num_correct`` responses are correct and
    their logits are shifted by :math:`c_q = \\log\\frac{p_q S^-_q}{(1-p_q) S^+_q}`, where
    :math:`S^\\pm_q` are the softmax masses before the shift, so that :math:`\\sum_{k\\,\\rm
    correct}\\pi_{q,k} = p_q`.

    Args:
        p: ``[Q]`` target success probabilities in (0, 1).
        num_responses: K >= 2.
        generator: randomness for the logits.
        num_correct: correct responses per prompt (default ``K // 2``, at least 1, at most K - 1).
        spread: std of the logits before the shift (within-class heterogeneity).
        embed: see :func:`softmax_bandit`.
    """
    p = p.to(torch.float64)
    q, k = p.shape[0], num_responses
    m = num_correct if num_correct is not None else max(1, min(k - 1, k // 2))
    theta = spread * torch.randn(q, k, generator=generator, dtype=torch.float64)
    rewards = torch.zeros(q, k, dtype=torch.float64)
    rewards[:, :m] = 1.0
    w = theta.exp()
    s_pos, s_neg = w[:, :m].sum(-1), w[:, m:].sum(-1)
    shift = torch.log(p * s_neg / ((1 - p) * s_pos))
    theta[:, :m] += shift.unsqueeze(-1)
    return softmax_bandit(theta, rewards, embed=embed, name=f"bandit(Q={q},K={k})")


def random_bandit(
    num_prompts: int,
    num_responses: int,
    generator: torch.Generator,
    *,
    p_low: float = 0.05,
    p_high: float = 0.95,
    embed: bool = False,
) -> ToyPolicy:
    """A bandit with heterogeneous success probabilities :math:`p_q \\sim U(p_{low}, p_{high})`."""
    p = p_low + (p_high - p_low) * torch.rand(num_prompts, generator=generator, dtype=torch.float64)
    return bandit_with_success_probs(p, num_responses, generator, embed=embed)
