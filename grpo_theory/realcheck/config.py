"""The fields every real-model check shares, documented once (see :mod:`grpo_theory.configfields`).

Each check's config (``GradEquivConfig``, ``DirectionConfig``, ``CovarianceConfig``, ``DiscardConfig``,
``BudgetConfig``, ``SmolChecksConfig``) is a frozen dataclass that extends :class:`CheckConfig`; a
check redeclares a shared field only to change its default or say more about it. Every field is an
option of ``grpo-theory realcheck <name>``. The whole config (as JSON) is stored in each result and
compared before a finished result is reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from grpo_theory.configfields import option
from grpo_theory.llm.tasks import TASKS


@dataclass(frozen=True)
class CheckConfig:
    """The policy, the task, the seed and the thread count of a real-model check."""

    model: str = option("tiny", "policy: 'tiny', 'smollm2' or a checkpoint directory")
    task: str = option("addition", "task (exact-match reward), a name of grpo_theory.llm.tasks.make_task",
                       choices=tuple(TASKS))
    seed: int = option(0, "seed of everything the check draws: prompts, sampling (and, where used, the "
                       "sketch, the permutations, the trainer's data)", minimum=0)
    threads: int = option(1, "torch CPU threads (1 is fastest for small models on a shared machine)",
                          minimum=1)
