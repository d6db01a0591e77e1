"""The loss library: GRPO, 2-GRPO, Dr. GRPO, RLOO, DPO and the engines' CISPO, SAPO, GSPO, GMPO, with every
convention a visible keyword.

Shapes: rewards ``[P, G]`` (P prompts, G rollouts per prompt); per-token tensors ``logp``,
``old_logp``, ``ref_logp``, ``mask`` are ``[P, G, T]`` (T tokens, mask 0/1). Losses are to be
minimized. Slow loop-based float64 twins of every function live in
:mod:`grpo_theory.losses.reference` (CISPO/SAPO/GSPO/GMPO: :mod:`grpo_theory.losses.reference_variants`).
"""

from grpo_theory.losses.advantages import ADVANTAGE_PRESETS, group_advantages, rloo_advantages
from grpo_theory.losses.aggregate import (
    AGG_ALIASES,
    AGG_MODES,
    ALL_AGG_MODES,
    GROUP_AGG_MODES,
    aggregate,
    resolve_mode,
)
from grpo_theory.losses.contrastive import ContrastiveTerms, contrastive_form
from grpo_theory.losses.dpo import PairedGroups, dpo_loss, online_dpo_loss, pairs_from_groups, sequence_logps
from grpo_theory.losses.grpo import (
    LossOutput,
    dr_grpo_loss,
    grpo_loss,
    policy_loss_from_advantages,
    rloo_loss,
    two_grpo_loss,
)
from grpo_theory.losses.kl import (
    KL_KINDS,
    LOSS_KL_KINDS,
    kl_estimate,
    kl_importance_weighted,
    kl_penalized_rewards,
)
from grpo_theory.losses.registry import LOSSES
from grpo_theory.losses.surrogate import policy_surrogate
from grpo_theory.losses.surrogate_variants import (
    cispo_surrogate,
    gmpo_sequence_loss,
    gspo_surrogate,
    sapo_surrogate,
)
from grpo_theory.losses.variant_losses import cispo_loss, gmpo_loss, gspo_loss, sapo_loss

__all__ = [
    "ADVANTAGE_PRESETS",
    "AGG_ALIASES",
    "AGG_MODES",
    "ALL_AGG_MODES",
    "GROUP_AGG_MODES",
    "KL_KINDS",
    "LOSSES",
    "LOSS_KL_KINDS",
    "ContrastiveTerms",
    "LossOutput",
    "PairedGroups",
    "aggregate",
    "cispo_loss",
    "cispo_surrogate",
    "contrastive_form",
    "dpo_loss",
    "dr_grpo_loss",
    "gmpo_loss",
    "gmpo_sequence_loss",
    "group_advantages",
    "grpo_loss",
    "gspo_loss",
    "gspo_surrogate",
    "kl_estimate",
    "kl_importance_weighted",
    "kl_penalized_rewards",
    "online_dpo_loss",
    "pairs_from_groups",
    "policy_loss_from_advantages",
    "policy_surrogate",
    "resolve_mode",
    "rloo_advantages",
    "rloo_loss",
    "sapo_loss",
    "sapo_surrogate",
    "sequence_logps",
    "two_grpo_loss",
]
