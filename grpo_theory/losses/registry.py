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
"""

from __future__ import annotations

from collections.abc import Callable

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
