"""Detectors of internal inconsistencies in the paper's tables.

- :func:`v2_delta_typos`: printed Δ cells of v2 Table 1 that disagree with (2-GRPO − 16-GRPO) recomputed
  from the same table by more than rounding (both operands are rounded to 0.01, so a difference of 0.01 is
  rounding). Found: DAPO/Qwen-1.5B AIME25 Mean printed −2.50 (is −1.45), DAPO/Qwen-1.5B Minerva Pass printed
  +0.71 (is −0.55), MATH/DS-1.5B Minerva Pass printed −0.05 (is +0.05).
- :func:`v3_table4_vs_table1`: cells where the v3 Table 4 rows that repeat a main run ("16" at 32/512 and
  "2†" at 256/512) differ from v3 Table 1 / v2 Table 1.
- :func:`v3_table4_rollout_labels`: rows whose #R is not #P × G ("16 32/256" for DAPO/Qwen-1.5B).
- :func:`v3_table4_duplicated_cells`: the "2 (32/64)" MATH/Qwen-1.5B OlympiadBench cell equals Table 1's
  16-GRPO cell exactly.
- :func:`average_mismatches`: printed averages that are not the mean of their row.
- :func:`v3_table1_gap_mismatches`: printed gaps of v3 Table 1 that disagree with its own rows (none).
- :func:`v3_table1_vs_v2`: v3 Table 1 Mean@32 / hours of the 2- and 16-GRPO runs that differ from v2 (none).
- :func:`v3_truncated_time_gaps`: the three time gaps of v3 Table 1 printed truncated rather than rounded
  (the paper's convention for these; not errata).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import fmean

from grpo_theory.paper.tables_v2 import BENCHMARKS, V2_TABLE1_DELTA, v2_run
from grpo_theory.paper.tables_v3 import V3_TABLE1, V3_TABLE1_GAPS, V3_TABLE4, v3_row

ROUNDING = 0.0101  # |a − b| of two values each rounded to 0.01 can be off by 0.01


@dataclass(frozen=True)
class Discrepancy:
    """One inconsistency: where, what is printed, what it should be (or what the other table says)."""

    where: str
    printed: float
    expected: float

    @property
    def gap(self) -> float:
        return self.printed - self.expected


def v2_delta_typos(tol: float = ROUNDING) -> list[Discrepancy]:
    out = []
    for (d, m), (time_delta, cells) in V2_TABLE1_DELTA.items():
        two, sixteen = v2_run(d, m, "2"), v2_run(d, m, "16")
        t = 100.0 * (two.hours - sixteen.hours) / sixteen.hours
        if abs(round(t, 2) - time_delta) > tol:
            out.append(Discrepancy(f"{d}/{m} time %", time_delta, round(t, 2)))
        for b in BENCHMARKS:
            for i, metric in enumerate(("Mean@32", "Pass@32")):
                delta = round(two.cells[b][i] - sixteen.cells[b][i], 2)
                if abs(cells[b][i] - delta) > tol:
                    out.append(Discrepancy(f"{d}/{m} {b} {metric}", cells[b][i], delta))
    return out


def v3_table4_vs_table1(tol: float = 0.0) -> list[Discrepancy]:
    """Cells (and averages) of Table 4's "16" and "2†" rows that differ from v2 Table 1 by more than
    ``tol``."""
    out = []
    for row in V3_TABLE4:
        if row.method not in ("16", "2†"):
            continue
        main = v2_run(row.dataset, row.model, "16" if row.method == "16" else "2")
        for b in BENCHMARKS:
            for i, metric in enumerate(("Mean@32", "Pass@32")):
                if abs(row.cells[b][i] - main.cells[b][i]) > tol:
                    out.append(Discrepancy(f"T4 {row.dataset}/{row.model} G={row.method} {b} {metric}",
                                           row.cells[b][i], main.cells[b][i]))
        t1 = next(
            r for r in V3_TABLE1 if (r.dataset, r.model, r.method) == (row.dataset, row.model, main.method)
        )
        if abs(row.avg[0] - t1.avg) > tol:
            out.append(Discrepancy(f"T4 {row.dataset}/{row.model} G={row.method} Average Mean@32",
                                   row.avg[0], t1.avg))
    return out


def v3_table4_rollout_labels() -> list[Discrepancy]:
    out = []
    for row in V3_TABLE4:
        if row.prompts is None or row.rollouts is None:
            continue
        G = int(row.method.rstrip("†"))
        if row.rollouts != row.prompts * G:
            out.append(Discrepancy(f"T4 {row.dataset}/{row.model} G={row.method} #R", row.rollouts,
                                   row.prompts * G))
    return out


def v3_table4_duplicated_cells() -> list[str]:
    """Table 4 ablation cells (G = 2..8 at 32 prompts) identical to a Table 1 16-GRPO cell of the same
    setting."""
    out = []
    for row in V3_TABLE4:
        if row.method in ("w/o", "2†", "16"):
            continue
        main = v2_run(row.dataset, row.model, "16")
        out += [
            f"T4 {row.dataset}/{row.model} G={row.method} {b}"
            for b in BENCHMARKS
            if row.cells[b] == main.cells[b]
        ]
    return out


def average_mismatches(tol: float = 0.0051) -> list[Discrepancy]:
    """Printed averages (v3 Tables 1 and 4) that differ from the mean of their row by more than rounding."""
    out = []
    for r in V3_TABLE1:
        mean = fmean(r.means.values())
        if abs(mean - r.avg) > tol:
            out.append(Discrepancy(f"T1 {r.dataset}/{r.model} G={r.method} Avg", r.avg, round(mean, 2)))
    for row in V3_TABLE4:
        for i in (0, 1):
            mean = fmean(c[i] for c in row.cells.values())
            if abs(mean - row.avg[i]) > tol:
                out.append(Discrepancy(f"T4 {row.dataset}/{row.model} G={row.method} Average[{i}]",
                                       row.avg[i], round(mean, 2)))
    return out


def v3_table1_gap_mismatches(tol: float = ROUNDING) -> list[Discrepancy]:
    """Printed gaps (time %, Mean@32 per benchmark, Avg) of v3 Table 1 vs the gaps recomputed from its
    rows."""
    out = []
    for (d, m, method), (time_pct, cells, avg) in V3_TABLE1_GAPS.items():
        row, base = v3_row(d, m, method), v3_row(d, m, "16")
        t = round(100.0 * (row.hours - base.hours) / base.hours, 2)
        if abs(t - time_pct) > tol:
            out.append(Discrepancy(f"v3 T1 {d}/{m} G={method} time %", time_pct, t))
        for b, gap in zip(BENCHMARKS, cells, strict=True):
            delta = round(row.means[b] - base.means[b], 2)
            if abs(delta - gap) > tol:
                out.append(Discrepancy(f"v3 T1 {d}/{m} G={method} {b}", gap, delta))
        if abs(round(row.avg - base.avg, 2) - avg) > tol:
            out.append(Discrepancy(f"v3 T1 {d}/{m} G={method} Avg", avg, round(row.avg - base.avg, 2)))
    return out


def v3_table1_vs_v2() -> list[Discrepancy]:
    """v3 Table 1 entries of the 2- and 16-GRPO runs that differ from v2 Table 1's Mean@32 and hours."""
    out = []
    for row in V3_TABLE1:
        if row.method not in ("2", "16"):
            continue
        v2 = v2_run(row.dataset, row.model, row.method)
        out += [Discrepancy(f"v3 T1 {row.dataset}/{row.model} G={row.method} {b}", row.means[b],
                            v2.cells[b][0])
                for b in BENCHMARKS if row.means[b] != v2.cells[b][0]]
        if row.hours != v2.hours:
            out.append(Discrepancy(f"v3 T1 {row.dataset}/{row.model} G={row.method} hours", row.hours,
                                   v2.hours))
    return out


def v3_truncated_time_gaps() -> list[tuple[str, float, float]]:
    """(where, printed, exact) for v3 Table 1 time gaps printed as the value truncated, not rounded, to
    0.01."""
    out = []
    for (d, m, method), (time_pct, _, _) in V3_TABLE1_GAPS.items():
        row, base = v3_row(d, m, method), v3_row(d, m, "16")
        exact = 100.0 * (row.hours - base.hours) / base.hours
        truncated = math.trunc(round(exact * 100, 9)) / 100
        if time_pct != round(exact, 2) and time_pct == truncated:
            out.append((f"v3 T1 {d}/{m} G={method} time %", time_pct, exact))
    return out
