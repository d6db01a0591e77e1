"""F5: 2-GRPO vs DPO gradients away from π_ref (toy on top, real model below)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grpo_theory.figures import style
from grpo_theory.theory import dpo_link

FLOOR = 1e-17  # 1 - cos and relative errors are drawn at least at this value (float64 rounding)


def _xaxis(ax, steps) -> None:
    ax.set_xscale("symlog", base=2, linthresh=1)
    ax.set_xlim(-0.1, max(steps) * 1.2)
    ticks = [s for s in steps if s in (0, 1, 4, 16, 64, 256, 1024) or s == max(steps)]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel(r"2-GRPO optimizer steps k away from $\pi_{\rm ref}$")


def _real_rows(real: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One series per (model, mode, beta): k, 1 - cos, ratio / predicted ratio at π_ref."""
    series = []
    for rec in real:
        res = rec["content"]
        model = str(res.get("config", {}).get("model", rec["file"]))
        model = Path(model).name or model
        pred = {}
        lengths = (res.get("pairs") or {}).get("lengths")
        for r in res.get("at_reference", []):
            if (r.get("condition", "sampled lengths") == "sampled lengths" and r.get("predicted_ratio")
                    and r.get("dpo_logps", "summed") == "summed"):  # the drift rows use summed DPO log-probs
                pred[(r["mode"], float(r["beta"]))] = float(r["predicted_ratio"])
        groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
        for r in res.get("drift", []):
            groups.setdefault((r["mode"], float(r["beta"])), []).append(r)
        for (mode, beta), rows in sorted(groups.items()):
            rows = sorted(rows, key=lambda r: r["k"])
            p = pred.get((mode, beta))
            if p is None and lengths:  # no at-reference row: the constant of theory.dpo_link for these pairs
                p = dpo_link.two_grpo_dpo_factor(mode, beta, lengths)
            series.append({
                "model": model,
                "key": f"{mode.replace('seq-mean-', '')}, β = {beta:g}",
                "label": f"{model}: {mode.replace('seq-mean-', '')}, β = {beta:g}",
                "ls": "--" if "token-mean" in mode else "-",
                "k": [r["k"] for r in rows],
                "one_minus_cos": [max(1 - r["batch_cosine"], FLOOR) for r in rows],
                "ratio": [r["batch_norm_ratio"] / p if p else np.nan for r in rows],
            })
    return series


def _toy_panels(a, b, toy: dict[str, Any]) -> None:
    """(a) 1 - cos and (b) β x norm ratio of the toy's batch gradients vs k, one line per variant."""
    steps = toy["steps"]
    worst = 0.0
    for i, (name, rows) in enumerate(toy["variants"].items()):
        color = f"C{i}"
        a.plot(steps, [max(1 - r["cos"], FLOOR) for r in rows], "o-", ms=2.5, color=color, label=name)
        if "unequal" not in name:
            b.plot(steps, [r["ratio_x_beta"] for r in rows], "o-", ms=2.5, color=color, label=name)
            worst = max(worst, max(r["pair_rel_dev"] for r in rows))
    a.set_yscale("log")
    a.set_ylabel(r"$1-\cos(\nabla\mathcal{L}_{\rm 2GRPO}, \nabla\mathcal{L}_{\rm DPO})$, batch")
    a.set_title("toy: tabular policy (V = 3, lengths 1–4), 64 mixed pairs")
    a.legend(loc="lower right", fontsize=5.5)
    _xaxis(a, steps)
    kl = ", ".join(f"{s}: {v:.2g}" for s, v in zip(steps, toy["kl"]) if s in (4, 16, 64, max(steps)))
    style.note(a, "KL(π‖π_ref) at k = " + kl, loc="upper left")
    b.axhline(1.0, color="0.4", lw=0.6)
    b.set_yscale("log")
    b.set_ylabel(r"$\beta\,\|\nabla\mathcal{L}_{\rm 2GRPO}\|/\|\nabla\mathcal{L}_{\rm DPO}\|$"
                 r"  (1 at $\pi_{\rm ref}$)")
    b.set_title(r"toy: norm ratio vs the constant $1/\beta$")
    _xaxis(b, steps)
    style.note(b, f"per pair, ∇L_2GRPO = ∇L_DPO / (2βσ(Δ)) to {max(worst, FLOOR):.0e} (rel.) at every k",
               loc="upper left")
    style.panel_label(a, "a")
    style.panel_label(b, "b")


def _real_panels(c, d, series: list[dict[str, Any]]) -> None:
    """(c) 1 - cos and (d) norm ratio / predicted constant on real models (or where to get them)."""
    if series:
        ks = sorted({k for s in series for k in s["k"]})
        models = list(dict.fromkeys(s["model"] for s in series))
        keys = list(dict.fromkeys(s["key"] for s in series))
        for s in series:
            m = models.index(s["model"])
            kw = {"marker": "osD^"[m % 4], "ls": s["ls"], "color": f"C{keys.index(s['key']) % 7}",
                  "ms": 2.5 + 1.5 * m, "mfc": "none" if m else None, "label": s["label"]}
            c.plot(s["k"], s["one_minus_cos"], **kw)
            d.plot(s["k"], s["ratio"], **kw)
        c.set_yscale("log")
        d.axhline(1.0, color="0.4", lw=0.6)
        _xaxis(c, ks)
        _xaxis(d, ks)
        c.legend(loc="lower right", fontsize=5, ncol=2 if len(models) > 1 else 1)
    else:
        for ax in (c, d):
            ax.text(0.5, 0.5, "no real-model results yet:\ngrpo-theory realcheck gradient_equivalence",
                    ha="center", va="center", transform=ax.transAxes, color="0.4")
            ax.set_xticks([])
            ax.set_yticks([])
    real_models = list(dict.fromkeys(s["model"] for s in series))
    c.set_title("real models: " + (", ".join(real_models) if series else "results/realcheck"))
    c.set_ylabel(r"$1-\cos$  (batch)")
    d.set_title(r"real model: norm ratio / predicted constant at $\pi_{\rm ref}$")
    d.set_ylabel("ratio / predicted")
    style.panel_label(c, "c")
    style.panel_label(d, "d")


def plot_gradient_equivalence(data: dict[str, Any], stem: Path) -> list[Path]:
    """F5: toy panels (a, b) from ``data["toy"]``, real-model panels (c, d) from ``data["real"]``."""
    fig, axes = style.figure(2, 2, height=4.4)
    (a, b), (c, d) = axes
    for ax in (a, b, c, d):
        style.decorate(ax)
    _toy_panels(a, b, data["toy"])
    _real_panels(c, d, _real_rows(data.get("real", [])))
    return style.save(fig, stem)
