"""Run artifacts: atomic writes, the one JSONL policy, corrupt-file errors, repository root, config hash."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

from grpo_theory import artifacts
from grpo_theory.artifacts import (
    CorruptFileError,
    RepoRootError,
    atomic_write_json,
    atomic_write_text,
    jsonable,
    portable,
    read_json,
    read_jsonl,
    repo_root,
    write_json_if_changed,
)
from grpo_theory.llm.config import TrainConfig, config_hash, hash_fields

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "results" / "checkpoints" / "addition-tiny-seed0"


# ---------------------------------------------------------------------------------------------- writing


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "sub" / "a.json"
    atomic_write_json(p, {"b": 1, "a": [1, 2]})
    assert p.read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    atomic_write_text(p, "new\n")
    assert p.read_text() == "new\n"
    assert sorted(x.name for x in p.parent.iterdir()) == ["a.json"]
    assert oct(p.stat().st_mode & 0o777) != oct(0o600)  # an ordinary file, not mkstemp's private mode


def test_atomic_write_keeps_the_old_file_when_serialisation_fails(tmp_path):
    p = tmp_path / "a.json"
    atomic_write_json(p, {"ok": 1})
    with pytest.raises(TypeError):
        atomic_write_json(p, {"bad": object()})
    assert json.loads(p.read_text()) == {"ok": 1}
    assert [x.name for x in tmp_path.iterdir()] == ["a.json"]


def test_atomic_torch_save_roundtrip(tmp_path):
    p = tmp_path / "c.pt"
    artifacts.atomic_torch_save({"w": torch.arange(3)}, p)
    assert torch.equal(torch.load(p)["w"], torch.arange(3))
    assert [x.name for x in tmp_path.iterdir()] == ["c.pt"]


def test_write_json_if_changed_ignores_volatile_keys(tmp_path):
    p = tmp_path / "s.json"
    assert write_json_if_changed(p, {"x": 1, "machine": "a"}, ignore=["machine"])
    before = p.read_bytes()
    assert not write_json_if_changed(p, {"x": 1, "machine": "b"}, ignore=["machine"])
    assert p.read_bytes() == before
    assert write_json_if_changed(p, {"x": 2, "machine": "b"}, ignore=["machine"])
    assert json.loads(p.read_text()) == {"x": 2, "machine": "b"}


def test_jsonable():
    import numpy as np

    obj = {"t": torch.tensor([1.5, float("nan")]), "n": np.float32(0.5), "tup": (1, 2), "p": Path("a/b"),
           1: float("inf")}
    assert jsonable(obj) == {"t": [1.5, None], "n": 0.5, "tup": [1, 2], "p": "a/b", "1": None}
    kept = jsonable(obj, nonfinite="keep")
    assert math.isnan(kept["t"][1]) and kept["1"] == float("inf")
    with pytest.raises(ValueError, match="nonfinite"):
        jsonable(1.0, nonfinite="drop")


def test_portable_rewrites_paths_inside_the_repository_only():
    root = repo_root()
    obj = {"policy": str(root / "results" / "checkpoints" / "x"), "keep": "results/a", "n": 3,
           "list": [str(root)], "other": "/nonexistent-elsewhere/x"}
    assert portable(obj) == {"policy": "results/checkpoints/x", "keep": "results/a", "n": 3, "list": ["."],
                             "other": "/nonexistent-elsewhere/x"}
    import tempfile

    assert portable(os.path.join(tempfile.gettempdir(), "run-abc", "x")) == "<tmp>/run-abc/x"


# ---------------------------------------------------------------------------------------------- reading


def test_read_jsonl_drops_only_a_torn_last_line(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text('{"step": 1}\n\n{"step": 2}\n{"step": 3, "x"')
    assert read_jsonl(p) == [{"step": 1}, {"step": 2}]
    p.write_text('{"step": 1}\n{"step": 2}\n')
    assert read_jsonl(p) == [{"step": 1}, {"step": 2}]
    p.write_text('{"step": 1}\n{"st\n{"step": 3}\n')
    with pytest.raises(CorruptFileError, match=r"log\.jsonl is corrupt: line 2"):
        read_jsonl(p)
    assert read_jsonl(tmp_path / "missing.jsonl") == []
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "missing.jsonl", missing_ok=False)


def test_read_json_names_a_corrupt_file(tmp_path):
    p = tmp_path / "summary.json"
    p.write_text('{"a": [1, 2')
    with pytest.raises(CorruptFileError, match=r"summary\.json is corrupt: invalid JSON"):
        read_json(p)
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CorruptFileError, match=r"summary\.json is corrupt"):
        read_json(p)


# -------------------------------------------------------------------------------------------- repository root


def test_repo_root_from_source_tree_env_and_cwd(tmp_path, monkeypatch):
    assert repo_root() == ROOT
    monkeypatch.setenv(artifacts.ROOT_ENV, str(tmp_path))
    assert repo_root() == tmp_path.resolve()
    monkeypatch.setenv(artifacts.ROOT_ENV, str(tmp_path / "missing"))
    with pytest.raises(RepoRootError, match="not a directory"):
        repo_root()


def test_repo_root_when_installed_outside_a_checkout(tmp_path, monkeypatch):
    """A plain ``pip install .``: the package sits in site-packages; the root comes from the cwd, or an
    error."""
    site = tmp_path / "site-packages" / "grpo_theory"
    site.mkdir(parents=True)
    monkeypatch.delenv(artifacts.ROOT_ENV, raising=False)
    monkeypatch.setattr(artifacts, "__file__", str(site / "artifacts.py"))
    clone = tmp_path / "clone"
    (clone / "results").mkdir(parents=True)
    (clone / "pyproject.toml").write_text('[project]\nname = "grpo_theory"\n')
    monkeypatch.chdir(clone / "results")
    assert repo_root() == clone.resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pyproject.toml").write_text('[project]\nname = "another"\n')
    monkeypatch.chdir(elsewhere)
    with pytest.raises(RepoRootError, match="GRPO_THEORY_ROOT"):
        repo_root()


def test_no_module_uses_parents_of_its_file_for_the_root():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "grpo_theory").rglob("*.py")
                 if "parents[2]" in p.read_text() or "parents[3]" in p.read_text()]
    assert offenders == []


# ---------------------------------------------------------------------------------------------- config hash


def test_hash_keys_on_the_weights_not_their_path(tmp_path):
    copy = tmp_path / "elsewhere" / "ckpt"
    shutil.copytree(TINY, copy)
    a = TrainConfig(policy=str(TINY))
    b = TrainConfig(policy=str(copy))
    rel = TrainConfig(policy="results/checkpoints/addition-tiny-seed0")
    assert config_hash(a) == config_hash(b) == config_hash(rel) == config_hash(TrainConfig(policy="tiny"))
    assert hash_fields(a)["policy_sha256"] == json.loads((TINY / "meta.json").read_text())["weights_sha256"]
    assert "policy" not in hash_fields(a)
    # other weights, another hash
    with open(copy / "model.safetensors", "r+b") as fh:
        fh.seek(-4, os.SEEK_END)
        fh.write(b"\x00\x01\x02\x03")
    assert config_hash(b) != config_hash(a)


def test_hash_fields_that_change_the_numbers():
    c = TrainConfig(policy="unused", threads=1)
    assert config_hash(c) == config_hash(c.replace(name="x", out_dir="y", checkpoint_every=7,
                                                   save_final=False))
    assert config_hash(c) != config_hash(c.replace(threads=2))  # CPU kernels split reductions per thread
    assert config_hash(c) != config_hash(c.replace(device="cuda"))
    gpu = c.replace(device="cuda")
    assert (config_hash(gpu) == config_hash(gpu.replace(threads=4))
            == config_hash(gpu.replace(device="cuda:1")))
    # an option added after the hash was defined changes it only when it leaves its default
    assert config_hash(c) == config_hash(c.replace(reward_mode="task"))
    assert config_hash(c) != config_hash(c.replace(reward_mode="random"))


def test_threads_change_the_numbers_which_is_why_they_are_hashed():
    """Gradients of the same batch with 1 and 3 CPU threads: the kernels split reductions per thread.

    Where this machine's kernels happen to agree for every count tried, the test is skipped (the
    dependence is a property of the kernels, not guaranteed); the hash keeps ``threads`` either way.
    """
    from grpo_theory.llm.model import build_model

    before = torch.get_num_threads()
    model = build_model(40, "tiny", seed=0)
    x = torch.randint(0, 40, (512, 12), generator=torch.Generator().manual_seed(0))
    grads = {}
    try:
        for th in (1, 3, 4):
            torch.set_num_threads(th)
            model.zero_grad()
            model(input_ids=x).logits.float().log_softmax(-1).mean().backward()
            grads[th] = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    finally:
        torch.set_num_threads(before)
    diffs = {th: float((grads[1] - grads[th]).abs().max()) for th in (3, 4)}
    if not any(diffs.values()):
        pytest.skip(f"this machine's kernels give identical gradients for 1, 3, 4 threads: {diffs}")
    assert max(diffs.values()) < 1e-4  # rounding, not a bug
    assert (config_hash(TrainConfig(policy="unused", threads=1))
            != config_hash(TrainConfig(policy="unused", threads=3)))
