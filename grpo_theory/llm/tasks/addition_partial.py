"""Addition with a partial-credit reward: the real-valued-reward counterpart of :class:`AdditionTask`.

The prompts, answers, training and evaluation sets are those of ``addition`` (the same sampling), so a
run with either task starts from the same checkpoint and is evaluated on the same problems by exact
match. Only the training reward differs:

    r(completion) = (number of positions j < n+1 with completion[j] == answer[j]) / (n + 1)

on the stripped completion, for the (n+1)-digit zero-padded answer; missing positions count as wrong and
a completion longer than the answer gets at most (n + 1 - 1) / (n + 1). So r = 1 iff the answer is exact,
and r takes n + 2 values in [0, 1]: 2-GRPO only sees which of two completions has more correct digits
(a sign), 16-GRPO also how many more (a standardized magnitude).
"""

from __future__ import annotations

from dataclasses import dataclass

from grpo_theory.llm.tasks.addition import AdditionTask
from grpo_theory.llm.tasks.problem import Problem


@dataclass(frozen=True)
class PartialAdditionTask(AdditionTask):
    """``addition`` whose reward is the fraction of answer digits in place (see the module docstring).

    Registered as ``addition_partial`` in :data:`grpo_theory.llm.tasks.TASKS`; its ``name`` stays
    ``"addition"`` because the problem streams are keyed by it: the same training and evaluation problems.
    """

    def reward(self, problem: Problem, completion: str) -> float:
        text, answer = completion.strip(), problem.answer
        hits = sum(a == b for a, b in zip(text, answer))
        if len(text) > len(answer):
            hits = min(hits, len(answer) - 1)  # extra characters: never full credit
        return hits / len(answer)
