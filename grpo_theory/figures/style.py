"""The one figure style: an rcParams dict, paper-column sizes, colors per method and group size.

Every plot function calls :func:`figure` to get a correctly sized figure, :func:`decorate` on each
axis (rliable's ``_decorate_axis``: no top/right spines, outward ticks) and :func:`save` to write
PNG and PDF side by side. Sizes are in inches: one paper column is 3.4 in wide.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: never open a window

import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

COLUMN_WIDTH = 3.4  # in, one column of a two-column paper
FULL_WIDTH = 7.0  # in, both columns
ROW_HEIGHT = 2.3  # in, one row of panels

RC: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": None,  # constrained layout already fits; "tight" would draw twice
    "savefig.pad_inches": 0.02,
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "axes.titlesize": 7.5,
    "axes.labelsize": 7.5,
    "legend.fontsize": 6.5,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "errorbar.capsize": 1.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.linewidth": 0.3,
    "grid.alpha": 0.5,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "mathtext.fontset": "dejavusans",
    "pdf.fonttype": 42,  # TrueType in PDFs (editable text)
    "axes.prop_cycle": cycler(
        color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    ),
}

#: One color per training method, used by every LLM figure.
METHOD_COLORS: dict[str, str] = {
    "16-GRPO": "#0072B2",
    "2-GRPO": "#D55E00",
    "2-GRPO+RS": "#009E73",
    "online DPO": "#CC79A7",
    "2-GRPO (8eta)": "#E69F00",
    "2-GRPO random reward": "#999999",
}
#: Fallback colors for methods not listed above.
_EXTRA = ["#E69F00", "#56B4E9", "#000000", "#999999"]

#: Group sizes share a sequential palette (light = small G) wherever G is a curve label.
_G_ORDER = [2, 3, 4, 8, 16, 32, math.inf]


def method_color(name: str) -> str:
    """The color of a method label (stable for unknown labels, too)."""
    if name in METHOD_COLORS:
        return METHOD_COLORS[name]
    return _EXTRA[sum(map(ord, name)) % len(_EXTRA)]


def group_color(G: float) -> tuple[float, float, float, float]:
    """A color for group size ``G`` (viridis, by rank among 2, 3, 4, 8, 16, 32, ∞)."""
    cmap = plt.get_cmap("viridis")
    try:
        i = _G_ORDER.index(G)
    except ValueError:
        i = min(range(len(_G_ORDER)), key=lambda j: abs(math.log(min(G, 1e6)) - math.log(min(_G_ORDER[j],
                                                                                             1e6))))
    return cmap(0.9 * i / (len(_G_ORDER) - 1))


def group_label(G: float) -> str:
    return "G = ∞" if math.isinf(G) else f"G = {int(G)}"


def figure(ncols: int = 1, nrows: int = 1, *, width: float | None = None, height: float | None = None, **kw):
    """A figure of ``nrows × ncols`` panels: one column wide for one panel, full width for more."""
    apply()
    w = width if width is not None else (COLUMN_WIDTH if ncols == 1 else FULL_WIDTH)
    h = height if height is not None else ROW_HEIGHT * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(w, h), squeeze=False, **kw)
    fig.set_layout_engine("constrained")
    return fig, axes


def decorate(ax: Axes) -> Axes:
    """No top/right spines, thin outward ticks (rliable's ``_decorate_axis``)."""
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.tick_params(length=2.5, width=0.6)
    return ax


def panel_label(ax: Axes, letter: str) -> None:
    """A bold (a), (b), ... at the top left of a panel."""
    ax.text(-0.02, 1.02, f"({letter})", transform=ax.transAxes, fontweight="bold", ha="right", va="bottom")


def note(ax: Axes, text: str, *, loc: str = "lower right", y: float | None = None) -> None:
    """A small gray annotation inside the axes (e.g. "quick preset", sample sizes); ``y`` overrides the
    height."""
    x, ha = (0.98, "right") if "right" in loc else (0.02, "left")
    yy, va = (0.02, "bottom") if "lower" in loc else (0.98, "top")
    y = yy if y is None else y
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=5.5, color="0.35")


def save(fig: Figure, stem: Path) -> list[Path]:
    """Writes ``stem.png`` and ``stem.pdf`` (reproducible: no timestamps) and closes the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(out[0], metadata={"Software": None})
    fig.savefig(out[1], metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    return out


def apply() -> None:
    """Installs :data:`RC` globally (every plot function and notebook goes through it)."""
    plt.rcParams.update(RC)  # type: ignore[arg-type]
