"""Mixed pairs for the R4 check (two rollouts of one prompt, one rewarded 1 and one 0) and their gradients.

A pair is *mixed* when its two rewards differ (a tied pair has zero 2-GRPO advantage and no DPO
preference). :func:`sample_pairs` draws them prompt by prompt; :func:`truncate_mask` makes the two
completions' lengths unequal at random (the identity's constant depends on the lengths);
:func:`grpo_grad` and :func:`dpo_grad` are the two flat parameter gradients compared, each autograd
through the loss library's loss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from grpo_theory.losses import online_dpo_loss, two_grpo_loss
from grpo_theory.realcheck._common import flat_grad, pairs_view

Tensor = torch.Tensor
#: 2-GRPO conventions of the paper's algebra: population std, no eps, ratio 1 (on-policy), no KL.
GRPO_CONVENTIONS: dict[str, Any] = {"std_ddof": 0, "eps": 0.0, "beta": 0.0}
#: ``GradEquivConfig.reward``: the task's exact match, or the last integer in the completion.
REWARDS = ("exact", "last_number")


@dataclass(frozen=True)
class LastNumberReward:
    """A task wrapper whose reward is 1 iff the last integer in the completion equals ``problem.target``."""

    task: Any

    @property
    def max_new_tokens(self) -> int:
        return self.task.max_new_tokens

    def reward(self, problem, completion: str) -> float:
        nums = re.findall(r"-?\d+", completion)
        return float(bool(nums) and int(nums[-1]) == problem.target)


@dataclass
class Pairs:
    """Mixed pairs, prompt-major: rows 2i, 2i+1 of ``rollouts`` are pair i; ``rewards`` is ``[P, 2]``."""

    rollouts: Any
    rewards: Tensor
    problems: list = field(default_factory=list)
    prompts_tried: int = 0

    @property
    def mask(self) -> Tensor:
        """``[P, 2, T]`` bool completion mask."""
        return pairs_view(self.rollouts.completion_mask.bool(), 2)


def sample_pairs(policy, task, problems, n_pairs: int, *, seed: int, max_new_tokens: int = 0,
                 temperature: float = 1.0, batch_prompts: int = 128, progress: bool = True) -> Pairs:
    """Sample 2 rollouts per problem (``temperature``, top-p 1) until ``n_pairs`` mixed pairs are found.

    Raises ``RuntimeError`` if ``problems`` runs out first.
    """
    from grpo_theory.llm.policy import Rollouts

    kept: list[Any] = []
    rewards: list[list[float]] = []
    probs: list[Any] = []
    tried = 0
    bar = tqdm(total=n_pairs, desc="sampling mixed pairs", disable=not progress, leave=False)
    for s in range(0, len(problems), batch_prompts):
        chunk = problems[s:s + batch_prompts]
        r = policy.generate([p.prompt for p in chunk], 2, temperature=temperature, top_p=1.0,
                            max_new_tokens=max_new_tokens or task.max_new_tokens, seed=seed * 100_003 + s)
        tried += len(chunk)
        for i, p in enumerate(chunk):
            rw = [task.reward(p, r.texts[2 * i]), task.reward(p, r.texts[2 * i + 1])]
            if rw[0] != rw[1] and len(kept) < n_pairs:
                kept.append(r.select([2 * i, 2 * i + 1]))
                rewards.append(rw)
                probs.append(p)
                bar.update(1)
        if len(kept) >= n_pairs:
            break
    bar.close()
    if len(kept) < n_pairs:
        raise RuntimeError(f"only {len(kept)} mixed pairs in {tried} prompts (wanted {n_pairs}); the policy "
                           "is almost always right or always wrong on this task: raise max_prompts or change "
                           "task")
    return Pairs(Rollouts.cat(kept), torch.tensor(rewards, dtype=torch.float32), probs, tried)


def truncate_mask(mask: Tensor, seed: int) -> Tensor:
    """Each row's mask cut to a uniform random length in ``1..len`` (a random prefix of the completion)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = mask.sum(-1)
    u = torch.rand(lengths.shape, generator=gen)
    new = (1 + torch.floor(u * lengths.clamp(min=1))).clamp(max=lengths.clamp(min=1))
    pos = torch.arange(mask.shape[-1]).expand_as(mask)
    return mask & (pos < new.unsqueeze(-1))


# ---------------------------------------------------------------------------------------------- gradients


def pair_logps(policy, ref_model, rollouts) -> tuple[Tensor, Tensor]:
    """Token log-probs ``[P, 2, T]`` of the pairs: the policy's (with grad) and the reference's (without)."""
    logp = pairs_view(policy.token_logprobs(rollouts), 2)
    with torch.no_grad():
        ref = pairs_view(policy.token_logprobs(rollouts, model=ref_model), 2)
    return logp, ref


def grpo_grad(logp: Tensor, rewards: Tensor, mask: Tensor, mode: str, params, *,
              retain_graph: bool = True) -> Tensor:
    """∇ of :func:`two_grpo_loss` (on-policy: old = current, detached) for one aggregation mode."""
    loss = two_grpo_loss(logp, logp.detach(), rewards, mask, loss_agg_mode=mode, **GRPO_CONVENTIONS).loss
    return flat_grad(loss, params, retain_graph=retain_graph)


def dpo_grad(logp: Tensor, ref: Tensor, rewards: Tensor, mask: Tensor, beta: float, params, *,
             length_normalize: bool = False, retain_graph: bool = True) -> Tensor:
    """∇ of :func:`online_dpo_loss` (mean of the sigmoid DPO loss over the pairs)."""
    loss = online_dpo_loss(logp, logp.detach(), rewards, mask, ref_logp=ref, beta=beta,
                           length_normalize=length_normalize).loss
    return flat_grad(loss, params, retain_graph=retain_graph)


def margins(logp: Tensor, ref: Tensor, rewards: Tensor, mask: Tensor, beta: float) -> Tensor:
    r"""The DPO margins ``[P]``,
    :math:`\Delta_i = \beta[(\log\pi-\log\pi_{\rm ref})(o^-) - (\log\pi-\log\pi_{\rm ref})(o^+)]`."""
    from grpo_theory.losses import pairs_from_groups, sequence_logps

    with torch.no_grad():
        pol, rf = sequence_logps(logp.detach(), mask), sequence_logps(ref, mask)
        pg = pairs_from_groups(rewards, pol - rf)
        return beta * (pg.rejected[0] - pg.chosen[0]).double()
