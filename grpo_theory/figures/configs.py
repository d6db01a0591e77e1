"""Configs of the computed figures (F1-F5) and their cache keys; light to import (no torch, no sympy).

A config is a small JSON-able dict: seeds, sample sizes, grids. The cache key of a figure adds a
content hash of the source modules its data depend on (:func:`code_fingerprint`) and, for figures
with a real-model panel, of the ``results/realcheck`` files they read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grpo_theory.figures.cache import fingerprint
from grpo_theory.figures.paths import REPO_ROOT, RESULTS
from grpo_theory.vocab import SCORE_KINDS

#: Source files the computed (non-``results/``) figure data depend on: editing any of them
#: invalidates the cache of the theory and toy figures.
CODE_DEPS = ("losses", "montecarlo", "theory", "figures/data")
#: Modules of figures/data that only read results/ (for F6-F10, F12, T1), left out of that hash.
RESULTS_READERS = ("figures/data/llm.py", "figures/data/results.py", "figures/data/headline.py")


def code_fingerprint() -> str:
    """Content hash of the modules listed in :data:`CODE_DEPS`."""
    pkg = Path(__file__).resolve().parents[1]
    # The results readers (RESULTS_READERS) key their own figures; they do not feed F1-F5.
    return fingerprint([f for d in CODE_DEPS for f in (pkg / d).glob("*.py")
                        if f"{d}/{f.name}" not in RESULTS_READERS])


F1_CONFIG: dict[str, Any] = {
    "groups": [2, 3, 4, 8, 16, "inf"],
    "ddofs": [0, 1],
    "p_line": 199,  # theory grid points on (0, 1)
    "p_mc": [0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95],
    "mc_groups": [2, 3, 4, 8, 16],
    "responses": 6,
    "replicates": 20000,
    "seed": 1,
}


F2_CONFIG: dict[str, Any] = {
    "groups_p0": [2, 4, 8, 16],
    "p_line": 201,
    "budget": 512,
    "groups_batch": [2, 4, 8, 16, 32, 64, 128, 256, 512],
    # prompt populations: a point mass at p, a uniform, and a U-shaped Beta(a, a)
    "populations": [["point", 0.5], ["point", 0.1], ["uniform", 0.0], ["beta", 0.5]],
    "batches": 400,
    "seed": 2,
}


F3_CONFIG: dict[str, Any] = {
    "budget": 64,
    "groups": [2, 4, 8, 16, 32, 64],
    "estimators": ["paper", "rloo"],
    "population": {"prompts": 48, "vocab": 3, "max_len": 4, "offset_scale": 1.5, "p_low": 0.03,
                   "p_high": 0.97},
    "replicates": 4000,
    "seed": 3,
}


F4_CONFIG: dict[str, Any] = {
    "c": [round(0.1 * i, 2) for i in range(-5, 31)],
    "c_mc": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5],
    "kinds": list(SCORE_KINDS),
    "population": {"prompts": 48, "vocab": 3, "max_len": 4, "offset_scale": 1.5, "p_low": 0.1, "p_high": 0.9},
    "pairs": 40000,
    "seed": 4,
}


#: Each variant: 2-GRPO aggregation, DPO length normalization, beta, and the predicted ratio at π_ref.
VARIANTS: dict[str, dict[str, Any]] = {
    "sum, β = 0.1": {"agg": "seq-mean-token-sum", "length_normalize": False, "beta": 0.1},
    "sum, β = 1": {"agg": "seq-mean-token-sum", "length_normalize": False, "beta": 1.0},
    "token-mean vs length-normalized DPO, β = 0.1": {"agg": "seq-mean-token-mean", "length_normalize": True,
                                                     "beta": 0.1},
    "token-mean vs summed DPO (unequal lengths), β = 0.1": {"agg": "seq-mean-token-mean",
                                                            "length_normalize": False, "beta": 0.1},
}

F5_CONFIG: dict[str, Any] = {
    "prompts": 16,
    "vocab": 3,
    "max_len": 4,
    "correct_frac": 0.4,
    "pairs": 64,
    "train_pairs": 64,
    "lr": 0.05,
    "steps": [0, 1, 2, 4, 8, 16, 32, 64, 128],
    "variants": list(VARIANTS),
    "seed": 5,
}


def _rel(files: list[Path]) -> list[str]:
    return [str(f.relative_to(REPO_ROOT)) for f in files]


def covariance_files() -> list[Path]:
    """``results/realcheck/covariance*/result.json`` (the real-model v3 Table 2 analog)."""
    root = RESULTS / "realcheck"
    return sorted(root.glob("covariance*/result.json")) if root.is_dir() else []


def gradient_equivalence_files() -> list[Path]:
    """``results/realcheck/gradient_equivalence*/result.json``."""
    root = RESULTS / "realcheck"
    return sorted(root.glob("gradient_equivalence*/result.json")) if root.is_dir() else []


def const(cfg: dict[str, Any]):
    """``() -> cfg`` plus the code fingerprint."""
    return lambda: {**cfg, "code": code_fingerprint()}


def f4_config() -> dict[str, Any]:
    files = covariance_files()
    return {**F4_CONFIG, "code": code_fingerprint(), "real_files": _rel(files),
            "real_fingerprint": fingerprint(files)}


def f5_config() -> dict[str, Any]:
    files = gradient_equivalence_files()
    return {"toy": F5_CONFIG, "real_files": _rel(files), "real_fingerprint": fingerprint(files),
            "code": code_fingerprint()}
