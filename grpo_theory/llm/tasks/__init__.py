"""Verifiable tasks: problem generators, rewards, SFT targets, the registry and the fixed problem sets.

One module per task family, all satisfying the :class:`~grpo_theory.llm.tasks.problem.Task` protocol:

* ``addition`` (:mod:`.addition`) -- ``"123+456="`` -> ``"0579"``, exact match;
  ``addition_partial`` (:mod:`.addition_partial`) -- the same problems, reward = fraction of digits in place;
* ``countdown`` (:mod:`.countdown`, solver in :mod:`.countdown_solver`) -- ``"3,5,7,11 24="``, any
  expression reaching the target counts;
* ``compare``, ``add_question`` (:mod:`.chat`) -- English questions for chat models, lenient verifiers.

The character-level tasks use the tiny tokenizer's alphabet ``0-9 + - * ( ) = , space``. The problem sets
(:mod:`.problem_sets`) are shared by all tasks: a held-out evaluation set, a training set that never
contains a prompt of the evaluation pool, and the endless SFT stream. Everything is importable from this
package: ``from grpo_theory.llm.tasks import make_task, train_problems``.
"""

from __future__ import annotations

from grpo_theory.llm.tasks.addition import AdditionTask
from grpo_theory.llm.tasks.addition_partial import PartialAdditionTask
from grpo_theory.llm.tasks.chat import CHAT_TASKS, AddQuestionTask, CompareTask
from grpo_theory.llm.tasks.countdown import CountdownTask, ParseError, evaluate_expression, uses_at_most_once
from grpo_theory.llm.tasks.countdown_solver import all_solutions, reachable, solve_countdown
from grpo_theory.llm.tasks.problem import Problem, Task
from grpo_theory.llm.tasks.problem_sets import (
    EVAL_POOL,
    ProblemStream,
    eval_problems,
    eval_prompts,
    problem_stream,
    train_problems,
)

TASKS: dict[str, type] = {
    "addition": AdditionTask,
    "addition_partial": PartialAdditionTask,
    "countdown": CountdownTask,
    **CHAT_TASKS,
}
"""Every task class by the name ``make_task`` (and ``TrainConfig.task``) accepts."""


def make_task(name: str, **kwargs) -> Task:
    """Build a task by its name in :data:`TASKS` with its dataclass fields as keywords."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {sorted(TASKS)}")
    return TASKS[name](**kwargs)


__all__ = [
    "CHAT_TASKS",
    "EVAL_POOL",
    "TASKS",
    "AddQuestionTask",
    "AdditionTask",
    "CompareTask",
    "CountdownTask",
    "ParseError",
    "PartialAdditionTask",
    "Problem",
    "ProblemStream",
    "Task",
    "all_solutions",
    "eval_problems",
    "eval_prompts",
    "evaluate_expression",
    "make_task",
    "problem_stream",
    "reachable",
    "solve_countdown",
    "train_problems",
    "uses_at_most_once",
]
