"""The names the package uses for loss aggregation modes and score kinds, in one place.

Every default, check and error message elsewhere takes these names from here (a test scans the package's
string literals for spellings of such names and fails on one that is not listed below). The module imports
only :mod:`typing`, so configs and command lines can use it without importing torch.

Aggregation modes (how a per-token loss ``[..., T]`` becomes a scalar; the math is in
:func:`grpo_theory.losses.aggregate`):

* ``AGG_MODES``: verl's five ``loss_agg_mode`` names; ``token-mean`` is the batch-wide token mean.
* ``GROUP_AGG_MODES``: modes that need the prompt dimension (``[P, G, T]``): ``prompt-mean-token-mean``,
  the DAPO paper's per-prompt token mean.
* ``AGG_ALIASES``: other libraries' names (TRL's ``loss_type``) for one of ``ALL_AGG_MODES``. There are
  no underscore spellings of our own names.

Score kinds (which per-response gradient a Monte Carlo or real-model statistic is about):

* ``"summed"``: :math:`\\nabla\\log\\pi(o\\mid q) = \\sum_t \\nabla\\log\\pi(o_t\\mid o_{<t}, q)`, the exact
  score; it has mean 0 under :math:`\\pi(\\cdot\\mid q)`.
* ``"length-normalized"``: :math:`\\nabla\\log\\pi(o\\mid q)/|o|`, the per-sequence token mean of the
  paper's GRPO (and of length-normalized DPO log-probs); not centered when lengths vary.
"""

from __future__ import annotations

from typing import Literal, get_args

AggMode = Literal[
    "token-mean",
    "seq-mean-token-mean",
    "seq-mean-token-sum",
    "seq-mean-token-sum-norm",
    "token-sum",
]
GroupAggMode = Literal["prompt-mean-token-mean"]
AnyAggMode = Literal[AggMode, GroupAggMode]
AggAlias = Literal["grpo", "bnpo", "dapo", "dr_grpo"]
ScoreKind = Literal["summed", "length-normalized"]

AGG_MODES: tuple[AggMode, ...] = get_args(AggMode)
GROUP_AGG_MODES: tuple[GroupAggMode, ...] = get_args(GroupAggMode)
#: Every mode :func:`grpo_theory.losses.aggregate` accepts (``AGG_MODES`` stays the five verl modes).
ALL_AGG_MODES: tuple[AnyAggMode, ...] = AGG_MODES + GROUP_AGG_MODES

#: TRL ``loss_type`` -> our mode: ``grpo`` (per-sequence token mean, then mean over sequences), ``bnpo``
#: (local token mean), ``dapo`` (token mean over the *global* token count: pass ``normalizer``),
#: ``dr_grpo`` (sum / (num_sequences * max_completion_length)). verl's names are ours.
AGG_ALIASES: dict[AggAlias, AnyAggMode] = {
    "grpo": "seq-mean-token-mean",
    "bnpo": "token-mean",
    "dapo": "token-mean",
    "dr_grpo": "seq-mean-token-sum-norm",
}

SCORE_KINDS: tuple[ScoreKind, ...] = get_args(ScoreKind)

__all__ = [
    "AGG_ALIASES",
    "AGG_MODES",
    "ALL_AGG_MODES",
    "GROUP_AGG_MODES",
    "SCORE_KINDS",
    "AggAlias",
    "AggMode",
    "AnyAggMode",
    "GroupAggMode",
    "ScoreKind",
]
