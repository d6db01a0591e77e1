"""Run state of the RL trainer: counters, phase timers, the run directory's files, checkpoints and resume.

A run directory holds ``config.json`` (the config and its hash), ``log.jsonl`` (one line per optimizer
step), ``checkpoint.pt`` while the run is unfinished, and ``result.json`` plus ``final/`` when it is done.
A checkpoint is written at generation-batch boundaries (``checkpoint_every``; by default every one) and
holds the weights, the optimizer, :class:`Counters` and the global RNG states; resuming from it and
dropping the log lines past it reproduces the uninterrupted run (every draw of the run itself is seeded
by ``(seed, generation index, round)``, see :mod:`grpo_theory.llm.rollouts`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import pickle
import random
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grpo_theory.artifacts import (
    CorruptFileError,
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    read_jsonl,
)
from grpo_theory.llm.config import TrainConfig, config_hash

LOG_NAME = "log.jsonl"
CHECKPOINT_NAME = "checkpoint.pt"
RESULT_NAME = "result.json"
CONFIG_NAME = "config.json"
FINAL_DIR = "final"

#: Phases that count as training time (``time/train_total``): what a method costs to run.
TRAIN_PHASES = ("gen", "reward", "logprob", "ref", "update")
#: Every timed phase: the training ones and evaluation.
ALL_PHASES = (*TRAIN_PHASES, "eval")


class ResumeError(ValueError):
    """A resume that cannot continue: nothing to resume from, or the saved run has another config."""


class Timer:
    """Accumulates seconds per phase: wall-clock, and this process's CPU time.

    CUDA is synchronized at phase boundaries so that GPU work lands in the phase that launched it.
    CPU seconds (``time.process_time``, all threads) are reported next to wall-clock because on a
    shared machine other jobs stretch the wall-clock, whereas the work done stays roughly the same.
    """

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        if self.cuda:
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            if self.cuda:
                torch.cuda.synchronize()
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t0
            self.cpu[phase] = self.cpu.get(phase, 0.0) + time.process_time() - c0

    def pop(self) -> tuple[dict[str, float], dict[str, float]]:
        out = (self.seconds, self.cpu)
        self.seconds, self.cpu = {}, {}
        return out


@dataclass
class Counters:
    """Run state besides weights and optimizer: everything needed to resume to the same result."""

    step: int = 0
    gen_index: int = 0
    rollouts: int = 0
    prompts: int = 0
    groups: int = 0
    discarded_groups: int = 0
    last_checkpoint_step: int = 0
    epoch_drawn: list[int] = field(default_factory=list)  # pool indices resampling drew in this epoch
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def add_seconds(self, split: tuple[dict[str, float], dict[str, float]]) -> None:
        for total, part in zip((self.seconds, self.cpu_seconds), split):
            for k, v in part.items():
                total[k] = total.get(k, 0.0) + v

    def add_generation(self, stats: dict[str, float]) -> None:
        """Count one generation batch (its ``Batch.stats``)."""
        self.rollouts += int(stats["rollouts"])
        self.groups += int(stats["groups"])
        self.discarded_groups += int(stats["discarded_groups"])
        self.prompts += int(stats["groups"])

    def train_seconds(self, cpu: bool = False) -> float:
        d = self.cpu_seconds if cpu else self.seconds
        return sum(d.get(k, 0.0) for k in TRAIN_PHASES)


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 over the parameter and buffer bytes, in state-dict order (identifies the start policy)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().to("cpu").contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _rng_states(device: torch.device) -> dict[str, Any]:
    states = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _set_rng_states(states: dict[str, Any], device: torch.device) -> None:
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def _saved_hash(out_dir: Path) -> str | None:
    """The config hash of the run saved in ``out_dir`` (its config.json), or None."""
    try:
        return json.loads((out_dir / CONFIG_NAME).read_text()).get("config_hash")
    except (OSError, ValueError, AttributeError):
        return None


def result_is_complete(out_dir: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    """The saved result of a finished run with this config, or None."""
    path = out_dir / RESULT_NAME
    if not path.exists():
        return None
    res = json.loads(path.read_text())
    if res.get("status") == "complete" and res.get("config_hash") == config_hash(cfg):
        return res
    return None


def check_resume(out_dir: Path, cfg: TrainConfig, chash: str, *,
                 require_checkpoint: bool) -> dict[str, Any] | None:
    """Before anything is loaded: the finished result to return at once, or None to (re)start the run.

    With ``require_checkpoint`` (``--resume``), a saved run of another config or a directory without a
    checkpoint is a :class:`ResumeError`.
    """
    if (done := result_is_complete(out_dir, cfg)) is not None:
        return done
    if not require_checkpoint:
        return None
    saved = _saved_hash(out_dir)
    if saved is not None and saved != chash:
        raise ResumeError(f"{out_dir} holds a run of another config (saved hash {saved}, requested {chash}); "
                          "give the same options as that run, or another --out-dir")
    if not (out_dir / CHECKPOINT_NAME).exists():
        raise ResumeError(f"nothing to resume in {out_dir}: no {CHECKPOINT_NAME} "
                          "(start the run without --resume)")
    return None


def save_checkpoint(path: Path, *, cfg: TrainConfig, chash: str, start_digest: str, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, counters: Counters, device: torch.device) -> None:
    counters.last_checkpoint_step = counters.step
    atomic_torch_save({
        "config_hash": chash, "config": cfg.to_dict(), "start_digest": start_digest,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "counters": dataclasses.asdict(counters), "rng": _rng_states(device),
    }, path)


def restore_checkpoint(path: Path, *, chash: str, start_digest: str, model: torch.nn.Module,
                       optimizer: torch.optim.Optimizer, device: torch.device) -> Counters:
    """Load weights, optimizer and RNG states from ``path`` into the run; returns its counters."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise CorruptFileError(f"{path} is corrupt ({type(e).__name__}); "
                               "delete it to restart the run") from None
    if ckpt["config_hash"] != chash:
        raise ResumeError(f"{path} belongs to a different config (hash {ckpt['config_hash']} != {chash}); "
                          "use another out_dir or start without --resume")
    if ckpt["start_digest"] != start_digest:
        raise ResumeError(f"{path} was trained from other start weights than the policy given now; "
                          "resume with the same start policy (the reference model is rebuilt from it)")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    _set_rng_states(ckpt["rng"], device)
    return Counters(**ckpt["counters"])


def start_log(out_dir: Path, cfg: TrainConfig, chash: str, counters: Counters | None) -> Path:
    """Prepare ``log.jsonl`` and write ``config.json``; returns the log's path.

    Resuming (``counters`` given): keep the lines up to the checkpoint's step and drop the rest (steps
    the killed run logged after it, and a torn last line). Starting: an empty log, no old result.
    """
    log_path = out_dir / LOG_NAME
    if counters is not None:
        records = [r for r in read_jsonl(log_path) if r["step"] <= counters.step]
        atomic_write_text(log_path, "".join(json.dumps(r) + "\n" for r in records))
    else:
        atomic_write_text(log_path, "")
        (out_dir / RESULT_NAME).unlink(missing_ok=True)
    atomic_write_json(out_dir / CONFIG_NAME, {"config": cfg.to_dict(), "config_hash": chash})
    return log_path


def timing_fields(split: tuple[dict[str, float], dict[str, float]]) -> dict[str, float]:
    """A log line's ``time/`` and ``cpu/`` fields: every phase (0 when it did not run) and the totals."""
    out: dict[str, float] = {}
    for phase in ALL_PHASES:
        out[f"time/{phase}"] = split[0].get(phase, 0.0)
        out[f"cpu/{phase}"] = split[1].get(phase, 0.0)
    return out


def count_fields(c: Counters) -> dict[str, float]:
    """A log line's cumulative ``count/`` fields and training-time totals."""
    return {"count/rollouts": c.rollouts, "count/prompts": c.prompts,
            "count/groups": c.groups, "count/discarded_groups": c.discarded_groups,
            "time/train_total": c.train_seconds(), "cpu/train_total": c.train_seconds(cpu=True)}


def final_result(cfg: TrainConfig, chash: str, c: Counters, start_eval: dict[str, Any],
                 final_eval: dict[str, Any]) -> dict[str, Any]:
    """The ``result.json`` of a finished run."""
    return {
        "status": "complete",
        "name": cfg.name,
        "config": cfg.to_dict(),
        "config_hash": chash,
        "steps": c.step,
        "rollouts": c.rollouts,
        "prompts": c.prompts,
        "groups": c.groups,
        "discarded_groups": c.discarded_groups,
        "discard_frac": c.discarded_groups / max(c.groups, 1),
        "seconds": dict(c.seconds),
        "cpu_seconds": dict(c.cpu_seconds),
        "train_seconds": c.train_seconds(),
        "train_cpu_seconds": c.train_seconds(cpu=True),
        "start_eval": start_eval,
        "final_eval": final_eval,
    }
