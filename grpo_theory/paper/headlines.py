"""The paper's headline numbers, recomputed from its own tables.

====================  =============================================  ===========
headline              recomputation                                  value
====================  =============================================  ===========
v3 "97.6%"            Σ Avg(2-GRPO) / Σ Avg(16-GRPO), 4 Qwen settings 97.63%
v3 "21%" of time      Σ hours(2-GRPO) / Σ hours(16-GRPO) (4 settings) 20.96%
v2 "21%" of time      mean over 5 settings of hours(2) / hours(16)    21.01%
"12.5%" of rollouts   0.15M / 1.2M = (7,500 · 10 · 2) / (7,500 · 10 · 16) 12.5%
v2 "98.1%"            mean of the 50 per-cell ratios (Mean and       98.18%
                      Pass), truncated to one decimal (not rounded)
v3 2-GRPO+RS          mean of Avg(2+RS)/Avg(16); of hour ratios     101.11%; 45.60%
====================  =============================================  ===========

So v2 and v3 aggregate the time differently (mean of ratios vs ratio of sums). The paper truncates rather than
rounds in other places too (v3 Table 1's time gaps −75.967 → −75.96, −65.940 → −65.93, −57.296 → −57.29;
:func:`grpo_theory.paper.errata.v3_truncated_time_gaps`), so 98.18% printed as 98.1% is its convention, not an
erratum. None of the ten readings *rounds* to 98.1%. All ratios are 2-GRPO over
16-GRPO and returned as fractions (0.9763), not percent.
"""

from __future__ import annotations

import math
from statistics import fmean

from grpo_theory.paper.tables_v2 import BENCHMARKS, V2_SETTINGS, v2_run
from grpo_theory.paper.tables_v3 import V3_SETTINGS, v3_row

#: rollout accounting of v2 §6.2: prompts in the training set, epochs
N_PROMPTS, N_EPOCHS = 7_500, 10


def v3_mean_retention() -> float:
    """v3 "97.6%": ratio of the grand Mean@32 averages (printed Avg column), 2-GRPO over 16-GRPO."""
    return sum(v3_row(d, m, "2").avg for d, m in V3_SETTINGS) / sum(
        v3_row(d, m, "16").avg for d, m in V3_SETTINGS
    )


def v3_mean_retention_mean_of_ratios() -> float:
    """The alternative reading of v3 "97.6%": mean of the per-setting Avg ratios (97.54%)."""
    return fmean(v3_row(d, m, "2").avg / v3_row(d, m, "16").avg for d, m in V3_SETTINGS)


def v3_time_fraction() -> float:
    """v3 "21%": summed 2-GRPO hours over summed 16-GRPO hours, four Qwen settings (10.23 / 48.81)."""
    return sum(v3_row(d, m, "2").hours for d, m in V3_SETTINGS) / sum(
        v3_row(d, m, "16").hours for d, m in V3_SETTINGS
    )


def v2_time_fraction() -> float:
    """v2 "21%": mean over the five v2 settings of hours(2-GRPO) / hours(16-GRPO)."""
    return fmean(v2_run(d, m, "2").hours / v2_run(d, m, "16").hours for d, m in V2_SETTINGS)


def v2_time_fraction_of_sums() -> float:
    """The ratio of summed hours over the five v2 settings (19.8%), for comparison."""
    return sum(v2_run(d, m, "2").hours for d, m in V2_SETTINGS) / sum(
        v2_run(d, m, "16").hours for d, m in V2_SETTINGS
    )


def v3_resampling_retention() -> float:
    """2-GRPO+RS (v3): mean over the four settings of Avg(2+RS)/Avg(16) = 101.11% ("outperforming
    16-GRPO")."""
    return fmean(v3_row(d, m, "2+RS").avg / v3_row(d, m, "16").avg for d, m in V3_SETTINGS)


def v3_resampling_time_fraction() -> float:
    """2-GRPO+RS (v3): mean of hours(2+RS)/hours(16) = 45.60% ("roughly half of its training time")."""
    return fmean(v3_row(d, m, "2+RS").hours / v3_row(d, m, "16").hours for d, m in V3_SETTINGS)


def rollout_fraction() -> float:
    """"12.5%": 2-GRPO's rollouts over 16-GRPO's at equal prompts and epochs (0.15M / 1.2M)."""
    return (N_PROMPTS * N_EPOCHS * 2) / (N_PROMPTS * N_EPOCHS * 16)


def rollout_counts() -> tuple[int, int]:
    """(2-GRPO, 16-GRPO) total rollouts: (150,000, 1,200,000)."""
    return N_PROMPTS * N_EPOCHS * 2, N_PROMPTS * N_EPOCHS * 16


def _setting_means(d: str, m: str, method: str, which: int) -> float:
    return fmean(v2_run(d, m, method).cells[b][which] for b in BENCHMARKS)


def _cell_pairs(settings, metrics) -> list[tuple[float, float]]:
    """(2-GRPO, 16-GRPO) cell values over ``settings`` x benchmarks x ``metrics`` (0 Mean@32, 1 Pass@32)."""
    return [(v2_run(d, m, "2").cells[b][i], v2_run(d, m, "16").cells[b][i]) for d,
            m in settings for b in BENCHMARKS for i in metrics]


def v2_retention_candidates() -> dict[str, float]:
    """Readings of v2's "98.1%" (2-GRPO over 16-GRPO); none gives 98.1% exactly.

    Over the five v2 settings unless the key starts with ``qwen4_`` (the four Qwen settings of v3).
    """
    mean2 = [_setting_means(d, m, "2", 0) for d, m in V2_SETTINGS]
    mean16 = [_setting_means(d, m, "16", 0) for d, m in V2_SETTINGS]
    pass2 = [_setting_means(d, m, "2", 1) for d, m in V2_SETTINGS]
    pass16 = [_setting_means(d, m, "16", 1) for d, m in V2_SETTINGS]
    qwen4 = [s for s in V2_SETTINGS if s[1] != "DS-1.5B"]

    def mean_of_ratios(pairs):
        return fmean(a / b for a, b in pairs)

    def ratio_of_sums(pairs):
        return sum(a for a, _ in pairs) / sum(b for _, b in pairs)

    return {
        "mean_of_setting_mean_ratios": fmean(a / b for a, b in zip(mean2, mean16, strict=True)),
        "ratio_of_grand_mean_averages": sum(mean2) / sum(mean16),
        "mean_of_50_cell_ratios": mean_of_ratios(_cell_pairs(V2_SETTINGS, (0, 1))),
        "mean_of_setting_mean_and_pass_ratios": fmean(
            [a / b for a, b in zip(mean2, mean16, strict=True)]
            + [a / b for a, b in zip(pass2, pass16, strict=True)]
        ),
        "ratio_of_grand_pass_averages": sum(pass2) / sum(pass16),
        "mean_of_25_mean_cell_ratios": mean_of_ratios(_cell_pairs(V2_SETTINGS, (0,))),
        "mean_of_25_pass_cell_ratios": mean_of_ratios(_cell_pairs(V2_SETTINGS, (1,))),
        "ratio_of_sums_of_50_cells": ratio_of_sums(_cell_pairs(V2_SETTINGS, (0, 1))),
        "qwen4_mean_of_40_cell_ratios": mean_of_ratios(_cell_pairs(qwen4, (0, 1))),
        "qwen4_ratio_of_sums_of_20_mean_cells": ratio_of_sums(_cell_pairs(qwen4, (0,))),
    }


def truncate(x: float, digits: int) -> float:
    """x truncated (toward zero) to ``digits`` decimals, as the paper prints some numbers: 98.18 → 98.1."""
    scale = 10**digits
    # round(., 9) absorbs float noise such as 98.1 * 10 = 980.9999
    return math.trunc(round(x * scale, 9)) / scale


def v2_retention() -> float:
    """v2 "98.1%": the mean of the 50 per-cell ratios (Mean@32 and Pass@32, five settings), 0.9818…"""
    return v2_retention_candidates()["mean_of_50_cell_ratios"]


def v2_retention_closest(target: float = 0.981) -> tuple[str, float]:
    """The candidate reading closest to ``target``: ("mean_of_50_cell_ratios", 0.9818...)."""
    return min(v2_retention_candidates().items(), key=lambda kv: abs(kv[1] - target))


def headlines() -> dict[str, float]:
    """Every recomputed headline, as fractions."""
    return {
        "v3_mean_retention": v3_mean_retention(),
        "v3_time_fraction": v3_time_fraction(),
        "v2_time_fraction": v2_time_fraction(),
        "rollout_fraction": rollout_fraction(),
        "v2_retention_closest": v2_retention_closest()[1],
    }
