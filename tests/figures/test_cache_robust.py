"""Figures survive bad caches (recomputed, one warning line), stop on bad results (the file named), and
draw byte-identical files whatever the hash seed or the process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from grpo_theory.figures import cache
from grpo_theory.figures.__main__ import first_corrupt_result
from grpo_theory.figures.__main__ import main as figures_main

CONFIG = {"n": 3}


def _compute(config):
    return {"xs": list(range(config["n"])), "calls": 1}


@pytest.mark.parametrize("content", [
    '{"fid": "FX", "hash": "abc", "data": {"xs": [0, 1',  # truncated mid-write
    "",  # empty
    "[1, 2, 3]",  # valid JSON, not a record
    '{"fid": "FX", "hash": 12, "data": {}}',  # wrong types
    "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),  # not UTF-8
], ids=["truncated", "empty", "not-a-record", "wrong-types", "not-utf8"])
def test_a_bad_cache_file_is_recomputed_with_one_warning(tmp_path, capsys, content):
    path = tmp_path / "FX.json"
    path.write_bytes(content.encode("latin-1"))
    data, hit = cache.cached("FX", CONFIG, _compute, data_dir=tmp_path)
    assert (data, hit) == (_compute(CONFIG), False)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("warning: ")
    assert "FX.json" in err[0] and "recomputing" in err[0]
    # the file was rewritten as a valid record: the next call is a clean cache hit
    again, hit = cache.cached("FX", CONFIG, _compute, data_dir=tmp_path)
    assert (again, hit) == (data, True)
    assert capsys.readouterr().err == ""
    assert json.loads(path.read_text())["data"] == data


def test_a_good_cache_is_read_without_warning(tmp_path, capsys):
    cache.cached("FX", CONFIG, _compute, data_dir=tmp_path)
    calls = []
    _data, hit = cache.cached("FX", CONFIG, lambda c: calls.append(1) or _compute(c), data_dir=tmp_path)
    assert hit and calls == [] and capsys.readouterr().err == ""


def test_first_corrupt_result_names_the_file(tmp_path):
    (tmp_path / "headline" / "runs").mkdir(parents=True)
    (tmp_path / "headline" / "summary.json").write_text('{"methods": {}}')
    # a torn last line is fine
    (tmp_path / "headline" / "runs" / "a.jsonl").write_text('{"step": 1}\n{"step": 2, "x"')
    assert first_corrupt_result(tmp_path) is None
    (tmp_path / "headline" / "runs" / "16-GRPO_s0.json").write_text('{"config": {"seed": 0}, "final_ev')
    msg = first_corrupt_result(tmp_path)
    assert msg is not None and "16-GRPO_s0.json is corrupt" in msg and "\n" not in msg


def test_figures_command_stops_on_a_corrupt_result_naming_it(tmp_path, monkeypatch, capsys):
    from grpo_theory.figures import __main__ as figures_cli
    from grpo_theory.figures import registry

    bad = tmp_path / "discard_rate" / "result.json"
    bad.parent.mkdir()
    bad.write_text('{"summary": ')

    def build(fig, recompute=False):
        return json.loads(bad.read_text())  # what a data function does with a truncated file

    monkeypatch.setattr(registry, "build", build)
    real = figures_cli.first_corrupt_result
    monkeypatch.setattr(figures_cli, "first_corrupt_result", lambda root=None: real(tmp_path))
    assert figures_main(["--only", "F9"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(err) == 1 and "F9" in err[0] and "result.json is corrupt" in err[0]


_DRAW = """
import sys
from pathlib import Path
from grpo_theory.figures import cache, registry
fig = registry.BY_ID["F3"]
rec = cache.load("F3")
data = rec["data"] if rec else fig.data(fig.config())
fig.plot(data, Path(sys.argv[1]) / fig.stem)
"""


def test_a_figure_is_byte_identical_across_processes_and_hash_seeds(tmp_path):
    """F3 drawn twice, in fresh processes with different PYTHONHASHSEEDs: identical PNG and PDF bytes."""
    procs = {}
    for seed in ("1", "2"):  # both at once: one process per core
        env = {**os.environ, "PYTHONHASHSEED": seed, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
        procs[seed] = subprocess.Popen([sys.executable, "-c", _DRAW, str(tmp_path / seed)], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    digests = []
    for seed, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted((tmp_path / seed).iterdir())})
    assert set(digests[0]) == {"F3_variance_budget.png", "F3_variance_budget.pdf"}
    assert digests[0] == digests[1]
