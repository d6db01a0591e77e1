"""Rollout collection for the RL trainer: seeded data order, generation batches, 2-GRPO+RS resampling.

A generation batch is prompt-major: rows ``p*G .. p*G+G-1`` of its rollouts are the G completions of
prompt p, and ``rewards`` is ``[P, G]``. Every random draw here is a pure function of
``(cfg.seed, generation index, round)`` (:func:`derive_seed`), never of a global RNG, so a resumed
run draws what the uninterrupted one drew.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from grpo_theory.llm.completions import Rollouts
from grpo_theory.llm.config import TrainConfig

if TYPE_CHECKING:
    from grpo_theory.llm.run_state import Timer

Tensor = torch.Tensor

#: Rows per generate call and per no-grad log-prob pass when ``micro_batch`` is 0. Measured on the tiny
#: model (1 CPU thread): 4,096-row passes cost ~1.5-2x more per row than 256-row ones; 128-1,024 are flat.
DEFAULT_MICRO_BATCH = 256


def micro_batch_rows(cfg: TrainConfig) -> int:
    """Rows per generate call and per no-grad forward pass."""
    return cfg.micro_batch or DEFAULT_MICRO_BATCH


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from its parts (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def epoch_order(seed: int, epoch: int, n: int) -> list[int]:
    """The training-set order of one epoch: a seeded shuffle, different every epoch."""
    order = list(range(n))
    random.Random(derive_seed("order", seed, epoch)).shuffle(order)
    return order


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast when asked for (weights and optimizer state stay fp32), else a no-op."""
    if cfg.dtype == "bfloat16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class Batch:
    """One generation batch, prompt-major: rows ``p*G .. p*G+G-1`` are the G rollouts of prompt p."""

    rollouts: Rollouts
    rewards: Tensor  # [P, G]
    problems: list  # [P] Problem
    old_logp: Tensor | None = None  # [P*G, T]
    ref_logp: Tensor | None = None  # [P*G, T]
    stats: dict[str, float] = field(default_factory=dict)
    drawn: list[int] = field(default_factory=list)  # pool indices of the prompts drawn by resampling

    @property
    def num_prompts(self) -> int:
        return self.rewards.shape[0]

    def mini_batch(self, i: int, prompts: int) -> Batch:
        """Prompts ``i*prompts .. (i+1)*prompts - 1`` with all their rollouts."""
        g = self.rewards.shape[1]
        rows = torch.arange(i * prompts * g, (i + 1) * prompts * g)
        return Batch(
            rollouts=self.rollouts.select(rows),
            rewards=self.rewards[i * prompts:(i + 1) * prompts],
            problems=self.problems[i * prompts:(i + 1) * prompts],
            old_logp=None if self.old_logp is None else self.old_logp[rows],
            ref_logp=None if self.ref_logp is None else self.ref_logp[rows],
        )


def tied_groups(rewards: Tensor) -> Tensor:
    """``[P]`` bool: groups whose rewards are all equal (zero advantage, no gradient signal)."""
    return (rewards == rewards[:, :1]).all(dim=1)


def generate_groups(policy, task, problems: Sequence, cfg: TrainConfig, seed: int, timer: Timer,
                    device: torch.device) -> tuple[Any, Tensor]:
    """G rollouts for each problem and their rewards ``[P, G]``."""
    with timer("gen"), torch.no_grad(), autocast(cfg, device):
        rollouts = policy.generate(
            [p.prompt for p in problems], cfg.group_size,
            temperature=cfg.temperature, top_p=cfg.top_p,
            max_new_tokens=cfg.max_new_tokens or task.max_new_tokens, greedy=False, seed=seed,
            batch_size=micro_batch_rows(cfg),
        )
    with timer("reward"):
        g = cfg.group_size
        flat = [task.reward(problems[i // g], text) for i, text in enumerate(rollouts.texts)]
        rewards = torch.tensor(flat, dtype=torch.float32).view(len(problems), g)
        if cfg.reward_mode == "random":
            # The random-reward control: coin flips independent of the completions, seeded by this batch.
            gen = torch.Generator().manual_seed(derive_seed("random-reward", seed))
            rewards = (torch.rand(rewards.shape, generator=gen) < cfg.random_reward_rate).float()
    return rollouts, rewards


def collect(policy, task, problems: list, pool: Sequence, cfg: TrainConfig, gen_index: int, timer: Timer,
            device: torch.device, used: set[int] | None = None) -> Batch:
    """Sample one generation batch; with ``cfg.resample``, refill zero-signal groups (2-GRPO+RS).

    Resampling (DAPO's dynamic sampling, the paper's 2-GRPO+RS): a group whose G rewards are all equal
    carries no gradient; it is replaced by the group of a *new* prompt, one not yet used in this epoch,
    until every slot holds an informative group, the budget ``resample_budget x base rollouts`` is spent
    (8 = 16-GRPO's rollouts for G = 2), no unused prompt is left, or ``resample_rounds`` rounds have run.

    used: pool indices already used in this epoch (the epoch's generation batches so far, this one
        included, and the prompts resampling drew for them); ``None`` = only this batch's prompts. Fresh
        prompts are drawn without replacement from the rest of the pool, so a prompt is never drawn
        twice in an epoch by resampling, and a drawn prompt still keeps its own later slot of the epoch
        (the number of optimizer steps is that of 2-GRPO). In the last generation batch of an epoch no
        prompt is left unused: its tied groups stay, as in plain 2-GRPO.

    Each round asks for enough prompts to fill the missing slots at the informative rate seen so far.
    Slots that stay unfilled keep their tied group (zero advantage). Every generated rollout counts
    towards the run's rollouts, discarded or not. ``Batch.drawn`` lists the drawn pool indices (tied or
    not) in drawing order, which the caller adds to ``used``.
    """
    g = cfg.group_size
    seed = derive_seed("gen", cfg.seed, gen_index, 0)
    rollouts, rewards = generate_groups(policy, task, problems, cfg, seed, timer, device)
    generated_groups = len(problems)
    if not cfg.resample:
        n_tied = int(tied_groups(rewards).sum())
        stats = {"rollouts": float(generated_groups * g), "groups": float(generated_groups),
                 "discarded_groups": float(n_tied), "rounds": 1.0}
        return Batch(rollouts, rewards, list(problems), stats=stats)

    target = len(problems)
    budget_groups = int(cfg.resample_budget * target)
    parts = [(rollouts, rewards, list(problems))]
    informative = int((~tied_groups(rewards)).sum())
    index_of = {p.prompt: i for i, p in enumerate(pool)}
    excluded = set(used or ()) | {index_of[p.prompt] for p in problems if p.prompt in index_of}
    drawn: list[int] = []
    rng = random.Random(derive_seed("resample", cfg.seed, gen_index))
    rounds = 1
    while informative < target and rounds <= cfg.resample_rounds:
        rate = max(informative / generated_groups, 1.0 / 16)
        want = math.ceil((target - informative) / rate)
        fresh_pool = [i for i in range(len(pool)) if i not in excluded]
        n_new = min(want, budget_groups - generated_groups, len(fresh_pool))
        if n_new <= 0:
            break
        picked = rng.sample(fresh_pool, n_new)
        excluded.update(picked)
        drawn += picked
        fresh = [pool[i] for i in picked]
        r, rw = generate_groups(policy, task, fresh, cfg, derive_seed("gen", cfg.seed, gen_index, rounds),
                                timer, device)
        parts.append((r, rw, fresh))
        generated_groups += n_new
        informative += int((~tied_groups(rw)).sum())
        rounds += 1

    # Keep the original informative groups in place and put fresh informative groups into the tied
    # slots, in order of generation; leftover slots keep their tied group.
    first_tied = tied_groups(parts[0][1])
    fresh_informative = [(k, int(i)) for k, (_, rw, _) in enumerate(parts[1:], start=1)
                         for i in torch.nonzero(~tied_groups(rw)).flatten()]
    slots: list[tuple[int, int]] = []
    it = iter(fresh_informative)
    for i in range(target):
        if bool(first_tied[i]):
            slots.append(next(it, (0, i)))
        else:
            slots.append((0, i))
    batch = _assemble(parts, slots, g)
    n_tied_used = int(tied_groups(batch.rewards).sum())
    batch.stats = {"rollouts": float(generated_groups * g), "groups": float(generated_groups),
                   "discarded_groups": float(generated_groups - (target - n_tied_used)),
                   "rounds": float(rounds)}
    batch.drawn = drawn
    return batch


def _assemble(parts: list, slots: list[tuple[int, int]], g: int) -> Batch:
    """A batch made of group ``i`` of part ``k`` for each ``(k, i)`` in ``slots``."""
    pieces, rewards, problems = [], [], []
    for k, i in slots:
        r, rw, probs = parts[k]
        pieces.append(r.select(torch.arange(i * g, (i + 1) * g)))
        rewards.append(rw[i])
        problems.append(probs[i])
    return Batch(Rollouts.cat(pieces), torch.stack(rewards), problems)


def token_logprobs(policy, rollouts, cfg: TrainConfig, device: torch.device, model=None) -> Tensor:
    """Per-token log-probs ``[B, T]`` of the completions under ``softmax(logits / cfg.temperature)``, the
    distribution the rollouts were sampled from; no grad (old / reference policy), ``micro_batch`` rows
    per forward pass."""
    with torch.no_grad(), autocast(cfg, device):
        return policy.token_logprobs(rollouts, model=model, micro_batch=micro_batch_rows(cfg),
                                     temperature=cfg.temperature).float()


def attach_logprobs(batch: Batch, policy, cfg: TrainConfig, device: torch.device, timer: Timer,
                    ref_model=None) -> None:
    """Fill ``batch.old_logp`` (for off-policy mini-batches) and ``batch.ref_logp`` (given a reference).

    ``old_logp`` is the sampling policy's log-probs: those ``generate`` recorded (the same distribution,
    no forward pass), recomputed only for a policy that does not record them. The first mini-batch of
    a batch does not use it (on-policy: ``old_logp = logp.detach()``), so it is skipped with one.
    """
    if cfg.updates_per_generation > 1:
        if batch.rollouts.gen_logprobs is not None:
            batch.old_logp = batch.rollouts.gen_logprobs.to(device).float()
        else:
            with timer("logprob"):
                batch.old_logp = token_logprobs(policy, batch.rollouts, cfg, device)
    if ref_model is not None:
        with timer("ref"):
            batch.ref_logp = token_logprobs(policy, batch.rollouts, cfg, device, model=ref_model)
