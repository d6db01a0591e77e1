r"""A policy over finitely many responses per prompt, with every moment computable exactly.

A :class:`ToyPolicy` lists, for each of Q prompts, all N possible responses with their probability,
binary reward, token count and score function :math:`\nabla_\theta\log\pi_\theta(o_n\mid q)` in a
D-dimensional parameter space. Sampling a rollout is drawing an index n; an estimator is then a
weighted sum of rows of the score table, and every expectation is an exact finite sum.

Axis legend: Q prompts, N responses per prompt, D parameters, R replicates, G rollouts per prompt.

Score functions (``kind``):

* ``"summed"``: the sequence score :math:`g = \sum_t \nabla\log\pi(o_t\mid o_{<t}, q)`; it has mean 0
  under :math:`\pi(\cdot\mid q)` (the score identity).
* ``"length-normalized"``: :math:`g/|o|`, the per-sequence token mean of GRPO's default aggregation;
  it has no zero-mean property when lengths vary.

Exact quantities, with :math:`\pi^+ = \pi r/p` and :math:`\pi^- = \pi(1-r)/(1-p)`:

.. math::

    p_q = \sum_n \pi_n r_n,\quad \nabla p_q = \sum_n \pi_n r_n g^{\rm sum}_n,\quad
    m^\pm_q = \mathbb E_{\pi^\pm}[g],\quad \mathrm{Var}^\pm_q = \mathrm{tr}\,\mathrm{Cov}_{\pi^\pm}(g).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from grpo_theory.vocab import SCORE_KINDS, ScoreKind

Tensor = torch.Tensor



@dataclass(frozen=True, eq=False)
class ToyPolicy:
    """Exact tables of a toy policy.

    Attributes:
        probs: ``[Q, N]`` response probabilities :math:`\\pi(o_n\\mid q)`, rows sum to 1.
        rewards: ``[Q, N]`` binary rewards (0./1.).
        scores: ``[Q, N, D]`` sequence score functions :math:`\\nabla_\\theta\\log\\pi(o_n\\mid q)`.
        lengths: ``[Q, N]`` token counts :math:`|o_n|` (>= 1).
        theta: ``[D]``-shaped (or structured) parameter the tables were computed at.
        log_prob_fn: ``theta -> [Q, N]`` log-probabilities, differentiable; lets a test recompute
            ``scores`` and :math:`\\nabla p` by autograd.
        name: a short label.
        per_prompt_blocks: True when each prompt's scores live in its own D-dimensional block of
            the parameters (a bandit without embedding, ``theta`` ``[Q, D]``): per-prompt quantities
            are exact, but sums or covariances *across* prompts of the ``[.., D]`` vectors are
            meaningless and the functions computing them refuse such a policy.
    """

    probs: Tensor
    rewards: Tensor
    scores: Tensor
    lengths: Tensor
    theta: Tensor
    log_prob_fn: Callable[[Tensor], Tensor]
    name: str = ""
    per_prompt_blocks: bool = False

    @property
    def num_prompts(self) -> int:
        return int(self.probs.shape[0])

    @property
    def num_responses(self) -> int:
        return int(self.probs.shape[1])

    @property
    def dim(self) -> int:
        return int(self.scores.shape[-1])

    def score(self, kind: ScoreKind = "summed") -> Tensor:
        """``[Q, N, D]`` score table: ``"summed"`` (sequence score) or ``"length-normalized"`` (over
        length)."""
        if kind == "summed":
            return self.scores
        if kind == "length-normalized":
            return self.scores / self.lengths.unsqueeze(-1)
        raise ValueError(f"kind must be one of {SCORE_KINDS}, got {kind!r}")

    def success_prob(self) -> Tensor:
        """``[Q]`` exact :math:`p_q = \\sum_n \\pi_n r_n`."""
        return (self.probs * self.rewards).sum(-1)

    def subset(self, prompts: Tensor) -> ToyPolicy:
        """The policy restricted to (or re-indexed by) ``prompts`` ``[Q']`` (the parameter space is
        unchanged)."""
        idx = prompts.long()

        def fn(theta: Tensor) -> Tensor:
            return self.log_prob_fn(theta)[idx]

        return ToyPolicy(
            self.probs[idx],
            self.rewards[idx],
            self.scores[idx],
            self.lengths[idx],
            self.theta,
            fn,
            self.name,
        )


def require_shared_parameters(policy: ToyPolicy, what: str) -> None:
    """Raises ``ValueError`` if ``policy`` keeps per-prompt score blocks (cross-prompt sums are
    meaningless)."""
    if policy.per_prompt_blocks:
        raise ValueError(f"{what} combines prompts; build the bandit with embed=True (per-prompt blocks "
                         "given)")


def exact_grad_p(policy: ToyPolicy) -> Tensor:
    """``[Q, D]`` exact :math:`\\nabla_\\theta p_q = \\mathbb E[r\\,g^{\\rm sum}]` (score-function form)."""
    return torch.einsum("qn,qnd->qd", policy.probs * policy.rewards, policy.scores)


def conditional_probs(policy: ToyPolicy) -> tuple[Tensor, Tensor]:
    """``(pi_plus, pi_minus)``, each ``[Q, N]``: :math:`\\pi` restricted to r = 1 (resp. r = 0), renormalized.

    Rows with :math:`p_q = 0` (resp. 1) have no positive (negative) response and are all NaN.
    """
    p = policy.success_prob().unsqueeze(-1)
    pos = policy.probs * policy.rewards
    neg = policy.probs * (1 - policy.rewards)
    return pos / p, neg / (1 - p)


def score_mean(policy: ToyPolicy, kind: ScoreKind = "summed") -> Tensor:
    """``[Q, D]`` exact :math:`\\mathbb E_\\pi[g\\mid q]` (0 for ``"summed"``, not for
    ``"length-normalized"``)."""
    return torch.einsum("qn,qnd->qd", policy.probs, policy.score(kind))


def conditional_moments(policy: ToyPolicy, kind: ScoreKind = "summed") -> dict[str, Tensor]:
    """Exact conditional moments of the score given the reward, per prompt.

    Returns:
        dict with ``m_plus``, ``m_minus`` ``[Q, D]`` (:math:`\\mathbb E[g\\mid r=1]`,
        :math:`\\mathbb E[g\\mid r=0]`), ``var_plus``, ``var_minus`` ``[Q]`` (traces of the
        conditional covariances) and ``p`` ``[Q]``.
    """
    g = policy.score(kind)
    pi_p, pi_m = conditional_probs(policy)
    m_p = torch.einsum("qn,qnd->qd", pi_p, g)
    m_m = torch.einsum("qn,qnd->qd", pi_m, g)
    sq = (g * g).sum(-1)
    var_p = (pi_p * sq).sum(-1) - (m_p * m_p).sum(-1)
    var_m = (pi_m * sq).sum(-1) - (m_m * m_m).sum(-1)
    return {"m_plus": m_p, "m_minus": m_m, "var_plus": var_p, "var_minus": var_m, "p": policy.success_prob()}


def sample_indices(probs: Tensor, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """Draws response indices by inverse-CDF sampling, i.i.d. across ``shape`` and independent per prompt.

    Args:
        probs: ``[Q, N]`` categorical probabilities per prompt.
        shape: leading replicate shape, e.g. ``(R, G)``.
        generator: the explicit source of randomness.

    Returns:
        ``[*shape[:-1], Q, shape[-1]]`` long indices in ``[0, N)``, i.e. ``[R, Q, G]`` for ``shape=(R, G)``.
        Zero-probability responses are never drawn.
    """
    q, n = probs.shape
    cdf = probs.cumsum(-1)
    total = int(torch.tensor(shape).prod())
    u = torch.rand((q, total), generator=generator, dtype=probs.dtype) * cdf[:, -1:]
    idx = torch.searchsorted(cdf.contiguous(), u, right=True).clamp_(max=n - 1)
    # (Q, prod(shape)) -> (*shape[:-1], G, Q) -> (*shape[:-1], Q, G)
    return idx.T.reshape(*shape[:-1], shape[-1], q).transpose(-1, -2)


def gather_prompts(table: Tensor, idx: Tensor) -> Tensor:
    """``table[q, idx[..., q, g]]``: picks per-prompt entries of a ``[Q, N]`` table for ``idx`` ``[..., Q,
    G]``."""
    lead = idx.shape[:-2]
    q, g = idx.shape[-2:]
    flat = idx.reshape(-1, q, g)  # (B, Q, G)
    out = torch.gather(table.unsqueeze(0).expand(flat.shape[0], -1, -1), 2, flat)
    return out.reshape(*lead, q, g)
