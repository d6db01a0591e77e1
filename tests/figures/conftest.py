"""Render test figures at a low resolution: the tests check that plots draw, not how they look."""

import pytest

from grpo_theory.figures import style


@pytest.fixture(autouse=True)
def _low_dpi(monkeypatch):
    monkeypatch.setitem(style.RC, "savefig.dpi", 40)
