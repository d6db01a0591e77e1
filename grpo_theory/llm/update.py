"""The optimizer step of the RL trainer: loss keywords from the registry, lr schedule, one AdamW update.

The loss is ``LOSSES[cfg.loss]`` from :mod:`grpo_theory.losses.registry`, called with ``[P, G, T]``
tensors; what the trainer must know about it (group size, reference, which run options it takes) is
its :class:`~grpo_theory.losses.registry.LossInfo`, so nothing here branches on a loss name.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import torch

from grpo_theory.llm.config import TrainConfig
from grpo_theory.llm.rollouts import Batch, autocast
from grpo_theory.losses import LOSSES
from grpo_theory.losses.registry import LOSS_INFO, loss_info

#: Loss keyword -> run option, per registry loss that declares its options (a view of ``LOSS_INFO``).
LOSS_CONVENTIONS: dict[str, dict[str, str]] = {
    name: dict(info.options) for name, info in LOSS_INFO.items() if info.options is not None
}


#: For a loss without declared options: loss keywords that take a run option of another name.
SIGNATURE_ALIASES = {"loss_agg_mode": "agg"}


def loss_conventions(cfg: TrainConfig, fn: Callable | None = None) -> dict[str, Any]:
    """Keyword arguments for ``LOSSES[cfg.loss]`` from the run config.

    The entry's ``LossInfo.options`` (loss keyword -> run option) when it has them; otherwise every
    keyword-only parameter of its signature whose name (after :data:`SIGNATURE_ALIASES`) is a
    TrainConfig field is forwarded.
    """
    info = loss_info(cfg.loss)
    if info.options is not None:
        return {kw: getattr(cfg, f) for kw, f in info.options.items()}
    fn = fn or LOSSES[cfg.loss]
    names = {f.name for f in dataclasses.fields(cfg)}
    params = inspect.signature(fn).parameters.values()
    option = {p.name: SIGNATURE_ALIASES.get(p.name, p.name) for p in params if p.kind is p.KEYWORD_ONLY}
    return {kw: getattr(cfg, f) for kw, f in option.items() if f in names}


def needs_reference(cfg: TrainConfig) -> bool:
    """Whether the loss reads the frozen start policy's log-probs (DPO's reference, or a KL penalty)."""
    return loss_info(cfg.loss).needs_reference or cfg.kl_coef > 0


def check_loss(cfg: TrainConfig) -> None:
    """``ValueError`` for an unknown loss or a group size the loss does not take."""
    g = loss_info(cfg.loss).group_size
    if g is not None and cfg.group_size != g:
        raise ValueError(f"loss {cfg.loss!r} works on groups of {g}: "
                         f"set group_size={g} (got {cfg.group_size})")


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based): ``lr * (step + 1) / warmup_steps`` during the
    linear warm-up over the first ``warmup_steps`` steps (the paper's schedule), ``lr`` after."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    return cfg.lr


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(
        [q for q in model.parameters() if q.requires_grad], lr=cfg.lr,
        betas=(cfg.adam_beta1, cfg.adam_beta2), weight_decay=cfg.weight_decay,
    )


def update_step(policy, optimizer, loss_fn, conventions: dict[str, Any], mb: Batch, cfg: TrainConfig,
                device: torch.device, lr: float) -> dict[str, float]:
    """One optimizer step on one mini-batch; returns the loss's metrics plus grad norm and lr.

    ``mb.old_logp`` None means on-policy (the first mini-batch of a generation batch): the sampling
    policy *is* the current one, and ``old_logp = logp.detach()`` gives ratio 1 exactly.
    """
    p, g = mb.rewards.shape
    policy.model.train()
    with autocast(cfg, device):
        # [P*G, T], with grad; of softmax(logits / temperature), the distribution that sampled
        logp = policy.token_logprobs(mb.rollouts, micro_batch=None, temperature=cfg.temperature).float()
    t = logp.shape[1]
    mask = mb.rollouts.completion_mask.to(device).bool()
    old = mb.old_logp if mb.old_logp is not None else logp.detach()
    ref = None if mb.ref_logp is None else mb.ref_logp.view(p, g, t)
    out = loss_fn(logp.view(p, g, t), old.view(p, g, t), mb.rewards.to(device), mask.view(p, g, t),
                  ref_logp=ref, **conventions)
    if not torch.isfinite(out.loss):
        raise FloatingPointError(f"non-finite loss {float(out.loss)} (metrics: {out.metrics})")
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    params = [q for q in policy.model.parameters() if q.requires_grad]
    max_norm = cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf")
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    optimizer.step()
    policy.model.eval()
    metrics = {f"loss/{k}": float(v) for k, v in out.metrics.items()}
    metrics["loss/grad_norm"] = grad_norm
    metrics["loss/lr"] = lr
    return metrics
