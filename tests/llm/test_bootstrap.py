"""The headline's interval estimates: exact arithmetic of the statistics, pairing, and coverage."""

from __future__ import annotations

import numpy as np
import pytest

from grpo_theory.llm.bootstrap import non_inferiority, paired_bootstrap, point_stats, replicate_means


def test_point_stats_hand_values():
    s = point_stats(0.45, 0.60, 0.30)
    assert s["retention"] == pytest.approx(75.0, abs=1e-12)
    assert s["gain_retention"] == pytest.approx(50.0, abs=1e-12)
    assert s["paired_delta"] == pytest.approx(-0.15, abs=1e-15)
    assert np.isnan(point_stats(0.5, 0.3, 0.3)["gain_retention"])  # no gain to retain: undefined, not inf


def test_replicate_means_with_unit_weights_is_the_plain_mean():
    rng = np.random.default_rng(0)
    x = rng.random((3, 7))
    got = replicate_means(x, np.ones((2, 3)), np.ones((2, 7)))
    assert np.max(np.abs(got - x.mean())) < 1e-15
    # a replicate that keeps seed 0 three times and problem 2 seven times picks exactly x[0, 2]
    w_s, w_n = np.array([[3.0, 0, 0]]), np.zeros((1, 7))
    w_n[0, 2] = 7
    assert replicate_means(x, w_s, w_n)[0] == pytest.approx(x[0, 2], abs=1e-15)


@pytest.mark.parametrize("acc", [0.1, 0.3, 0.7234, 0.58375, 1 / 3])
def test_a_method_equal_to_the_reference_retains_exactly_100(acc):
    s = point_stats(acc, acc, 0.2)
    assert s["retention"] == 100.0 and s["gain_retention"] == 100.0 and s["paired_delta"] == 0.0


def test_reference_and_its_copy_have_degenerate_intervals():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 9, size=(3, 50)) / 8
    start = rng.integers(0, 9, size=(3, 50)) / 8 * 0.5
    out = paired_bootstrap({"16-GRPO": ref, "copy": ref.copy()}, start, "16-GRPO", n_boot=500)
    for name in ("16-GRPO", "copy"):
        assert out[name]["retention"] == 100.0 and out[name]["retention_ci95"] == [100.0, 100.0]
        assert out[name]["paired_delta_ci95"] == [0.0, 0.0]
        assert out[name]["gain_retention_ci95"] == pytest.approx([100.0, 100.0], abs=1e-9)


def test_pairing_removes_shared_problem_difficulty():
    """Two methods that differ by a constant on every problem: the paired delta's interval is that constant,
    however much the problems differ from each other (an unpaired interval would be wide)."""
    rng = np.random.default_rng(2)
    difficulty = rng.random((1, 400)) * 0.8
    ref = np.repeat(difficulty, 3, axis=0)
    out = paired_bootstrap({"ref": ref, "m": ref + 0.1}, ref * 0.5, "ref", n_boot=500)
    assert out["m"]["paired_delta_ci95"] == pytest.approx([0.1, 0.1], abs=1e-12)


def test_accuracy_interval_covers_the_truth():
    """Bernoulli(0.6) scores on 20 seeds x 200 problems: the 95% interval covers 0.6 in >= 85% of 200 data
    sets (the binomial s.e. of a 95% coverage over 200 is 1.5 points, so 85% is 6.5 s.e. below it)."""
    rng = np.random.default_rng(3)
    hits = 0
    for k in range(200):
        x = (rng.random((20, 200)) < 0.6).astype(float)
        lo, hi = paired_bootstrap({"m": x}, x, "m", n_boot=400, seed=k)["m"]["accuracy_ci95"]
        hits += lo <= 0.6 <= hi
    assert hits / 200 >= 0.85


def test_bad_input_is_rejected():
    x = np.zeros((3, 5))
    with pytest.raises(ValueError, match="reference"):
        paired_bootstrap({"a": x}, x, "b")
    with pytest.raises(ValueError, match="shape"):
        paired_bootstrap({"a": x, "b": np.zeros((2, 5))}, x, "a")
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap({"a": x}, x, "a", level=1.5)


@pytest.mark.parametrize(("ci", "verdict"), [((98.0, 101.0), "supported"), ((80.0, 97.5), "rejected"),
                                             ((90.0, 99.0), "inconclusive"), ((97.6, 97.7), "supported")])
def test_non_inferiority_three_outcomes(ci, verdict):
    assert non_inferiority(ci, 97.6) == verdict


def test_budgets_skip_equal_steps_without_a_reference_evaluation_there():
    """A preset without dense evaluation: the equal-step comparison is left out, equal CPU is still made."""
    from grpo_theory.llm.budgets import compare_at_budgets

    def log(steps, scores):
        recs = [{"step": 0, "eval/mean_at_k": 0.5, "eval/n_samples": 2.0, "problems/correct": [1, 1]}]
        recs += [{"step": s, "cpu/update": 1.0} for s in range(1, steps)]
        recs.append({"step": steps, "cpu/update": 1.0, "eval/mean_at_k": 0.5, "eval/n_samples": 2.0,
                     "problems/correct": scores})
        return recs

    out = compare_at_budgets({"ref": {0: log(8, [2, 1])}, "m": {0: log(6, [1, 1])}}, "ref", n_boot=50)
    assert set(out["m"]) == {"equal_cpu"}
    assert out["m"]["equal_cpu"]["reference_steps"] == [8]  # 6 CPU seconds: nearer to step 8 (8 s) than to 0
