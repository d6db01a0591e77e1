"""The list of figures: id → data function, config, plot function, output stem, paper counterpart.

Each entry is built in two steps that never mix: ``data = cached(fid, config(), data_fn)`` (JSON
under ``paper_figures/data/``) and ``plot_fn(data, paper_figures/<stem>)`` (PNG + PDF).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpo_theory.figures import cache, configs
from grpo_theory.figures.data import headline as headline_data
from grpo_theory.figures.data import llm as llm_data
from grpo_theory.figures.data import results as results_data
from grpo_theory.figures.paths import DATA_DIR, PAPER_FIGURES
from grpo_theory.figures.plots import gradients as gradients_plots
from grpo_theory.figures.plots import headline as headline_plots
from grpo_theory.figures.plots import llm as llm_plots
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


def _lazy(module: str, name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A data function imported only when it runs (a cached run never imports torch or sympy)."""

    def call(cfg: dict[str, Any]) -> dict[str, Any]:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        return getattr(importlib.import_module(module), name)(cfg)

    call.__name__ = name
    return call


_T, _G = "grpo_theory.figures.data.theory", "grpo_theory.figures.data.gradients"


def _computed_figures() -> list[Figure]:
    """The figures computed from the theory and the toys (F1-F5, F11), one real-model panel in F4/F5."""
    return [
        Figure("F1", "F1_lambda_g", "gradient scale λ_G(p) vs p, G = 2, 3, 4, 8, 16, ∞; ddof 0 and 1",
               "R6 (v2 Prop. 5.1 / v3 Prop. C.1, extended to any G)",
               _lazy(_T, "lambda_g"), theory_plots.plot_lambda_g, configs.const(configs.F1_CONFIG)),
        Figure("F2", "F2_zero_signal",
               "zero-signal probability P0(G, p); informative prompts per 512-rollout batch vs G",
               "R7 (v2 §3.2, v3 App. D.3)",
               _lazy(_T, "zero_signal"), theory_plots.plot_zero_signal, configs.const(configs.F2_CONFIG)),
        Figure("F3", "F3_variance_budget",
               "mini-batch gradient variance vs G at a fixed rollout budget, hierarchical terms",
               "R11 (v2 Lemma 5.3 / v3 Lemma C.3)",
               _lazy(_T, "variance_budget"), theory_plots.plot_variance_budget,
               configs.const(configs.F3_CONFIG)),
        Figure("F4", "F4_control_variate", "Var(g⁺ − c g⁻)/Var(g⁺) vs c, theory vs Monte Carlo, c = 1 marked",
               "R8 (v2/v3 Prop. 4.1; v3 Table 2 setting)",
               _lazy(_T, "control_variate_with_real"), theory_plots.plot_control_variate, configs.f4_config),
        Figure("F5", "F5_gradient_equivalence",
               "2-GRPO vs DPO gradient: cosine and norm ratio vs steps away from π_ref",
               "R4 (v2 §3.2 / v3 §3.3 and Eq. 8-9; the constant is derived here)",
               _lazy(_G, "gradient_equivalence"), gradients_plots.plot_gradient_equivalence,
               configs.f5_config),
        Figure("F11", "F11_group_size_budget",
               "relative error of the step gradient vs G at a fixed budget N = BG "
               "(own population gradient, ∇E[r], direction), binary and real rewards, exact, fits, "
               "Monte Carlo",
               "R16 (v2 §5.2 / v3 App. C.2: 'the batch size, not the group size')",
               _lazy(_T, "group_size_budget"), theory_plots.plot_group_size_budget,
               configs.const({"budget": 64, "groups": [2, 4, 8, 16, 32, 64], "mc_groups": [2, 4, 8, 16],
                              "replicates": 3000, "seed": 11})),
    ]


def _results_figures() -> list[Figure]:
    """The figures read from the committed ``results/`` of the small-LLM experiments (F6-F10, F12, T1)."""
    return [
        Figure("F6", "F6_training_curves",
               "tiny-LLM test Mean@8 vs optimizer steps, rollouts and CPU seconds, "
               "every headline arm, 95% bootstrap bands", "v3 Fig. 1 (top right) / v2 Fig. 1",
               headline_data.headline_curves, headline_plots.plot_headline_curves,
               lambda: headline_data.curves_config("headline")),
        Figure("F7", "F7_group_size_ablation",
               "group-size ablation G = 2, 4, 8, 16 at a fixed number of prompts per mini-batch",
               "v3 Table 4 / Fig. 4",
               llm_data.group_size_ablation, llm_plots.plot_group_size_ablation,
               lambda: results_data.experiment_config("ablation")),
        Figure("F8", "F8_pass_at_k", "Pass@k vs k of the final policies", "v3 Fig. 2",
               llm_data.pass_at_k, llm_plots.plot_pass_at_k,
               lambda: results_data.experiment_config("headline")),
        Figure("F9", "F9_discard_rate",
               "2-GRPO discard rate per step vs E_q[p²+(1-p)²], r̄-formula, printed formula",
               "R7; v3 Table 3 / App. D.3",
               llm_data.discard_rate, llm_plots.plot_discard_rate, llm_data.f9_config),
        Figure("F10", "F10_lr_sweep", "validation Mean@8 vs learning rate per method; the selected lr",
               "the paper's lr rule (8x for 2-GRPO) vs per-method tuning",
               headline_data.lr_sweep, headline_plots.plot_lr_sweep, headline_data.lr_sweep_config),
        Figure("F12", "F12_partial_credit",
               "16-GRPO vs 2-GRPO trained on a partial-credit reward: test Mean@8 "
               "(exact match) vs optimizer steps, rollouts and CPU seconds",
               "R15 on the LLM (real-valued rewards, "
               "the paper's open question)", headline_data.headline_curves,
               headline_plots.plot_headline_curves,
               lambda: headline_data.curves_config("partial_credit")),
        Figure("T1", "T1_headline_table",
               "headline ratios vs 16-GRPO: retention %, rollouts %, time % (ours vs paper)",
               "v3 abstract / Table 1 (97.6%, 12.5%, 21%)",
               llm_data.headline_table, llm_plots.write_headline_table, llm_data.t1_config),
    ]


def _figures() -> list[Figure]:
    """Every figure, in the order F1 ... F12, T1."""
    figs = _computed_figures() + _results_figures()
    return sorted(figs, key=lambda f: (f.fid[0] != "F", int(f.fid[1:])))


FIGURES: list[Figure] = _figures()
BY_ID: dict[str, Figure] = {f.fid: f for f in FIGURES}


def build(fig: Figure, *, recompute: bool = False, out_dir: Path = PAPER_FIGURES,
          data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """Computes (or loads) the data of ``fig`` and draws it. Returns timings and written paths."""
    t0 = time.perf_counter()
    data, hit = cache.cached(fig.fid, fig.config(), fig.data, recompute=recompute, data_dir=data_dir)
    t1 = time.perf_counter()
    paths = fig.plot(data, out_dir / fig.stem)
    t2 = time.perf_counter()
    return {"fid": fig.fid, "cached": hit, "data_s": t1 - t0, "plot_s": t2 - t1, "paths": paths}
