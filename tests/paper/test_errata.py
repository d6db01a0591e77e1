"""R14: the table inconsistencies, detected from the data (expected lists derived by hand from the tables)."""

from __future__ import annotations

from grpo_theory.paper import (
    average_mismatches,
    v2_delta_typos,
    v3_table4_duplicated_cells,
    v3_table4_rollout_labels,
    v3_table4_vs_table1,
)
from grpo_theory.paper.errata import ROUNDING, v3_table1_gap_mismatches, v3_table1_vs_v2


def test_v2_delta_row_typos_are_exactly_three():
    found = {(d.where, d.printed, d.expected) for d in v2_delta_typos()}
    assert found == {
        ("DAPO/Qwen-1.5B AIME25 Mean@32", -2.50, -1.45),  # 8.13 - 9.58
        ("DAPO/Qwen-1.5B Minerva Pass@32", 0.71, -0.55),  # 33.61 - 34.16
        ("MATH/DS-1.5B Minerva Pass@32", -0.05, 0.05),  # 38.34 - 38.29
    }


def test_v2_time_deltas_all_check_out():
    assert not [d for d in v2_delta_typos() if "time" in d.where]


def test_v3_table4_16_grpo_olympiad_mismatch():
    big = {(d.where, d.printed, d.expected) for d in v3_table4_vs_table1(tol=ROUNDING)}
    assert big == {
        ("T4 MATH/Qwen-1.5B G=16 OlympiadBench Mean@32", 22.30, 23.11),
        ("T4 MATH/Qwen-1.5B G=16 OlympiadBench Pass@32", 38.33, 37.82),
        ("T4 MATH/Qwen-1.5B G=16 Average Mean@32", 34.15, 34.31),
    }
    # at the last digit, three more DAPO/Qwen-1.5B cells differ by 0.01
    assert len(v3_table4_vs_table1(tol=0.0)) == 6


def test_v3_table4_rollout_label_and_duplicate():
    assert [(d.where, d.printed,
             d.expected) for d in v3_table4_rollout_labels()] == [("T4 DAPO/Qwen-1.5B G=16 #R", 256, 512)]
    assert v3_table4_duplicated_cells() == ["T4 MATH/Qwen-1.5B G=2 OlympiadBench"]


def test_printed_averages_are_row_means():
    assert average_mismatches() == []


def test_v3_table1_printed_gaps_are_consistent():
    # e.g. MATH/Qwen-1.5B 2-GRPO AMC23: 49.53 - 51.25 = -1.72 (v2's Δ row prints -1.71, within rounding)
    assert v3_table1_gap_mismatches() == []
    # at the last digit only three time percentages differ, all truncated rather than rounded:
    # 100 (2.05 - 8.53)/8.53 = -75.967 (printed -75.96), -65.940 (-65.93), -57.296 (-57.29)
    assert {d.where for d in v3_table1_gap_mismatches(tol=0.0)} == {
        "v3 T1 MATH/Qwen-1.5B G=2 time %",
        "v3 T1 DAPO/Qwen-1.5B G=2+RS time %",
        "v3 T1 DAPO/Qwen-7B G=2+RS time %",
    }


def test_v3_table1_repeats_v2_for_the_2_and_16_grpo_runs():
    assert v3_table1_vs_v2() == []
