"""The presets' tuned learning rates are the committed sweep's choice (results/headline/lr_sweep/)."""

from __future__ import annotations

import json

from grpo_theory.artifacts import repo_root
from grpo_theory.llm.lr_sweep import select_lrs
from grpo_theory.llm.presets import ETA_TUNED, PRESETS, REFERENCE, SWEPT, TUNED_LRS


def test_tuned_lrs_equal_the_committed_validation_sweep():
    summary = json.loads((repo_root() / "results" / "headline" / "lr_sweep" / "summary.json").read_text())
    assert summary["selected_on"] == "validation"
    # recomputed from the sweep table, not copied from the file's own "selected"
    assert select_lrs(summary["sweep"]) == summary["selected"] == TUNED_LRS
    assert set(TUNED_LRS) == set(SWEPT) and TUNED_LRS[REFERENCE] == ETA_TUNED
    for name in ("full", "paper"):
        assert dict(PRESETS[name].lrs) == TUNED_LRS and PRESETS[name].lr == ETA_TUNED
    # every run of the sweep was evaluated on the validation split, never on test
    for run in summary["methods"].values():
        assert run["n"] >= 1
    config = json.loads((repo_root() / "results" / "headline" / "lr_sweep" / "config.json").read_text())
    assert {c["eval_split"] for c in config["runs"].values()} == {"validation"}
