"""F7-F9 and T1: the small-LLM experiment (mean over seeds, bars ± 1 std over seeds)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from grpo_theory.figures import style


def _source_note(data: dict[str, Any]) -> str:
    label = data.get("label", "")
    where = data.get("dir") or "no results"
    return f"{where} ({label})" if label else where


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_group_size_ablation(data: dict[str, Any], stem: Path) -> list[Path]:
    """F7: final Mean@k / Pass@k vs G (ours, per seed and mean ± std) and v3 Table 4 (paper)."""
    fig, axes = style.figure(2, 1)
    a, b = axes[0]
    for ax in (a, b):
        style.decorate(ax)
    k = data.get("k") or "k"
    if data["G"]:
        G = np.asarray(data["G"], dtype=float)
        for metric, label, color in (("mean_at_k", f"Mean@{k}", "C0"), ("pass_at_k", f"Pass@{k}", "C1"),
                                     ("greedy_acc", "greedy", "C2")):
            d = data["metrics"].get(metric)
            if not d:
                continue
            a.errorbar(G, d["mean"], yerr=d["std"], fmt="o-", ms=3, color=color, label=label, capsize=2)
            for g, vals in zip(G, d["per_seed"]):
                a.plot([g] * len(vals), vals, ".", ms=2.5, color=color, alpha=0.45)
        if not math.isnan(data.get("start_mean_at_k", math.nan)):
            a.axhline(data["start_mean_at_k"], color="0.5", ls=":", lw=0.8,
                      label=f"start checkpoint Mean@{k}")
        a.set_xscale("log", base=2)
        a.set_xticks(G, [str(int(g)) for g in G])
        pps = data.get("prompts_per_step")
        a.set_xlabel(f"group size G ({pps or 'same'} prompts per mini-batch, same learning rate)")
        a.set_ylabel("held-out accuracy (final)")
        a.legend(loc="center right")
        style.note(a, _source_note(data) + "\nbars: ± 1 std over seeds; dots: seeds", loc="lower right")
        if "quick" in data.get("label", ""):
            fig.suptitle("left: quick preset (smoke-scale run, not the ablation experiment)", color="C3",
                         fontsize=7)
    else:
        _empty(a, "no ablation results")
    a.set_title("this project (tiny LM, addition)")
    for i, (setting, d) in enumerate(data["paper"].items()):
        b.plot(d["G"], d["mean32"], "o-", ms=3, color=f"C{i}", label=setting)
    b.set_xscale("log", base=2)
    b.set_xticks([2, 4, 8, 16], ["2", "4", "8", "16"])
    b.set_xlabel("group size G (same prompts per mini-batch)")
    b.set_ylabel("Mean@32, average of 5 benchmarks (%)")
    b.set_title("paper: v3 Table 4 (as printed)")
    b.legend(loc="center right", fontsize=5.5)
    style.panel_label(a, "a")
    style.panel_label(b, "b")
    return style.save(fig, stem)


def plot_pass_at_k(data: dict[str, Any], stem: Path) -> list[Path]:
    """F8: final Pass@k vs k per method (k = 1: Mean@k)."""
    fig, axes = style.figure(1, 1)
    ax = style.decorate(axes[0][0])
    if not data["methods"]:
        _empty(ax, "no headline results")
        return style.save(fig, stem)
    ks: set[int] = set()
    for name, d in data["methods"].items():
        color = "0.5" if name == "start checkpoint" else style.method_color(name)
        ls = ":" if name == "start checkpoint" else "-"
        ax.errorbar(d["k"], d["mean"], yerr=d["std"], fmt="o", ls=ls, ms=3, color=color, label=name,
                    capsize=2)
        ks.update(d["k"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ks), [str(k) for k in sorted(ks)])
    ax.set_xlabel("k (samples per problem; T = 0.7, top-p 0.8)")
    ax.set_ylabel("held-out Pass@k (final policy)")
    ax.legend(loc="lower right")
    ax.set_title(_source_note(data) + "; ± 1 std over seeds; Pass@1 = Mean@k", fontsize=5.5, color="0.35")
    return style.save(fig, stem)


def plot_discard_rate(data: dict[str, Any], stem: Path) -> list[Path]:
    """F9: zero-signal (discard) fraction of 2-GRPO per step vs the formulas; the paper's Table 3."""
    fig, axes = style.figure(2, 1)
    a, b = axes[0]
    for ax in (a, b):
        style.decorate(ax)
    drawn = False
    for rc in data["realcheck"]:
        step = np.asarray(rc["step"], dtype=float)
        a.errorbar(step, rc["measured"], yerr=rc["measured_se"], fmt="o", ms=2.5, color="C0", lw=0.7,
                   label=f"measured ({rc['model']}, realcheck)")
        if rc["expected_per_prompt"][0] is not None:
            a.plot(step, rc["expected_per_prompt"], "-", color="C2",
                   label=r"$E_q[p_q^2+(1-p_q)^2]$ (per-prompt p)")
        a.plot(step, rc["rbar_formula"], "--", color="C1", label=r"$\bar r^2+(1-\bar r)^2$ (mean reward)")
        a.plot(step, rc["printed_formula"], ":", color="C3", label=r"printed: $1-\bar r^2-(1-\bar r)^2$")
        drawn = True
    if not drawn:
        for name, h in data["headline"].items():
            if name != "2-GRPO":
                continue
            step = np.asarray(h["step"], dtype=float)
            m, s = np.asarray(h["measured"]), np.asarray(h["measured_std"])
            a.plot(step, m, "-", color="C0", label=f"measured, 2-GRPO (n = {h['seeds']} seeds)")
            a.fill_between(step, m - s, m + s, color="C0", alpha=0.2, lw=0)
            f = np.asarray(h["rbar_formula"])
            a.plot(step, f, "--", color="C1", label=r"$\bar r^2+(1-\bar r)^2$ (step's mean reward)")
            a.plot(step, 1 - f, ":", color="C3", label=r"printed: $1-\bar r^2-(1-\bar r)^2$")
            drawn = True
        if drawn:
            style.note(a, f"headline runs ({data.get('headline_label', '')})", loc="lower right")
    if drawn:
        a.set_ylim(0, 1.02)
        a.set_xlabel("2-GRPO optimizer step")
        a.set_ylabel("fraction of tied (zero-signal) pairs")
        a.legend(loc="lower left", fontsize=5.5)
    else:
        _empty(a, "no discard-rate results")
    a.set_title("this project")
    p = data["paper"]
    b.plot(p["step"], p["p_discard"], "o-", color="0.2", label="v3 Table 3 (printed P_discard)")
    b.axhline(0.5, color="C3", ls=":", lw=0.9, label=r"max of the printed formula $2\bar r(1-\bar r)$")
    b.set_ylim(0, 1.02)
    b.set_xlabel("training step (Qwen-7B, MATH)")
    b.set_title("paper: v3 Table 3")
    b.legend(loc="lower right", fontsize=5.5)
    style.note(b, "values > 0.5 are impossible under the printed formula;\nthey match r̄² + (1 − r̄)²",
               loc="upper left")
    style.panel_label(a, "a")
    style.panel_label(b, "b")
    return style.save(fig, stem)


# ------------------------------------------------------------------------------------------------ T1


def _fmt(x: Any, sd: Any = None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    s = f"{x:.{digits}f}"
    if sd is not None and not (isinstance(sd, float) and math.isnan(sd)) and sd > 0:
        s += f" ± {sd:.{digits}f}"
    return s


def _ci(ci: Any, digits: int = 1) -> str:
    """``[lo, hi]`` as ``"[lo, hi]"``, or a dash when the source has no interval."""
    if not ci or any(x is None or (isinstance(x, float) and math.isnan(x)) for x in ci):
        return "–"
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def table_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of T1 (strings), shared by the Markdown and LaTeX writers."""
    sources = data.get("sources", [])
    k = next((src.get("k") for src in sources if src.get("k")), "k")
    head = ["method", "source", "steps", f"retention Mean@{k} (%)", "95% CI", "gain retention (%)", "95% CI",
            "rollouts (%)", "wall-clock (%)", "CPU time (%)", f"Mean@{k} (%)", "seeds"]
    names: list[str] = []
    for src in sources:
        names += [n for n in src.get("rows", {}) if n not in names and n != src.get("reference")]
    rows = []
    for name in names:
        for src in sources:
            r = src.get("rows", {}).get(name)
            if r is None:
                continue
            sd, ci = r["std"], r.get("ci") or {}
            rows.append([name, f"this project ({src['label']})", _fmt(r.get("steps"), digits=0),
                         _fmt(r["retention"], sd.get("retention")), _ci(ci.get("retention")),
                         _fmt(r["gain_retention"], digits=0), _ci(ci.get("gain_retention"), digits=0),
                         _fmt(r["rollouts_pct"], sd.get("rollouts")), _fmt(r["time_pct"], sd.get("time")),
                         _fmt(r["cpu_time_pct"], sd.get("cpu_time")),
                         _fmt(100 * r["mean_at_k"][0], 100 * r["mean_at_k"][1]), str(r["seeds"])])
        if name in data["paper"]:
            p = data["paper"][name]
            rows.append([name, "paper (v3, 4 Qwen settings)", "–", _fmt(p["retention"], digits=2), "–", "–",
                         "–",
                         _fmt(p["rollouts"], digits=1), _fmt(p["time"], digits=2), "–", "–", "–"])
    for src in sources:
        ref = src.get("rows", {}).get(src.get("reference"))
        if ref is not None:
            rows.append([f"{src['reference']} (reference)", f"this project ({src['label']})",
                         _fmt(ref.get("steps"), digits=0), "100", "–", "100", "–", "100", "100", "100",
                         _fmt(100 * ref["mean_at_k"][0], 100 * ref["mean_at_k"][1]), str(ref["seeds"])])
    return head, rows


def write_headline_table(data: dict[str, Any], stem: Path) -> list[Path]:
    """T1 as Markdown (``.md``) and LaTeX (``.tex``): ratios to 16-GRPO, this project vs the paper."""
    head, rows = table_rows(data)
    where = "; ".join(_source_note(src) for src in data.get("sources", [])) or "no results"
    note = (f"Ratios relative to 16-GRPO: ratio of seed means; ± = std over seeds of per-seed ratios; "
            f"95% CI: paired two-way bootstrap over seeds and problems (grpo_theory.llm.bootstrap), where "
            f"the runs carry per-problem outcomes. "
            f"Sources: {where}. Paper: 97.63% = ratio of grand Mean@32 averages (v3 Table 1), "
            f"12.5% = 0.15M/1.2M rollouts, 20.96% = summed hours; 2-GRPO+RS from v3 Table 1 the same way.")
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", note, ""]
    stem.parent.mkdir(parents=True, exist_ok=True)
    p_md = stem.with_suffix(".md")
    p_md.write_text("\n".join(md))

    def tex(s: str) -> str:
        return s.replace("%", r"\%").replace("±", r"$\pm$").replace("–", "--").replace("_", r"\_")

    lines = [r"\begin{tabular}{ll" + "r" * (len(head) - 2) + "}", r"\toprule",
             " & ".join(tex(h) for h in head) + r" \\", r"\midrule"]
    lines += [" & ".join(tex(c) for c in r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}", "% " + note, ""]
    p_tex = stem.with_suffix(".tex")
    p_tex.write_text("\n".join(lines))
    return [p_md, p_tex]
