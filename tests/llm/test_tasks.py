"""Tasks: hand-written prompts/answers/rewards, the safe evaluator, the solver, and the fixed problem sets."""

from __future__ import annotations

import copy
import random

import pytest

from grpo_theory.llm.tasks import (
    EVAL_POOL,
    TASKS,
    AdditionTask,
    CountdownTask,
    ParseError,
    Problem,
    Task,
    all_solutions,
    eval_problems,
    evaluate_expression,
    make_task,
    problem_stream,
    reachable,
    solve_countdown,
    train_problems,
)

# --------------------------------------------------------------------------------------------------- addition


def test_addition_prompt_and_fixed_width_answer():
    t = AdditionTask()
    p = t.make(123, 456)
    assert (p.prompt, p.answer, p.numbers, p.target) == ("123+456=", "0579", (123, 456), 579)
    p = t.make(5, 17)
    assert (p.prompt, p.answer) == ("005+017=", "0022")
    assert t.make(999, 999).answer == "1998"
    assert AdditionTask(n_digits=2).make(7, 8).prompt == "07+08="
    assert t.max_new_tokens == 5  # 4 digits + <eos>


@pytest.mark.parametrize(
    ("completion", "reward"),
    [("0579", 1.0), (" 0579\n", 1.0), ("579", 0.0), ("0578", 0.0), ("05790", 0.0), ("", 0.0),
     ("05<pad>79", 0.0)],
)
def test_addition_reward_is_exact_match(completion, reward):
    t = AdditionTask()
    assert t.reward(t.make(123, 456), completion) == reward


def test_addition_samples_are_reproducible_and_correct():
    t = AdditionTask()
    a, b = t.sample(random.Random(7), 50), t.sample(random.Random(7), 50)
    assert a == b
    for p in a:
        x, y = map(int, p.prompt[:-1].split("+"))
        assert len(p.prompt) == 8 and int(p.answer) == x + y and len(p.answer) == 4
        assert t.reward(p, t.sft_completion(p)) == 1.0


def test_addition_rejects_bad_input():
    with pytest.raises(ValueError):
        AdditionTask(n_digits=0)
    with pytest.raises(ValueError):
        AdditionTask().make(1000, 1)


# -------------------------------------------------------------------------------------------------- evaluator


@pytest.mark.parametrize(
    ("text", "value", "used"),
    [
        ("(3+5)*2", 16, (3, 5, 2)),
        ("2+3*4", 14, (2, 3, 4)),
        ("10-2-3", 5, (10, 2, 3)),
        ("10-(2-3)", 11, (10, 2, 3)),
        ("2*(3+4)*5", 70, (2, 3, 4, 5)),
        (" 12 - 15 ", -3, (12, 15)),
        ("((7))", 7, (7,)),
        ("0", 0, (0,)),
    ],
)
def test_evaluator_hand_cases(text, value, used):
    assert evaluate_expression(text) == (value, used)


@pytest.mark.parametrize(
    "text",
    ["", "2+", "(2", "2)", "02", "-2", "2/3", "2**3", "2+*3", "()", "1e3", "__import__('os')", "2,3", "٣+1",
     "1" * 65],
)
def test_evaluator_rejects_non_expressions(text):
    with pytest.raises(ParseError):
        evaluate_expression(text)


def test_evaluator_is_bounded_on_deep_nesting():
    with pytest.raises(ParseError):
        evaluate_expression("(" * 500 + "1" + ")" * 500)


# -------------------------------------------------------------------------------------------------- countdown


def _cd(numbers, target):
    return Problem(prompt="", answer="", numbers=tuple(numbers), target=target)


@pytest.mark.parametrize(
    ("completion", "reward"),
    [
        ("(11-5)*(7-3)", 1.0),  # all four numbers
        ("3*7+11-5-5", 0.0),  # 5 used twice
        ("3*(11-5)+7-1", 0.0),  # 1 is not available
        ("11+13", 0.0),  # 13 is not available
        ("3*5+7", 0.0),  # valid expression, wrong value (22)
        ("(11-7)*(5+3)-8", 0.0),
        ("7*3+11-5-3", 0.0),
        ("garbage", 0.0),
        ("", 0.0),
        ("(11-5)*(7-3)=24", 0.0),
    ],
)
def test_countdown_reward_hand_cases(completion, reward):
    t = CountdownTask()
    assert t.reward(_cd((3, 5, 7, 11), 24), completion) == reward


def test_countdown_accepts_several_correct_answers():
    t = CountdownTask()
    p = _cd((2, 3, 4), 10)
    for answer in ["2*3+4", "4+2*3", "3*2+4", "4*3-2", "3*4-2"]:
        assert t.reward(p, answer) == 1.0, answer
    assert t.reward(p, "2*4+2") == 0.0  # 2 used twice


def test_solver_canonical_answer_hand_cases():
    # (3, 5, 7) -> 22: no pair reaches 22 (8, 15, 2, -2, 10, 35, 12, 21, 4 ...), the 5-character triples are
    # 3*5+7 and 7+3*5 (and 5*3+7); the lexicographically first is 3*5+7.
    assert solve_countdown((3, 5, 7), 22) == "3*5+7"
    assert solve_countdown((7, 5, 3), 22) == "3*5+7"  # order of the numbers does not matter
    assert solve_countdown((3, 5, 7), 12) == "5+7"  # two numbers beat three
    assert solve_countdown((2, 3), 7) is None
    assert solve_countdown((2, 3, 4), 1) == "3-2"  # 3-2 and 4-3 tie on length; "3" < "4"
    # no pair reaches 11; among the 6-character triples "10+3-2" comes first ("+" < "-" < digits)
    assert solve_countdown((10, 2, 3), 11) == "10+3-2"


def test_reachable_hand_values():
    assert reachable((2, 3)) == {2, 3, 5, -1, 1, 6}
    assert reachable((2, 2)) == {2, 4, 0}


def test_fast_solver_equals_full_tabulation():
    rng = random.Random(11)
    for _ in range(40):
        numbers = [rng.randint(1, 15) for _ in range(rng.randint(2, 4))]
        table = all_solutions(numbers)
        assert set(table) == reachable(numbers)
        for value, text in table.items():
            assert solve_countdown(numbers, value) == text
            assert evaluate_expression(text)[0] == value


def test_solver_answers_pass_the_independent_evaluator():
    t = CountdownTask()
    for p in t.sample(random.Random(3), 300):
        assert 3 <= len(p.numbers) <= 4 and all(1 <= x <= 15 for x in p.numbers)
        assert 10 <= p.target <= 99 and p.target not in p.numbers
        assert p.prompt == ",".join(map(str, p.numbers)) + f" {p.target}="
        value, used = evaluate_expression(p.answer)
        assert value == p.target and len(used) >= 2
        assert t.reward(p, t.sft_completion(p)) == 1.0
        assert len(p.answer) + 1 <= t.max_new_tokens


def test_solver_finds_two_number_solutions_when_they_exist():
    # brute force over pairs, written independently of the solver
    t = CountdownTask()
    for p in t.sample(random.Random(5), 200):
        n = p.numbers
        pair = any(
            f(n[i], n[j]) == p.target
            for i in range(len(n)) for j in range(len(n)) if i != j
            for f in (lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b)
        )
        assert (len(evaluate_expression(p.answer)[1]) == 2) == pair


def test_countdown_rejects_bad_options():
    with pytest.raises(ValueError):
        CountdownTask(min_numbers=4, max_numbers=3)
    with pytest.raises(ValueError):
        CountdownTask(min_target=50, max_target=10)


# --------------------------------------------------------------------------------------------- registry, sets


def test_make_task():
    assert make_task("addition") == AdditionTask()
    assert make_task("addition", n_digits=2).max_new_tokens == 4
    assert isinstance(make_task("countdown"), Task)
    with pytest.raises(ValueError, match="unknown task"):
        make_task("sudoku")


def test_every_registered_task_is_a_task_whose_sft_target_earns_reward_one():
    assert sorted(TASKS) == ["add_question", "addition", "addition_partial", "compare", "countdown"]
    for name in TASKS:
        task = make_task(name)
        assert isinstance(task, Task), name
        problems = task.sample(random.Random(5), 20)
        assert [task.reward(p, task.sft_completion(p)) for p in problems] == [1.0] * 20, name
        assert task.reward(problems[0], "") == 0.0, name


@pytest.mark.parametrize("name", ["addition", "countdown"])
def test_problem_sets_are_fixed_distinct_and_disjoint(name):
    task = make_task(name)
    ev = eval_problems(task, 300, seed=0)
    assert ev == eval_problems(task, 300, seed=0)
    assert ev[:100] == eval_problems(task, 100, seed=0)  # prefix property
    assert len({p.prompt for p in ev}) == 300
    assert eval_problems(task, 50, seed=1) != ev[:50]
    tr = train_problems(task, 400, seed=0)
    assert tr == train_problems(task, 400, seed=0)
    assert len({p.prompt for p in tr}) == 400
    pool = {p.prompt for p in eval_problems(task, EVAL_POOL, seed=0)}
    assert not pool & {p.prompt for p in tr}
    assert train_problems(task, 50, seed=1) != tr[:50]


def test_problem_stream_avoids_eval_pool_and_deepcopies():
    task = AdditionTask(n_digits=2)  # 10^4 prompts: the 2000-prompt pool is a fifth of them
    pool = {p.prompt for p in eval_problems(task, EVAL_POOL, seed=0)}
    stream = problem_stream(task, seed=0, batch_size=64)
    next(stream)
    twin = copy.deepcopy(stream)
    a, b = next(stream), next(twin)
    assert a == b and len(a) == 64
    for _ in range(20):
        assert not pool & {p.prompt for p in next(stream)}


def test_too_few_prompts_is_a_clear_error():
    with pytest.raises(ValueError, match="distinct"):
        eval_problems(AdditionTask(n_digits=1), 101)  # 1-digit addition has only 100 prompts
