"""The peer benchmark's hook and its paths without trl (the measurement itself runs under make bench)."""

import importlib.util

import pytest

from grpo_theory.bench import peer
from grpo_theory.bench.__main__ import ALL_SECTIONS


def test_peer_is_a_bench_section_and_runs_last():
    assert ALL_SECTIONS[-1] == "peer"


def test_without_trl_or_the_crosscheck_venv_it_is_skipped_with_the_fix(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "trl" else real(name, *a))
    monkeypatch.setattr(peer, "_crosscheck_python", lambda: None)
    peer.main([])
    out = capsys.readouterr().out
    assert "skipped" in out and "grpo_theory/crosscheck/setup.sh" in out


def test_bad_arguments_are_usage_errors():
    with pytest.raises(SystemExit) as e:
        peer.main(["--steps", "0"])
    assert e.value.code == 2


def test_both_methods_see_the_same_rollouts_per_step():
    assert {g * p for g, p in peer.SHAPES.values()} == {64}
