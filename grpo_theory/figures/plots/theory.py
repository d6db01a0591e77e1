"""F1-F4: the theory figures (exact lines, Monte Carlo points with 95% intervals)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from grpo_theory.figures import style

Z95 = 1.96  # error bars are mean ± 1.96 standard errors


def _G(key: str) -> float:
    return math.inf if key == "inf" else float(key)


def plot_lambda_g(data: dict[str, Any], stem: Path) -> list[Path]:
    """F1: λ_G(p) vs p, ddof 0 (left) and ddof 1 (right); lines exact, points Monte Carlo."""
    fig, axes = style.figure(2, 1, sharey=True)
    p_line = np.asarray(data["p_line"])
    p_mc = np.asarray(data["p_mc"])
    titles = {"0": "population std (ddof 0, the paper)", "1": "sample std (ddof 1: TRL, verl)"}
    for ax, (d, theory) in zip(axes[0], data["theory"].items()):
        style.decorate(ax)
        for key, lam in theory.items():
            G = _G(key)
            ax.plot(p_line, lam, color=style.group_color(G), label=style.group_label(G))
            mc = data["mc"][d].get(key)
            if mc is not None:
                ax.errorbar(
                    p_mc, mc["mean"], yerr=Z95 * np.asarray(mc["se"]), fmt="o", ms=2.6, lw=0.8,
                    color=style.group_color(G), mec="white", mew=0.3,
                )
        ax.set_title(titles.get(d, f"ddof {d}"))
        ax.set_xlabel("success probability p of the prompt")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 4.2)
    axes[0][0].set_ylabel(r"gradient scale $\lambda_G(p)$:  $E[\hat g_G\,|\,q] = \lambda_G\,\nabla p$")
    handles, labels = axes[0][0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="0.3", marker="o", ls="none", ms=2.6))
    labels.append("Monte Carlo (95% CI)")
    axes[0][1].legend(handles, labels, ncol=2, loc="upper center")
    style.panel_label(axes[0][0], "a")
    style.panel_label(axes[0][1], "b")
    return style.save(fig, stem)


def plot_zero_signal(data: dict[str, Any], stem: Path) -> list[Path]:
    """F2: P0(G, p) (left) and informative prompts per batch of B rollouts vs G (right)."""
    fig, axes = style.figure(2, 1)
    ax = style.decorate(axes[0][0])
    p = np.asarray(data["p_line"])
    for key, p0 in data["p0"].items():
        ax.plot(p, p0, color=style.group_color(_G(key)), label=style.group_label(_G(key)))
    ax.set_xlabel("success probability p of the prompt")
    ax.set_ylabel(r"$P_0(G,p) = p^G + (1-p)^G$  (all rewards tie)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper center")
    style.panel_label(ax, "a")

    ax = style.decorate(axes[0][1])
    G = np.asarray(data["groups_batch"], dtype=float)
    for i, pop in enumerate(data["populations"]):
        color = f"C{i}"
        ax.plot(G, pop["exact"], color=color, label=pop["label"])
        ax.errorbar(G, pop["mc_mean"], yerr=Z95 * np.asarray(pop["mc_se"]), fmt="o", ms=2.4, color=color,
                    lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xticks(G, [str(int(g)) for g in G])
    yt = [2**i for i in range(0, 9)]
    ax.set_yticks(yt, [str(y) for y in yt])
    ax.set_xlabel(f"group size G  (Q = {data['budget']}/G prompts per batch)")
    ax.set_ylabel(f"informative prompts per {data['budget']}-rollout batch")
    ax.legend(loc="lower left", title="prompt population", title_fontsize=6.5)
    style.note(ax, "lines: exact; points: Monte Carlo, 95% CI", loc="upper right")
    style.panel_label(ax, "b")
    return style.save(fig, stem)


def plot_variance_budget(data: dict[str, Any], stem: Path) -> list[Path]:
    """F3: relative variance of the mini-batch gradient vs G at B = QG fixed, with its two terms."""
    names = {"paper": "GRPO (std-normalized, ddof 0)", "rloo": "RLOO (leave-one-out baseline)"}
    fig, axes = style.figure(len(data["estimators"]), 1, sharey=True)
    G = np.asarray(data["groups"], dtype=float)
    for k, (ax, (name, rows)) in enumerate(zip(axes[0], data["estimators"].items())):
        style.decorate(ax)
        scale = np.asarray(rows["mean_norm2"])
        ax.plot(G, np.asarray(rows["total"]) / scale, color="C0", label="total (exact)")
        ax.plot(G, np.asarray(rows["prompt"]) / scale, color="C1", ls="--",
                label=r"prompt term $\mathrm{Var}_q(E[\hat g|q])/Q$")
        ax.plot(G, np.asarray(rows["within"]) / scale, color="C2", ls=":",
                label=r"within term $E_q\mathrm{Var}(\hat g|q)/Q$")
        ax.errorbar(
            G, np.asarray(rows["mc"]) / scale, yerr=Z95 * np.asarray(rows["mc_se"]) / scale, fmt="o", ms=2.6,
            color="C0", lw=0.8, label="Monte Carlo (95% CI)",
        )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(G, [str(int(g)) for g in G])
        ax.set_xlabel(f"group size G  (Q = {data['budget']}/G prompts)")
        ax.set_title(names.get(name, name))
        style.panel_label(ax, "ab"[k])
    axes[0][0].set_ylabel(r"$\mathrm{Var}(\hat g_B)\,/\,\|E\,\hat g_B\|^2$"
                          + f"  at B = {data['budget']} rollouts")
    axes[0][0].legend(loc="upper left")
    style.note(axes[0][-1], f"{len(data['p'])} prompts, p from {min(data['p']):.2f} to {max(data['p']):.2f}")
    return style.save(fig, stem)


def plot_control_variate(data: dict[str, Any], stem: Path) -> list[Path]:
    """F4: Var(g⁺ − c g⁻)/Var(g⁺) vs c (Prop. 4.1) for each score function; c = 1 is GRPO."""
    labels: dict[str, str] = {"summed": r"summed score $\nabla\log\pi(o)$",
                              "length-normalized": r"length-normalized score $\nabla\log\pi(o)/|o|$"}
    fig, axes = style.figure(len(data["kinds"]) + 1, 1, sharey=True)
    c = np.asarray(data["c"])
    for k, (ax, (kind, d)) in enumerate(zip(axes[0], data["kinds"].items())):
        style.decorate(ax)
        if d["c_max"] > 0:
            ax.axvspan(0, d["c_max"], color="C2", alpha=0.12, lw=0,
                       label=r"reduction: $0\leq c\leq 2\,\mathrm{Cov}/\mathrm{Var}(g^-)$")
        ax.plot(c, d["ratio"], color="C0", label="theory (exact moments)")
        ax.errorbar(
            data["c_mc"], d["mc_mean"], yerr=Z95 * np.asarray(d["mc_se"]), fmt="o", ms=2.6, color="C0",
            lw=0.8, label="Monte Carlo (95% CI)",
        )
        ax.axhline(1.0, color="0.4", lw=0.6)
        ax.axvline(1.0, color="C1", ls="--", lw=0.9, label="c = 1 (GRPO's baseline)")
        ax.plot([d["c_star"]], [1 - d["rho"] ** 2], marker="*", color="C3", ms=6, ls="none",
                label=r"$c^* = \mathrm{Cov}/\mathrm{Var}(g^-)$, $1-\rho^2$")
        ax.set_yscale("log")
        ax.set_xlabel("control-variate coefficient c")
        ax.set_title(labels.get(kind, kind))
        style.note(ax,
                   f"Cov = {d['cov']:.3g}, ρ = {d['rho']:.3f}\n"
                   f"Var(g⁺) = {d['var_plus']:.3g}, Var(g⁻) = {d['var_minus']:.3g}",
                   loc="lower right", y=0.1)
        style.panel_label(ax, "abc"[k])
    ax = style.decorate(axes[0][-1])
    real = data.get("real", [])
    for i, r in enumerate(real):
        ax.plot(c, r["ratio"], color=f"C{i + 4}",
                label=f"{r['kind']}: Cov = {r['cov']:.3g}, ρ = {r['rho']:.3f}")
        ax.plot([r["c_star"]], [1 - r["rho"] ** 2], marker="*", color=f"C{i + 4}", ms=6, ls="none")
    ax.axhline(1.0, color="0.4", lw=0.6)
    ax.axvline(1.0, color="C1", ls="--", lw=0.9)
    ax.set_xlim(c.min() - 0.1, c.max() + 0.1)
    ax.set_xlabel("control-variate coefficient c")
    ax.set_title(f"real model ({real[0]['model']}, results/realcheck)" if real else "real model")
    if real:
        ax.legend(loc="upper left", fontsize=5.5)
        style.note(ax, "lines from the measured Var(g±) and Cov\n(Cov across prompts, v3 Table 2 setting)",
                   loc="lower right", y=0.1)
    else:
        ax.text(0.5, 0.5, "no real-model results yet:\ngrpo-theory realcheck covariance", ha="center",
                va="center", transform=ax.transAxes, color="0.4")
    style.panel_label(ax, "abc"[len(data["kinds"])])
    axes[0][0].set_ylabel(r"$\mathrm{Var}(g^+ - c\,g^-)\,/\,\mathrm{Var}(g^+)$")
    axes[0][0].legend(loc="upper left")
    return style.save(fig, stem)


def plot_group_size_budget(data: dict[str, Any], stem: Path) -> list[Path]:
    """F11 (R16): error of the per-step gradient vs G at a fixed budget N, three targets, binary and real
    rewards."""
    names = {"own": "own population gradient", "grad": r"$\nabla E[r]$ (scale included)",
             "direction": "direction only"}
    titles = {"binary": "binary rewards", "real": "real-valued rewards"}
    fig, axes = style.figure(2, 1, sharey=True)
    G = np.asarray(data["groups"], dtype=float)
    for k, (ax, (kind, toy)) in enumerate(zip(axes[0], data["toys"].items())):
        style.decorate(ax)
        for j, t in enumerate(data["targets"]):
            y = np.asarray(toy["exact"][t])
            ax.plot(G, y, color=f"C{j}", label=f"{names[t]} (exact)")
            best = int(np.argmin(y))
            ax.plot([G[best]], [y[best]], marker="*", ms=7, color=f"C{j}", ls="none")
            mc = np.asarray(toy["mc"][t])
            ax.errorbar(np.asarray(toy["mc"]["groups"], dtype=float), mc[:, 0], yerr=Z95 * mc[:, 1], fmt="o",
                        ms=2.4, color=f"C{j}", lw=0.8)
            if t == "own":  # the fitted three-term law (own target: no bias term)
                c1, c2, c3 = toy["fit"][t]["c"]
                gg = np.geomspace(G[0], G[-1], 60)
                B = data["budget"] / gg
                ax.plot(gg, c1 / B + c2 / (B * gg) + c3 / (B * gg * gg), color=f"C{j}", ls=":", lw=0.9,
                        label="fit c1/B + c2/(BG) + c3/(BG²)" if k == 0 else None)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(G, [str(int(g)) for g in G])
        ax.set_xlabel(f"group size G  (B = {data['budget']}/G prompts)")
        ax.set_title(titles.get(kind, kind))
        fits = "; ".join(f"{t}: G* = {toy['fit'][t]['g_star']:.1f}" for t in ("own", "direction"))
        style.note(ax, fits, loc="upper left" if k else "lower right")
        style.panel_label(ax, "ab"[k])
    axes[0][0].set_ylabel(f"relative error, N = {data['budget']} rollouts")
    axes[0][0].legend(loc="upper left", fontsize="small")
    return style.save(fig, stem)
