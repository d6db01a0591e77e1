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
=============== ====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable

from grpo_theory.losses.dpo import online_dpo_loss
from grpo_theory.losses.grpo import LossOutput, dr_grpo_loss, grpo_loss, rloo_loss, two_grpo_loss

LossFn = Callable[..., LossOutput]

LOSSES: dict[str, LossFn] = {
    "grpo": grpo_loss,
    "two_grpo": two_grpo_loss,
    "dr_grpo": dr_grpo_loss,
    "rloo": rloo_loss,
    "online_dpo": online_dpo_loss,
}
