"""``LOSSES``: loss name -> callable with one trainer signature.

Every entry is called as ``fn(logp, old_logp, rewards, mask, *, ref_logp=None, **conventions)`` and
returns a :class:`~grpo_theory.losses.grpo.LossOutput`, so a trainer receives a function instead of
branching on a string. Defaults of each entry are those of the function it names:

=============== ====================================================================================
``grpo``        :func:`grpo_loss`: population std, eps 0, clip 0.2/0.28, seq-mean-token-mean, beta 0
``two_grpo``    :func:`two_grpo_loss`: the same, and raises unless G = 2
``dr_grpo``     :func:`dr_grpo_loss`: centered advantages, seq-mean-token-sum-norm (horizon T)
``rloo``        :func:`rloo_loss`: leave-one-out advantages, clip 0.2/0.28, seq-mean-token-mean
``online_dpo``  :func:`online_dpo_loss`: G = 2 pairs by reward, ties dropped, ``ref_logp`` required, beta 0.1
``cispo``       :func:`cispo_loss`: TRL ``cispo``: sg(min(rho, 5)) A log pi, token-mean
``sapo``        :func:`sapo_loss`: TRL ``sapo``: sigmoid gate (tau 1.0 / 1.05), seq-mean-token-mean
``gspo``        :func:`gspo_loss`: verl ``gspo``: sequence ratio, clip 3e-4 / 4e-4, seq-mean-token-mean
``gmpo``        :func:`gmpo_loss`: verl ``geo_mean``: geometric-mean ratio, log-space clip 0.4, sequence mean
=============== ====================================================================================

``LOSS_INFO`` holds what a trainer must know about an entry besides its function (:class:`LossInfo`):
the group size it requires, whether it reads a reference policy's log-probs, and which run options
its keywords take. An entry without one gets ``LossInfo()``: any group size, no reference (unless
the run adds a KL penalty), and every keyword-only parameter named like a run option is forwarded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from grpo_theory.losses.dpo import online_dpo_loss
from grpo_theory.losses.grpo import LossOutput, dr_grpo_loss, grpo_loss, rloo_loss, two_grpo_loss
from grpo_theory.losses.variant_losses import cispo_loss, gmpo_loss, gspo_loss, sapo_loss

LossFn = Callable[..., LossOutput]

LOSSES: dict[str, LossFn] = {
    "grpo": grpo_loss,
    "two_grpo": two_grpo_loss,
    "dr_grpo": dr_grpo_loss,
    "rloo": rloo_loss,
    "online_dpo": online_dpo_loss,
    "cispo": cispo_loss,
    "sapo": sapo_loss,
    "gspo": gspo_loss,
    "gmpo": gmpo_loss,
}


@dataclass(frozen=True)
class LossInfo:
    """Trainer metadata of a registry loss.

    group_size: the G the loss requires (2 for the pair losses), or None for any G >= 2.
    needs_reference: the loss reads ``ref_logp`` whatever the KL coefficient (DPO's reference policy).
    options: loss keyword -> name of the run option (``TrainConfig`` field) whose value it takes; None =
        every keyword-only parameter whose name is a run option (and ``loss_agg_mode`` from ``agg``).
        A keyword left out keeps the loss's own default (Dr. GRPO fixes its aggregation; RLOO has no std).
    """

    group_size: int | None = None
    needs_reference: bool = False
    options: Mapping[str, str] | None = None


# ``beta`` is the KL coefficient in the GRPO family and the inverse temperature in DPO.
_GRPO_OPTIONS = {"std_ddof": "std_ddof", "eps": "eps", "clip_low": "clip_low", "clip_high": "clip_high",
                 "loss_agg_mode": "agg", "beta": "kl_coef"}

LOSS_INFO: dict[str, LossInfo] = {
    "grpo": LossInfo(options=_GRPO_OPTIONS),
    "two_grpo": LossInfo(group_size=2, options=_GRPO_OPTIONS),
    "dr_grpo": LossInfo(options={k: v for k, v in _GRPO_OPTIONS.items() if k != "loss_agg_mode"}),
    "rloo": LossInfo(options={k: v for k, v in _GRPO_OPTIONS.items() if k not in ("std_ddof", "eps")}),
    "online_dpo": LossInfo(group_size=2, needs_reference=True, options={"beta": "dpo_beta"}),
    # The variants keep their own ratio limits (CISPO's cap, SAPO's gate temperatures, GSPO's sequence-level
    # clip 3e-4 / 4e-4, GMPO's log-space clip): the run's clip_low / clip_high are PPO token-ratio clips.
    "cispo": LossInfo(options={k: v for k, v in _GRPO_OPTIONS.items() if not k.startswith("clip")}),
    "sapo": LossInfo(options={k: v for k, v in _GRPO_OPTIONS.items() if not k.startswith("clip")}),
    "gspo": LossInfo(options={k: v for k, v in _GRPO_OPTIONS.items() if not k.startswith("clip")}),
    "gmpo": LossInfo(options={"std_ddof": "std_ddof", "eps": "eps", "beta": "kl_coef"}),
}


def loss_info(name: str) -> LossInfo:
    """The metadata of ``LOSSES[name]``; ``LossInfo()`` for an entry registered without any."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; registered: {sorted(LOSSES)}")
    return LOSS_INFO.get(name, LossInfo())
