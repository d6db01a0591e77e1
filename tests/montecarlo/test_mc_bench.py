"""The benchmark runner and the Monte Carlo benchmark (tiny sizes)."""

from __future__ import annotations

import importlib.util

from grpo_theory.bench import SECTIONS
from grpo_theory.bench.__main__ import main
from grpo_theory.bench.montecarlo import measure


def test_runner_rejects_unknown_and_skips_missing_sections(monkeypatch, capsys):
    assert main(["no-such-section"]) == 2
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert main(list(SECTIONS)) == 0
    out = capsys.readouterr().out
    for name in SECTIONS:
        assert f"== {name} " in out and f"grpo_theory.bench.{name} does not exist" in out


def test_runner_reports_a_failing_section(monkeypatch, capsys):
    import grpo_theory.bench.montecarlo as mc

    def boom() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(mc, "main", boom)
    assert main(["montecarlo"]) == 1
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_measure_reports_both_throughputs_and_their_ratio():
    # Speed itself is reported by `make bench`, never asserted here.
    m = measure(4, "paper", 2000, 3)
    assert m["vectorized"] > 0 and m["loop"] > 0
    assert m["ratio"] == m["vectorized"] / m["loop"]
