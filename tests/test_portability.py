"""Committed results are portable: no machine path in them, hashes that any clone recomputes, a re-key
that changed no number, and (slow) a clone at another path that re-runs a committed run as "done, skipped"."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grpo_theory.llm.config import TrainConfig, config_hash, policy_identity

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".json", ".jsonl", ".csv", ".md", ".txt", ".tex", ".svg", ".yaml", ".yml", ".toml"}
#: An absolute path of some machine: a POSIX path under a usual top directory, a home directory, or a drive.
ABSOLUTE = re.compile(r"(?<![\w.~<>-])/"
                      r"(?:home|Users|work|tmp|root|mnt|var|opt|scratch|private|data|srv)/[\w.-]"
                      r"|[A-Za-z]:\\\\[\w.-]")
#: Keys a re-key may change: the hash itself and where things are (never what was measured).
REKEY_KEYS = {"config_hash", "policy", "policy_identity", "key", "out_dir"}


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _tracked(*dirs: str) -> list[Path]:
    try:
        names = _git("ls-files", "-z", "--", *dirs).split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / n for n in names if n]


def test_no_absolute_path_in_committed_results_or_figures():
    root = str(ROOT)
    hits = []
    for p in _tracked("results", "paper_figures"):
        if p.suffix not in TEXT_SUFFIXES or not p.is_file():
            continue
        text = p.read_text(errors="replace")
        for m in ABSOLUTE.finditer(text):
            hits.append(f"{p.relative_to(ROOT)}: {text[max(0, m.start() - 20):m.end() + 30]!r}")
        if root in text:
            hits.append(f"{p.relative_to(ROOT)}: contains this checkout's path")
    assert hits == [], "\n".join(hits[:20])


def _experiment_dirs() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "results").rglob("config.json")
                  if (p.parent / "runs").is_dir() and "checkpoints" not in p.parts)


def test_committed_run_hashes_are_what_this_checkout_computes():
    """Every finished run's stored hash is the hash of its stored config and start weights, so a clone
    anywhere (which resolves the policy path to the same weights) skips it."""
    dirs = _experiment_dirs()
    assert dirs, "no committed experiments found"
    checked = 0
    for d in dirs:
        cfg_file = json.loads((d / "config.json").read_text())
        ident = cfg_file["policy_identity"]
        for rp in sorted((d / "runs").glob("*.json")):
            res = json.loads(rp.read_text())
            cfg = TrainConfig.from_dict(res["config"])
            assert config_hash(cfg, policy=ident) == res["config_hash"], rp
            if (ROOT / cfg.policy).is_dir():  # the weights are committed: recompute their digest too
                assert policy_identity(cfg.policy) == ident, rp
                assert config_hash(cfg) == res["config_hash"], rp
            checked += 1
    assert checked >= 100


def _blob_json(commit: str, path: str):
    return json.loads(_git("show", f"{commit}:{path}"))


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in REKEY_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def test_rekey_commit_changed_no_number():
    """The commit that re-keyed results/ (a rename of the hash and path rewrites) changed nothing else."""
    try:
        commits = _git("log", "--format=%H", "--grep=^results: re-key to the new config hash", "--",
                       "results").split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    if not commits:
        pytest.skip("the re-key commit is not in this history (shallow clone?)")
    rekey = commits[-1]
    changed = [f for f in _git("diff", "--name-only", f"{rekey}^", rekey).split() if f.endswith(".json")]
    assert len(changed) >= 100
    for f in changed:
        old, new = _blob_json(f"{rekey}^", f), _blob_json(rekey, f)
        assert _strip(old) == _strip(new), f
        if "config_hash" in old:
            assert old["config_hash"] != new["config_hash"], f  # a real re-key, not a no-op
        if "key" in old:
            assert {k: v for k, v in old["key"].items() if k != "policy"}.items() <= new["key"].items(), f


# -------------------------------------------------------------------------------------------- clone elsewhere


_SMOKE = [sys.executable, "-m", "grpo_theory", "train", "--policy", "results/checkpoints/addition-tiny-seed0",
          "--train-size", "8", "--epochs", "1", "--group-size", "2", "--prompts-per-step", "8",
          "--eval-size", "8", "--eval-k", "1", "--threads", "1", "--save-final", "false", "--no-progress",
          "--out-dir", "results/smoke/train"]
#: A two-run experiment (the ablation's G=2 and G=4 on 8 prompts) written under results/smoke/ablation.
_EXPERIMENT = [sys.executable, "-c", """
from grpo_theory.llm.config import TrainConfig
from grpo_theory.llm.experiment import run_experiment
from grpo_theory.llm.presets import Preset
base = TrainConfig(policy="results/checkpoints/addition-tiny-seed0", train_size=8, epochs=1,
                   prompts_per_step=8, eval_size=8, eval_k=1, threads=1, save_final=False)
preset = Preset(name="smoke", description="clone test", base=base, lr=1e-4, prompts_16=8, seeds=(0,),
                eval_points=0)
run_experiment("ablation", preset, out="results/smoke/ablation", methods=["G=2", "G=4"], progress=False)
"""]


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GRPO_THEORY_ROOT"}
    env["PYTHONPATH"] = str(cwd)  # import this clone's package, not the one the venv was installed from
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _commit(cwd: Path, message: str) -> None:
    _git("add", "-A", ".", cwd=cwd)
    # --allow-empty: with a clean working tree the copied code is already the committed code
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--allow-empty", "-qm", message, cwd=cwd)


@pytest.mark.slow
def test_a_clone_elsewhere_skips_finished_runs_and_changes_no_tracked_file():
    """Clone A finishes a small run and a small experiment and commits them; clone B, at another path,
    re-runs both: every finished run reports "done, skipped", and ``git status`` stays clean."""
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "first" / "clone", Path(tmp) / "another" / "place"
        a.parent.mkdir(parents=True)
        _git("clone", "-q", "--no-hardlinks", str(ROOT), str(a), cwd=Path(tmp))
        # the code under test is this working tree's, committed or not
        shutil.copytree(ROOT / "grpo_theory", a / "grpo_theory", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        _commit(a, "code under test")
        for cmd in (_SMOKE, _EXPERIMENT):
            first = _run(cmd, a)
            assert first.returncode == 0, first.stderr[-3000:]
        _commit(a, "smoke results")
        for f in (a / "results" / "smoke").rglob("*"):
            if f.is_file() and f.suffix in (".json", ".jsonl", ".md"):
                assert str(a) not in f.read_text() and "/first/" not in f.read_text(), f

        b.parent.mkdir(parents=True)
        _git("clone", "-q", str(a), str(b), cwd=Path(tmp))
        again = _run(_SMOKE, b)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "done, skipped" in again.stderr
        exp = _run(_EXPERIMENT, b)
        assert exp.returncode == 0, exp.stderr[-3000:]
        assert exp.stdout.count("done, skipped") == 2, exp.stdout
        assert _git("status", "--porcelain", cwd=b) == ""
