"""Absolute paths used by the figure pipeline, so it runs from any working directory.

The root is :func:`grpo_theory.artifacts.repo_root` (figures need a checkout: they read ``results/``).
"""

from __future__ import annotations

from grpo_theory.artifacts import repo_root

REPO_ROOT = repo_root()
#: Where the PNG/PDF figures and the Markdown/LaTeX tables go.
PAPER_FIGURES = REPO_ROOT / "paper_figures"
#: Cached figure data (JSON), one file per figure keyed by a config hash.
DATA_DIR = PAPER_FIGURES / "data"
#: Committed experiment results read by the LLM and real-model figures.
RESULTS = REPO_ROOT / "results"
