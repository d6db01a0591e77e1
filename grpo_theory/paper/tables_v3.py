"""v3 (May 2026) Tables 1–4 of arXiv 2510.00977, transcribed as printed.

- ``V3_TABLE1``: Mean@32 per benchmark plus the printed Avg, time in hours, four Qwen settings, methods
  "w/o", "16", "2", "2+RS" (DS-1.5B is not in v3 Table 1); ``V3_TABLE1_GAPS``: its printed gaps to 16-GRPO.
- ``V3_TABLE2``: the gradient covariance of App. B.8.
- ``V3_TABLE3_DISCARD``: the 2-GRPO discard rate by training step (Qwen-7B, MATH), App. D.3.
- ``V3_TABLE4``: the group-size ablation, (Mean@32, Pass@32) per benchmark plus the printed Average and
  #P/#R (prompts / rollouts per training mini-batch); "2†" is the main-run 2-GRPO (256/512).
"""

from __future__ import annotations

from dataclasses import dataclass

from grpo_theory.paper.tables_v2 import BENCHMARKS, Cell


@dataclass(frozen=True)
class MeanRow:
    """A v3 Table 1 row: Mean@32 per benchmark and the printed average."""

    dataset: str
    model: str
    method: str
    time_h: float | None
    means: dict[str, float]
    avg: float

    @property
    def hours(self) -> float:
        """Training time in hours; ValueError for rows without one (the base model)."""
        if self.time_h is None:
            raise ValueError(f"no training time for {self.dataset}/{self.model}/{self.method}")
        return self.time_h


@dataclass(frozen=True)
class AblationRow:
    """A v3 Table 4 row: (Mean@32, Pass@32) per benchmark, the printed averages and the printed #P/#R."""

    dataset: str
    model: str
    method: str  # "w/o", "2†", "2", "4", "8", "16"
    prompts: int | None
    rollouts: int | None
    cells: dict[str, Cell]
    avg: Cell


def _mean_row(dataset, model, method, time_h, values, avg) -> MeanRow:
    return MeanRow(dataset, model, method, time_h, dict(zip(BENCHMARKS, values, strict=True)), avg)


_W15 = (31.83, 34.30, 5.33, 3.64, 15.40)
_W7 = (47.16, 38.36, 5.99, 5.00, 9.83)

V3_TABLE1: tuple[MeanRow, ...] = (
    _mean_row("MATH", "Qwen-1.5B", "w/o", None, _W15, 18.10),
    _mean_row("MATH", "Qwen-1.5B", "16", 8.53, (70.24, 51.25, 16.84, 10.10, 23.11), 34.31),
    _mean_row("MATH", "Qwen-1.5B", "2", 2.05, (69.28, 49.53, 16.25, 9.48, 22.31), 33.37),
    _mean_row("MATH", "Qwen-1.5B", "2+RS", 3.71, (71.36, 51.64, 18.74, 7.29, 23.85), 34.58),
    _mean_row("MATH", "Qwen-7B", "w/o", None, _W7, 21.27),
    _mean_row("MATH", "Qwen-7B", "16", 9.30, (75.90, 61.79, 22.81, 13.23, 25.99), 39.94),
    _mean_row("MATH", "Qwen-7B", "2", 2.43, (75.23, 64.60, 23.13, 12.81, 26.39), 40.43),
    _mean_row("MATH", "Qwen-7B", "2+RS", 5.78, (76.89, 61.64, 24.90, 11.67, 25.39), 40.10),
    _mean_row("DAPO", "Qwen-1.5B", "w/o", None, _W15, 18.10),
    _mean_row("DAPO", "Qwen-1.5B", "16", 13.30, (70.66, 56.56, 18.00, 9.58, 24.56), 35.87),
    _mean_row("DAPO", "Qwen-1.5B", "2", 2.12, (68.81, 52.19, 16.79, 8.13, 23.52), 33.89),
    _mean_row("DAPO", "Qwen-1.5B", "2+RS", 4.53, (71.64, 58.59, 20.11, 9.79, 24.67), 36.96),
    _mean_row("DAPO", "Qwen-7B", "w/o", None, _W7, 21.27),
    _mean_row("DAPO", "Qwen-7B", "16", 17.68, (77.35, 69.69, 24.45, 14.27, 28.86), 42.92),
    _mean_row("DAPO", "Qwen-7B", "2", 3.63, (77.43, 64.84, 21.95, 14.58, 29.86), 41.73),
    _mean_row("DAPO", "Qwen-7B", "2+RS", 7.55, (77.14, 68.91, 23.94, 16.67, 28.39), 43.01),
)

V3_SETTINGS = (("MATH", "Qwen-1.5B"), ("MATH", "Qwen-7B"), ("DAPO", "Qwen-1.5B"), ("DAPO", "Qwen-7B"))

#: the printed gaps to 16-GRPO in v3 Table 1 (in parentheses): (time %, per-benchmark Mean@32 gaps, Avg gap)
V3_TABLE1_GAPS: dict[tuple[str, str, str], tuple[float, tuple[float, ...], float]] = {
    ("MATH", "Qwen-1.5B", "2"): (-75.96, (-0.96, -1.72, -0.59, -0.62, -0.80), -0.94),
    ("MATH", "Qwen-1.5B", "2+RS"): (-56.51, (1.12, 0.39, 1.90, -2.81, 0.74), 0.27),
    ("MATH", "Qwen-7B", "2"): (-73.87, (-0.67, 2.81, 0.32, -0.42, 0.40), 0.49),
    ("MATH", "Qwen-7B", "2+RS"): (-37.85, (0.99, -0.15, 2.09, -1.56, -0.60), 0.16),
    ("DAPO", "Qwen-1.5B", "2"): (-84.06, (-1.85, -4.37, -1.21, -1.45, -1.04), -1.98),
    ("DAPO", "Qwen-1.5B", "2+RS"): (-65.93, (0.98, 2.03, 2.11, 0.21, 0.11), 1.09),
    ("DAPO", "Qwen-7B", "2"): (-79.47, (0.08, -4.85, -2.50, 0.31, 1.00), -1.19),
    ("DAPO", "Qwen-7B", "2+RS"): (-57.29, (-0.21, -0.78, -0.51, 2.40, -0.47), 0.09),
}

#: App. B.8: Cov(g+, g-) across 100 prompts x 10 responses (Qwen-1.5B, MATH), and with pos/neg permuted
V3_TABLE2 = {"cov": 0.08705, "cov_permuted": 0.00128}

#: App. D.3: 2-GRPO discard rate by training step (Qwen-7B, MATH)
V3_TABLE3_DISCARD: dict[int, float] = {10: 0.5284, 40: 0.6917, 70: 0.6763, 100: 0.7711, 130: 0.7141}


def _abl(dataset, model, method, pr, cells, avg) -> AblationRow:
    prompts, rollouts = pr if pr else (None, None)
    return AblationRow(dataset, model, method, prompts, rollouts, dict(zip(BENCHMARKS, cells, strict=True)),
                       avg)


_B15 = ((31.83, 81.92), (34.30, 79.23), (5.33, 28.91), (3.64, 22.31), (15.40, 37.16))
_B7 = ((47.16, 85.95), (38.36, 85.29), (5.99, 31.10), (5.00, 25.17), (9.83, 34.30))

V3_TABLE4: tuple[AblationRow, ...] = (
    _abl("MATH", "Qwen-1.5B", "w/o", None, _B15, (18.10, 49.91)),
    _abl("MATH", "Qwen-1.5B", "2†", (256, 512),
         ((69.28, 87.43), (49.53, 81.76), (16.25, 33.26), (9.48, 32.88), (22.31, 37.24)), (33.37, 54.51)),
    _abl("MATH", "Qwen-1.5B", "2", (32, 64),
         ((67.73, 87.85), (53.28, 86.21), (14.15, 34.02), (6.15, 29.54), (23.11, 37.82)), (32.88, 55.09)),
    _abl("MATH", "Qwen-1.5B", "4", (32, 128),
         ((69.05, 87.49), (52.50, 92.01), (15.29, 33.57), (8.33, 27.13), (23.08, 38.99)), (33.65, 55.84)),
    _abl("MATH", "Qwen-1.5B", "8", (32, 256),
         ((69.34, 86.05), (51.64, 83.96), (14.60, 32.63), (7.18, 32.24), (22.77, 36.69)), (33.11, 54.31)),
    _abl("MATH", "Qwen-1.5B", "16", (32, 512),
         ((70.24, 87.24), (51.25, 83.46), (16.84, 33.46), (10.10, 35.82), (22.30, 38.33)), (34.15, 55.66)),
    _abl("MATH", "Qwen-7B", "w/o", None, _B7, (21.27, 52.36)),
    _abl("MATH", "Qwen-7B", "2†", (256, 512),
         ((75.23, 89.77), (64.60, 81.53), (23.13, 38.45), (12.81, 38.85), (26.39, 40.20)), (40.43, 57.76)),
    _abl("MATH", "Qwen-7B", "2", (32, 64),
         ((74.41, 89.25), (63.83, 89.58), (21.53, 37.72), (11.67, 33.05), (26.04, 41.34)), (39.50, 58.19)),
    _abl("MATH", "Qwen-7B", "4", (32, 128),
         ((76.24, 88.16), (63.51, 84.97), (23.09, 41.03), (10.83, 32.42), (26.25, 40.78)), (39.98, 57.47)),
    _abl("MATH", "Qwen-7B", "8", (32, 256),
         ((75.12, 89.53), (64.38, 88.63), (22.24, 35.94), (12.71, 35.85), (26.25, 40.52)), (40.14, 58.09)),
    _abl("MATH", "Qwen-7B", "16", (32, 512),
         ((75.90, 88.24), (61.79, 80.77), (22.81, 37.68), (13.23, 34.22), (25.99, 40.11)), (39.94, 56.20)),
    _abl("DAPO", "Qwen-1.5B", "w/o", None, _B15, (18.10, 49.91)),
    _abl("DAPO", "Qwen-1.5B", "2†", (256, 512),
         ((68.81, 87.36), (52.19, 85.77), (16.79, 33.61), (8.13, 29.33), (23.52, 39.29)), (33.89, 55.07)),
    _abl("DAPO", "Qwen-1.5B", "2", (32, 64),
         ((67.71, 87.68), (53.82, 88.35), (16.85, 34.83), (8.12, 32.99), (23.21, 39.26)), (33.94, 56.62)),
    _abl("DAPO", "Qwen-1.5B", "4", (32, 128),
         ((69.14, 87.78), (54.69, 86.88), (17.53, 35.74), (8.43, 36.18), (23.30, 39.00)), (34.62, 57.12)),
    _abl("DAPO", "Qwen-1.5B", "8", (32, 256),
         ((70.25, 86.84), (57.57, 81.19), (17.80, 35.08), (8.54, 29.42), (24.23, 39.95)), (35.68, 54.50)),
    _abl("DAPO", "Qwen-1.5B", "16", (32, 256),
         ((70.66, 87.03), (56.56, 85.53), (18.00, 34.16), (9.58, 32.31), (24.55, 39.19)), (35.87, 55.64)),
    _abl("DAPO", "Qwen-7B", "w/o", None, _B7, (21.27, 52.36)),
    _abl("DAPO", "Qwen-7B", "2†", (256, 512),
         ((77.43, 90.51), (64.84, 91.59), (21.95, 38.05), (14.58, 33.03), (29.86, 45.24)), (41.73, 59.68)),
    _abl("DAPO", "Qwen-7B", "2", (32, 64),
         ((75.24, 89.37), (66.33, 90.56), (23.49, 39.89), (15.21, 41.71), (28.60, 43.04)), (41.77, 60.91)),
    _abl("DAPO", "Qwen-7B", "4", (32, 128),
         ((76.58, 90.62), (66.33, 95.75), (23.44, 40.06), (15.21, 40.02), (27.94, 42.24)), (41.90, 61.74)),
    _abl("DAPO", "Qwen-7B", "8", (32, 256),
         ((72.43, 87.27), (71.17, 93.08), (25.03, 37.94), (17.71, 39.67), (28.74, 41.46)), (43.02, 59.88)),
    _abl("DAPO", "Qwen-7B", "16", (32, 512),
         ((77.35, 88.79), (69.69, 87.31), (24.45, 40.04), (14.27, 33.73), (28.86, 39.84)), (42.92, 57.94)),
)


def v3_row(dataset: str, model: str, method: str) -> MeanRow:
    """The v3 Table 1 row for (dataset, model, method); ValueError if absent."""
    for row in V3_TABLE1:
        if (row.dataset, row.model, row.method) == (dataset, model, method):
            return row
    raise ValueError(f"no v3 Table 1 row for {(dataset, model, method)}")
