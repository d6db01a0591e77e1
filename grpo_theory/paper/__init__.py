"""The paper's tables as data (v2 Table 1; v3 Tables 1–4), the recomputed headline numbers, and detectors of
the tables' internal inconsistencies. Pure Python: no numpy, no torch.

- :mod:`~grpo_theory.paper.tables_v2` — ``V2_TABLE1``, ``V2_TABLE1_DELTA``
- :mod:`~grpo_theory.paper.tables_v3` — ``V3_TABLE1``, ``V3_TABLE2``, ``V3_TABLE3_DISCARD``, ``V3_TABLE4``
- :mod:`~grpo_theory.paper.headlines` — 97.63%, 20.96%, 21.01%, 12.5%, 98.18% (printed truncated: 98.1%)
- :mod:`~grpo_theory.paper.errata` — v2 Δ-row typos, v3 Table 4 vs Table 1
"""

from grpo_theory.paper.errata import (
    Discrepancy,
    average_mismatches,
    v2_delta_typos,
    v3_table4_duplicated_cells,
    v3_table4_rollout_labels,
    v3_table4_vs_table1,
    v3_truncated_time_gaps,
)
from grpo_theory.paper.headlines import (
    headlines,
    rollout_fraction,
    truncate,
    v2_retention,
    v2_retention_candidates,
    v2_retention_closest,
    v2_time_fraction,
    v3_mean_retention,
    v3_time_fraction,
)
from grpo_theory.paper.tables_v2 import BENCHMARKS, V2_TABLE1, V2_TABLE1_DELTA
from grpo_theory.paper.tables_v3 import V3_TABLE1, V3_TABLE2, V3_TABLE3_DISCARD, V3_TABLE4

__all__ = [
    "BENCHMARKS",
    "V2_TABLE1",
    "V2_TABLE1_DELTA",
    "V3_TABLE1",
    "V3_TABLE2",
    "V3_TABLE3_DISCARD",
    "V3_TABLE4",
    "Discrepancy",
    "average_mismatches",
    "headlines",
    "rollout_fraction",
    "truncate",
    "v2_delta_typos",
    "v2_retention",
    "v2_retention_candidates",
    "v2_retention_closest",
    "v2_time_fraction",
    "v3_mean_retention",
    "v3_table4_duplicated_cells",
    "v3_table4_rollout_labels",
    "v3_table4_vs_table1",
    "v3_time_fraction",
    "v3_truncated_time_gaps",
]
