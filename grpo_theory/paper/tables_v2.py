"""v2 (Jan 2026) Table 1 of arXiv 2510.00977, transcribed as printed.

2-GRPO vs 16-GRPO after post-training on MATH or DAPO-Math-Sub; each cell is (Mean@32, Pass@32) in percent;
``time_h`` is the training time in hours. ``V2_TABLE1_DELTA`` is the printed Δ row (16 → 2) of each setting,
including its typos (see :mod:`grpo_theory.paper.errata`); its time entry is in percent.
"""

from __future__ import annotations

from dataclasses import dataclass

BENCHMARKS = ("MATH-500", "AMC23", "Minerva", "AIME25", "OlympiadBench")
Cell = tuple[float, float]  # (Mean@32, Pass@32)


@dataclass(frozen=True)
class Run:
    """One row of a results table: a (training set, model, method) and its scores per benchmark."""

    dataset: str
    model: str
    method: str  # "w/o" (base model), "2", "16", "2+RS", ...
    time_h: float | None
    cells: dict[str, Cell]

    @property
    def hours(self) -> float:
        """Training time in hours; ValueError for rows without one (the base model)."""
        if self.time_h is None:
            raise ValueError(f"no training time for {self.dataset}/{self.model}/{self.method}")
        return self.time_h


def _run(dataset, model, method, time_h, *cells) -> Run:
    return Run(dataset, model, method, time_h, dict(zip(BENCHMARKS, cells, strict=True)))


_BASE_15 = ((31.83, 81.92), (34.30, 79.23), (5.33, 28.91), (3.64, 22.31), (15.40, 37.16))
_BASE_7 = ((47.16, 85.95), (38.36, 85.29), (5.99, 31.10), (5.00, 25.17), (9.83, 34.30))

V2_TABLE1: tuple[Run, ...] = (
    _run("MATH", "Qwen-1.5B", "w/o", None, *_BASE_15),
    _run("MATH", "Qwen-1.5B", "2", 2.05, (69.28, 87.43), (49.53, 81.76), (16.25, 33.26), (9.48, 32.88),
         (22.31, 37.24)),
    _run("MATH", "Qwen-1.5B", "16", 8.53, (70.24, 87.24), (51.25, 83.46), (16.84, 33.46), (10.10, 35.82),
         (23.11, 37.82)),
    _run("MATH", "Qwen-7B", "w/o", None, *_BASE_7),
    _run("MATH", "Qwen-7B", "2", 2.43, (75.23, 89.77), (64.60, 81.53), (23.13, 38.45), (12.81, 38.85),
         (26.39, 40.20)),
    _run("MATH", "Qwen-7B", "16", 9.30, (75.90, 88.24), (61.79, 80.77), (22.81, 37.68), (13.23, 34.22),
         (25.99, 40.11)),
    _run("MATH", "DS-1.5B", "w/o", None, (65.11, 84.90), (44.14, 73.86), (14.64, 32.80), (22.40, 42.79),
         (20.07, 33.23)),
    _run("MATH", "DS-1.5B", "2", 7.07, (74.36, 88.85), (56.95, 88.63), (21.28, 38.34), (24.89, 46.79),
         (33.69, 45.86)),
    _run("MATH", "DS-1.5B", "16", 38.40, (75.98, 89.16), (58.91, 87.26), (21.76, 38.29), (26.97, 56.36),
         (35.39, 47.05)),
    _run("DAPO", "Qwen-1.5B", "w/o", None, *_BASE_15),
    _run("DAPO", "Qwen-1.5B", "2", 2.12, (68.81, 87.36), (52.19, 85.77), (16.79, 33.61), (8.13, 29.33),
         (23.52, 39.29)),
    _run("DAPO", "Qwen-1.5B", "16", 13.30, (70.66, 87.04), (56.56, 85.54), (18.00, 34.16), (9.58, 32.31),
         (24.56, 39.19)),
    _run("DAPO", "Qwen-7B", "w/o", None, *_BASE_7),
    _run("DAPO", "Qwen-7B", "2", 3.63, (77.43, 90.51), (64.84, 91.59), (21.95, 38.05), (14.58, 33.03),
         (29.86, 45.24)),
    _run("DAPO", "Qwen-7B", "16", 17.68, (77.35, 88.79), (69.69, 87.31), (24.45, 40.04), (14.27, 33.73),
         (28.86, 39.84)),
)

#: printed Δ rows: (dataset, model) -> (time Δ in %, {benchmark: (ΔMean, ΔPass)})
V2_TABLE1_DELTA: dict[tuple[str, str], tuple[float, dict[str, Cell]]] = {
    ("MATH", "Qwen-1.5B"): (-75.96,
                            dict(zip(BENCHMARKS,
                                     ((-0.96, 0.19), (-1.71, -1.70), (-0.59, -0.19), (-0.62, -2.94),
                                      (-0.80, -0.58)), strict=True))),
    ("MATH", "Qwen-7B"): (-73.87,
                          dict(zip(BENCHMARKS,
                                   ((-0.67, 1.53), (2.81, 0.76), (0.32, 0.77), (-0.42, 4.63), (0.40, 0.09)),
                                   strict=True))),
    ("MATH", "DS-1.5B"): (-81.6,
                          dict(zip(BENCHMARKS,
                                   ((-1.62, -0.31), (-1.96, 1.38), (-0.48, -0.05), (-2.08, -9.56),
                                    (-1.70, -1.19)), strict=True))),
    ("DAPO", "Qwen-1.5B"): (-84.06,
                            dict(zip(BENCHMARKS,
                                     ((-1.85, 0.32), (-4.37, 0.23), (-1.21, 0.71), (-2.50, -2.98),
                                      (-1.04, 0.10)), strict=True))),
    ("DAPO", "Qwen-7B"): (-79.47,
                          dict(zip(BENCHMARKS,
                                   ((0.08, 1.72), (-4.85, 4.28), (-2.50, -1.99), (0.31, -0.70), (1.00, 5.4)),
                                   strict=True))),
}

#: the settings of v2 Table 1, in table order
V2_SETTINGS = tuple(V2_TABLE1_DELTA)


def v2_run(dataset: str, model: str, method: str) -> Run:
    """The v2 Table 1 row for (dataset, model, method); ValueError if absent."""
    for run in V2_TABLE1:
        if (run.dataset, run.model, run.method) == (dataset, model, method):
            return run
    raise ValueError(f"no v2 Table 1 row for {(dataset, model, method)}")
