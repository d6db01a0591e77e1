r"""Vectorized policy-gradient estimators on a :class:`~grpo_theory.montecarlo.toy_policy.ToyPolicy`.

The per-prompt group estimator, on-policy (ratio 1, nothing clipped), is

.. math::

    \hat g_G(q) = \frac1G\sum_{i=1}^G A_i\, g_i,\qquad g_i = \nabla_\theta\log\pi_\theta(o_i\mid q)
    \ \ (\text{or } g_i/|o_i| \text{ for ``length-normalized''}),

with the advantages :math:`A` computed by :mod:`grpo_theory.losses` (any entry of
``ADVANTAGE_PRESETS``, or RLOO). This is the gradient of the loss library's GRPO objective
(``seq-mean-token-mean``) at ratio 1; ``tests/montecarlo`` checks it against autograd through
:func:`grpo_theory.losses.grpo_loss`. Since :math:`g_i` is a row of the score table,
:math:`\hat g_G(q) = \sum_n w_n\,g_n` with :math:`w_n = \frac1G\sum_i A_i\mathbb 1[o_i = n]`, which is
how it is computed: a scatter-add of advantages into ``[R, Q, N]`` and one contraction with the
``[Q, N, D]`` score table.

Axis legend: R replicates, Q prompts, G rollouts, N responses, D parameters. Every sampler takes an
explicit ``torch.Generator``; everything is float64.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from grpo_theory.losses import ADVANTAGE_PRESETS, group_advantages, rloo_advantages
from grpo_theory.montecarlo.toy_policy import (
    ToyPolicy,
    gather_prompts,
    require_shared_parameters,
    sample_indices,
)
from grpo_theory.vocab import ScoreKind

Tensor = torch.Tensor
AdvantageFn = Callable[[Tensor], Tensor]

#: Estimator names: every ``ADVANTAGE_PRESETS`` key (``paper``, ``verl``, ``dr_grpo``, ...) and ``rloo``.
#: 2-GRPO is ``paper`` with G = 2.
ESTIMATORS = (*ADVANTAGE_PRESETS, "rloo")


def advantage_fn(estimator: str | dict) -> tuple[AdvantageFn, bool]:
    """The loss library's advantage function for ``estimator``, and whether it acts group by group.

    Args:
        estimator: a name in :data:`ESTIMATORS`, or a dict of :func:`group_advantages` keywords.

    Returns:
        ``(fn, per_group)``: ``fn`` maps rewards ``[P, G]`` to advantages ``[P, G]``; ``per_group``
        is False for ``scale="batch"``, whose std couples all prompts of one batch.
    """
    if estimator == "rloo":
        return rloo_advantages, True
    kwargs = ADVANTAGE_PRESETS[estimator] if isinstance(estimator, str) else dict(estimator)
    return partial(group_advantages, **kwargs), kwargs.get("scale", "group") != "batch"


def exact_family(estimator: str | dict) -> dict:
    """Closed-form family keywords (:mod:`~grpo_theory.montecarlo.exact`) matching ``estimator``.

    ``"rloo"`` -> RLOO; a preset name or a ``group_advantages`` keyword dict -> GRPO (same ddof and
    eps) or Dr. GRPO; ``scale="batch"`` has no closed form and raises ``ValueError``.
    """
    from grpo_theory.montecarlo.exact import family_of_preset

    if estimator == "rloo":
        return {"family": "rloo"}
    return family_of_preset(ADVANTAGE_PRESETS[estimator] if isinstance(estimator, str) else dict(estimator))


def apply_advantages(fn: AdvantageFn, rewards: Tensor, *, per_group: bool = True) -> Tensor:
    """Applies a ``[P, G] -> [P, G]`` advantage function to rewards ``[R, Q, G]``.

    A per-group function is called once on the ``[R*Q, G]`` stack; a batch-coupled one once per
    replicate, each replicate being one batch of Q prompts.
    """
    r, q, g = rewards.shape
    if per_group:
        return fn(rewards.reshape(r * q, g)).reshape(r, q, g)  # (R*Q, G) -> (R, Q, G)
    return torch.stack([fn(rewards[i]) for i in range(r)])


def scatter_weights(idx: Tensor, advantages: Tensor, num_responses: int) -> Tensor:
    """``w[r, q, n] = (1/G) sum_i A[r, q, i] 1[idx[r, q, i] = n]``, shape ``[R, Q, N]``."""
    r, q, g = idx.shape
    w = torch.zeros(r, q, num_responses, dtype=advantages.dtype)
    return w.scatter_add_(2, idx, advantages / g)


def group_gradients(
    policy: ToyPolicy, idx: Tensor, estimator: str | dict = "paper", *, kind: ScoreKind = "summed"
) -> Tensor:
    """Per-prompt estimates :math:`\\hat g_G(q)` for given sampled groups.

    Args:
        policy: the toy policy.
        idx: ``[R, Q, G]`` sampled response indices (from :func:`sample_groups`).
        estimator: see :func:`advantage_fn`.
        kind: score function, ``"summed"`` or ``"length-normalized"``.

    Returns:
        ``[R, Q, D]``.
    """
    fn, per_group = advantage_fn(estimator)
    rewards = gather_prompts(policy.rewards, idx)
    adv = apply_advantages(fn, rewards, per_group=per_group)
    w = scatter_weights(idx, adv, policy.num_responses)
    return torch.einsum("rqn,qnd->rqd", w, policy.score(kind))


def sample_groups(policy: ToyPolicy, num_replicates: int, group_size: int,
                  generator: torch.Generator) -> Tensor:
    """``[R, Q, G]`` i.i.d. on-policy response indices: G rollouts for every prompt, R times."""
    return sample_indices(policy.probs, (num_replicates, group_size), generator)


def sample_group_gradients(
    policy: ToyPolicy,
    group_size: int,
    num_replicates: int,
    generator: torch.Generator,
    estimator: str | dict = "paper",
    *,
    kind: ScoreKind = "summed",
    chunk: int = 8192,
) -> Tensor:
    """Draws R groups per prompt and returns the per-prompt estimates ``[R, Q, D]`` (chunked over R)."""
    out = []
    for start in range(0, num_replicates, chunk):
        n = min(chunk, num_replicates - start)
        out.append(group_gradients(policy, sample_groups(policy, n, group_size, generator), estimator,
                                   kind=kind))
    return torch.cat(out)


def minibatch_gradients(
    policy: ToyPolicy,
    num_prompts: int,
    group_size: int,
    num_replicates: int,
    generator: torch.Generator,
    estimator: str | dict = "paper",
    *,
    kind: ScoreKind = "summed",
    chunk: int = 4096,
) -> Tensor:
    """Mini-batch estimates :math:`\\frac1Q\\sum_{j=1}^Q \\hat g_G(q_j)` over a prompt population.

    Each replicate draws Q prompts uniformly *with replacement* from the policy's prompts (the
    population), then G rollouts per drawn prompt; a batch-coupled estimator sees the Q drawn
    prompts as its batch.

    Returns:
        ``[R, D]``.
    """
    require_shared_parameters(policy, "minibatch_gradients")
    fn, per_group = advantage_fn(estimator)
    score = policy.score(kind)
    cdf = policy.probs.cumsum(-1)
    out = []
    for start in range(0, num_replicates, chunk):
        r = min(chunk, num_replicates - start)
        prompts = torch.randint(policy.num_prompts, (r, num_prompts), generator=generator)  # (R, Q)
        u = torch.rand(r, num_prompts, group_size, generator=generator, dtype=cdf.dtype)
        rows = cdf[prompts]  # (R, Q, N)
        idx = torch.searchsorted(rows, u * rows[..., -1:], right=True).clamp_(max=policy.num_responses - 1)
        rewards = torch.gather(policy.rewards[prompts], 2, idx)  # (R, Q, G)
        adv = apply_advantages(fn, rewards, per_group=per_group)
        w = scatter_weights(idx, adv, policy.num_responses)  # (R, Q, N)
        # fold the Q drawn prompts onto the population: (R, Q, N) -> (R, Q_pop, N)
        wp = torch.zeros(r, policy.num_prompts, policy.num_responses, dtype=w.dtype)
        wp.scatter_add_(1, prompts.unsqueeze(-1).expand_as(w), w)
        out.append(torch.einsum("rpn,pnd->rd", wp, score) / num_prompts)
    return torch.cat(out)


def group_gradients_loop(
    policy: ToyPolicy,
    group_size: int,
    num_replicates: int,
    generator: torch.Generator,
    estimator: str | dict = "paper",
    *,
    kind: ScoreKind = "summed",
    idx: Tensor | None = None,
) -> Tensor:
    """Reference twin of :func:`sample_group_gradients`: one Python iteration per replicate, prompt and
    rollout.

    Samples each group with ``torch.multinomial`` (unless ``idx`` ``[R, Q, G]`` is given), calls the
    advantage function on that single group ``[1, G]`` (on the ``[Q, G]`` batch for batch-coupled
    estimators), and accumulates :math:`\\frac1G\\sum_i A_i g_i` rollout by rollout. Slow by design: it is
    the obviously-correct version that the vectorized one is tested and benchmarked against.

    Returns:
        ``[R, Q, D]``.
    """
    fn, per_group = advantage_fn(estimator)
    score = policy.score(kind)
    q_n, d = policy.num_prompts, policy.dim
    out = torch.zeros(num_replicates, q_n, d, dtype=score.dtype)
    for r in range(num_replicates):
        picks = []
        for q in range(q_n):
            if idx is None:
                picks.append(torch.multinomial(policy.probs[q], group_size, replacement=True,
                                               generator=generator))
            else:
                picks.append(idx[r, q])
        rewards = torch.stack([policy.rewards[q, picks[q]] for q in range(q_n)])  # (Q, G)
        if per_group:
            adv = torch.cat([fn(rewards[q : q + 1]) for q in range(q_n)])
        else:
            adv = fn(rewards)
        for q in range(q_n):
            for i in range(group_size):
                out[r, q] += adv[q, i] * score[q, picks[q][i]] / group_size
    return out
