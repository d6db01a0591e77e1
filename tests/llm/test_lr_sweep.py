"""Learning-rate selection on the validation split."""

from __future__ import annotations

import pytest

from grpo_theory.llm.lr_sweep import parse_run_name, select_lrs, sweep_table


def _res(acc, split="validation", se=0.02):
    return {"config": {"eval_split": split}, "final_eval": {"eval/mean_at_k": acc, "eval/mean_at_k_se": se}}


def test_selection_takes_the_best_mean_and_breaks_ties_low():
    results = {
        "16-GRPO lr=0.0001": [_res(0.60), _res(0.62)],
        "16-GRPO lr=2.5e-05": [_res(0.55), _res(0.57)],
        "2-GRPO lr=0.0008": [_res(0.50)],
        "2-GRPO lr=0.0001": [_res(0.50)],
    }
    table = sweep_table(results)
    assert table["16-GRPO"]["lrs"] == [2.5e-5, 1e-4]
    assert table["16-GRPO"]["score"] == pytest.approx([0.56, 0.61])
    assert table["16-GRPO"]["n"] == [2, 2]
    assert select_lrs(table) == {"16-GRPO": 1e-4, "2-GRPO": 1e-4}


def test_a_run_evaluated_on_test_cannot_choose_an_lr():
    with pytest.raises(ValueError, match="not validation"):
        sweep_table({"2-GRPO lr=0.001": [_res(0.5, split="test")]})


@pytest.mark.parametrize(("name", "parsed"), [("2-GRPO+RS lr=0.000283", ("2-GRPO+RS", 2.83e-4)),
                                              ("online DPO lr=5e-05", ("online DPO", 5e-5))])
def test_run_names_round_trip(name, parsed):
    assert parse_run_name(name) == parsed


def test_bad_run_name():
    with pytest.raises(ValueError, match="sweep run name"):
        parse_run_name("16-GRPO")
