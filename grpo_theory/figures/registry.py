"""The list of figures: id → data function, config, plot function, output stem, paper counterpart.

Each entry is built in two steps that never mix: ``data = cached(fid, config(), data_fn)`` (JSON
under ``paper_figures/data/``) and ``plot_fn(data, paper_figures/<stem>)`` (PNG + PDF).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpo_theory.figures import cache
from grpo_theory.figures.data import gradients as gradients_data
from grpo_theory.figures.data import theory as theory_data
from grpo_theory.figures.paths import DATA_DIR, PAPER_FIGURES
from grpo_theory.figures.plots import gradients as gradients_plots
from grpo_theory.figures.plots import theory as theory_plots


@dataclass(frozen=True)
class Figure:
    """One figure (or table) of ``make figures``.

    Attributes:
        fid: stable id (F1 ... F9, T1).
        stem: output file stem under ``paper_figures/`` (``.png`` and ``.pdf`` are added).
        title: one line: what it shows.
        paper: the paper's figure/table or result it corresponds to.
        data: ``config -> data`` (JSON-able), the expensive part, cached.
        plot: ``(data, stem) -> written paths``.
        config: ``() -> config`` (a callable, so configs can fingerprint ``results/`` at run time).
    """

    fid: str
    stem: str
    title: str
    paper: str
    data: Callable[[dict[str, Any]], dict[str, Any]]
    plot: Callable[[dict[str, Any], Path], list[Path]]
    config: Callable[[], dict[str, Any]]


def _const(cfg: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: dict(cfg)


def _figures() -> list[Figure]:
    out = [
        Figure("F1", "F1_lambda_g", "gradient scale λ_G(p) vs p, G = 2, 3, 4, 8, 16, ∞; ddof 0 and 1",
               "R6 (v2 Prop. 5.1 / v3 Prop. C.1, extended to any G)",
               theory_data.lambda_g, theory_plots.plot_lambda_g, _const(theory_data.F1_CONFIG)),
        Figure("F2", "F2_zero_signal", "zero-signal probability P0(G, p); informative prompts per 512-rollout batch vs G",
               "R7 (v2 §3.2, v3 App. D.3)",
               theory_data.zero_signal, theory_plots.plot_zero_signal, _const(theory_data.F2_CONFIG)),
        Figure("F3", "F3_variance_budget", "mini-batch gradient variance vs G at a fixed rollout budget, hierarchical terms",
               "R11 (v2 Lemma 5.3 / v3 Lemma C.3)",
               theory_data.variance_budget, theory_plots.plot_variance_budget, _const(theory_data.F3_CONFIG)),
        Figure("F4", "F4_control_variate", "Var(g⁺ − c g⁻)/Var(g⁺) vs c, theory vs Monte Carlo, c = 1 marked",
               "R8 (v2/v3 Prop. 4.1; v3 Table 2 setting)",
               theory_data.control_variate, theory_plots.plot_control_variate, _const(theory_data.F4_CONFIG)),
        Figure("F5", "F5_gradient_equivalence", "2-GRPO vs DPO gradient: cosine and norm ratio vs steps away from π_ref",
               "R4 (v2 §3.2 / v3 §3.3 and Eq. 8-9; the constant is derived here)",
               gradients_data.gradient_equivalence, gradients_plots.plot_gradient_equivalence, gradients_data.f5_config),
    ]
    try:
        from grpo_theory.figures.registry_more import more_figures
    except ImportError:
        return out
    return out + more_figures()


FIGURES: list[Figure] = _figures()
BY_ID: dict[str, Figure] = {f.fid: f for f in FIGURES}


def build(fig: Figure, *, recompute: bool = False, out_dir: Path = PAPER_FIGURES, data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """Computes (or loads) the data of ``fig`` and draws it. Returns timings and written paths."""
    t0 = time.perf_counter()
    data, hit = cache.cached(fig.fid, fig.config(), fig.data, recompute=recompute, data_dir=data_dir)
    t1 = time.perf_counter()
    paths = fig.plot(data, out_dir / fig.stem)
    t2 = time.perf_counter()
    return {"fid": fig.fid, "cached": hit, "data_s": t1 - t0, "plot_s": t2 - t1, "paths": paths}
