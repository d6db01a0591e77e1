"""Plot tests check that figures draw, not how they look: PNG only, at a low resolution.

``test_save_writes_png_and_pdf`` exercises the real :func:`grpo_theory.figures.style.save`.
"""

import matplotlib.pyplot as plt
import pytest

from grpo_theory.figures import style


def _png_only(fig, stem):
    stem.parent.mkdir(parents=True, exist_ok=True)
    path = stem.with_suffix(".png")
    fig.savefig(path, dpi=30)
    plt.close(fig)
    return [path]


@pytest.fixture(autouse=True)
def _fast_save(request, monkeypatch):
    if request.node.name != "test_save_writes_png_and_pdf":
        monkeypatch.setattr(style, "save", _png_only)
