"""F6 (accuracy vs optimizer steps, rollouts and CPU seconds, with interval bands) and F10 (the lr sweep)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grpo_theory.figures import style
from grpo_theory.figures.plots.llm import _empty, _source_note


def plot_headline_curves(data: dict[str, Any], stem: Path) -> list[Path]:
    """F6: test Mean@k vs optimizer steps (a), rollouts (b) and training CPU seconds (c)."""
    fig, axes = style.figure(3, 1)
    panels = axes[0]
    for ax in panels:
        style.decorate(ax)
    if not data["methods"]:
        for ax in panels:
            _empty(ax, f"no {data.get('experiment', 'headline')} results")
        return style.save(fig, stem)
    xs = (("step", "optimizer steps", 1.0), ("rollouts", "rollouts generated (thousands)", 1e-3),
          ("cpu_seconds", "training CPU time (s)", 1.0))
    for name, c in data["methods"].items():
        color = style.method_color(name)
        mean, lo, hi = (np.asarray(c[k]) for k in ("mean", "lo", "hi"))
        for ax, (key, _, scale) in zip(panels, xs, strict=True):
            x = np.asarray(c[key]) * scale
            ax.plot(x, mean, "o-", ms=1.8, lw=1.0, color=color, label=f"{name} (n = {c['seeds']})")
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
    for ax, (_, label, _) in zip(panels, xs, strict=True):
        ax.set_xlabel(label)
        ax.set_xscale("symlog", linthresh=1 if ax is panels[1] else 10)
    k = data.get("k") or "k"
    panels[0].set_ylabel(f"test Mean@{k}")
    panels[0].legend(loc="lower right", fontsize=5)
    band = next(iter(data["methods"].values()))["band"]
    style.note(panels[2], _source_note(data) + f"\nbands: {band}", loc="lower right")
    for ax, letter in zip(panels, "abc", strict=True):
        style.panel_label(ax, letter)
    return style.save(fig, stem)


def plot_lr_sweep(data: dict[str, Any], stem: Path) -> list[Path]:
    """F10: final validation Mean@k vs learning rate per method (± 1 s.e. over problems); the choice
    circled."""
    fig, axes = style.figure(1, 1)
    ax = axes[0][0]
    style.decorate(ax)
    if not data["methods"]:
        _empty(ax, "no lr sweep results")
        return style.save(fig, stem)
    for name, row in data["methods"].items():
        color = style.method_color(name)
        lrs, score, se = (np.asarray(row[k], float) for k in ("lrs", "score", "se"))
        ax.errorbar(lrs, score, yerr=se, fmt="o-", ms=2.5, lw=1.0, capsize=1.5, color=color, label=name)
        best = data["selected"].get(name)
        if best is not None:
            ax.plot([best], [score[list(lrs).index(best)]], "o", ms=7, mfc="none", mec=color, mew=1.0)
    ax.set_xscale("log")
    lrs_all = sorted({lr for row in data["methods"].values() for lr in row["lrs"]})
    ax.set_xticks(lrs_all, [f"{lr:.3g}" for lr in lrs_all], rotation=45, ha="right")
    ax.minorticks_off()
    ax.set_xlabel("learning rate")
    ax.set_ylabel("validation Mean@8 (final)")
    ax.legend(loc="lower left", fontsize=5)
    style.note(ax, f"{data['dir']}; circled: selected", loc="lower right")
    return style.save(fig, stem)
