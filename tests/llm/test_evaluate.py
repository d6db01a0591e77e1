"""Evaluation: Pass@k / Mean@k / greedy accuracy against hand-computed values, via a scripted policy."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from grpo_theory.llm.evaluate import evaluate, mean_and_stderr, pass_at_k
from grpo_theory.llm.tasks import AdditionTask


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (8, 0, 8, 0.0),
        (8, 8, 8, 1.0),
        (8, 1, 8, 1.0),  # n == k: 1[c > 0]
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (5, 2, 1, 0.4),  # k = 1 is c/n
        (10, 3, 4, 1 - 35 / 210),  # 1 - C(7,4)/C(10,4)
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_rejects_bad_counts():
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 2)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_mean_and_stderr_hand_values():
    assert mean_and_stderr([0.0, 1.0]) == pytest.approx((0.5, 0.5))  # sd sqrt(1/2), / sqrt(2)
    assert mean_and_stderr([1.0, 1.0, 1.0]) == (1.0, 0.0)
    assert mean_and_stderr([0.25]) == (0.25, 0.0)
    with pytest.raises(ValueError):
        mean_and_stderr([])


class ScriptedPolicy:
    """Scripted answers: greedy correct on the listed prompts; sampling: c correct out of n per prompt."""

    def __init__(self, task, greedy_ok: set[str], n_correct: dict[str, int]):
        self.task, self.greedy_ok, self.n_correct = task, greedy_ok, n_correct
        self.calls: list[dict] = []

    def generate(self, prompts, n, *, greedy=False, **kw):
        self.calls.append({"n": n, "greedy": greedy, **kw})
        texts = []
        for p in prompts:
            answer = f"{sum(map(int, p[:-1].split('+'))):04d}"
            if greedy:
                texts.append(answer if p in self.greedy_ok else "9999")
            else:
                c = self.n_correct[p]
                texts.extend([answer] * c + ["x"] * (n - c))
        return SimpleNamespace(texts=texts)


def test_evaluate_against_hand_computed_metrics():
    task = AdditionTask()
    probs = [task.make(1, 2), task.make(10, 20), task.make(100, 200), task.make(7, 7)]
    policy = ScriptedPolicy(
        task,
        greedy_ok={probs[0].prompt, probs[2].prompt},
        n_correct={probs[0].prompt: 4, probs[1].prompt: 0, probs[2].prompt: 1, probs[3].prompt: 2},
    )
    res = evaluate(policy, task, probs, k=2, n_samples=4, temperature=0.7, top_p=0.8, seed=0, batch_size=8)
    assert res["greedy_acc"] == 0.5
    # sd of [1,0,1,0] with ddof=1 is sqrt(1/3)
    assert res["greedy_acc_se"] == pytest.approx(math.sqrt(1 / 3) / 2)
    means = [1.0, 0.0, 0.25, 0.5]
    assert res["mean_at_k"] == pytest.approx(sum(means) / 4)
    # pass@2 from 4 samples: c=4 -> 1, c=0 -> 0, c=1 -> 1 - C(3,2)/C(4,2) = 0.5, c=2 -> 1 - 1/6
    passes = [1.0, 0.0, 0.5, 5 / 6]
    assert res["pass_at_k"] == pytest.approx(sum(passes) / 4)
    m = sum(passes) / 4
    assert res["pass_at_k_se"] == pytest.approx(math.sqrt(sum((x - m) ** 2 for x in passes) / 3 / 4))
    assert (res["k"], res["n_samples"], res["n_problems"]) == (2, 4, 4)
    # The per-problem outcomes, in problem order, that bootstrap intervals resample.
    assert res["per_problem_greedy"] == [1, 0, 1, 0]
    assert res["per_problem_correct"] == [4, 0, 1, 2]
    sampled = [c for c in policy.calls if not c["greedy"]]
    assert all(c["temperature"] == 0.7 and c["top_p"] == 0.8 and c["n"] == 4 for c in sampled)
    assert sum(1 for _ in sampled) == 2  # batch_size 8 // 4 samples = 2 problems per call


def test_evaluate_greedy_only_and_bad_input():
    task = AdditionTask()
    probs = [task.make(1, 2)]
    policy = ScriptedPolicy(task, greedy_ok={probs[0].prompt}, n_correct={})
    res = evaluate(policy, task, probs, k=0)
    assert res["greedy_acc"] == 1.0 and "pass_at_k" not in res
    with pytest.raises(ValueError):
        evaluate(policy, task, [], k=2)
    with pytest.raises(ValueError):
        evaluate(policy, task, probs, k=4, n_samples=2)
