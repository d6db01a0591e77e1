"""Run an experiment (headline, ablation or tune) of a preset over seeds; write results/<experiment>/.

Layout of the output directory::

    config.json                    preset, every run's TrainConfig, machine and library versions
    runs/<method>_s<seed>.jsonl    the run's per-step log (see METRICS.md)
    runs/<method>_s<seed>.json     the run's result (final evaluation, rollouts, seconds)
    start_eval_s<seed>.json        evaluation of the shared start checkpoint (once per seed)
    summary.json, summary.md       the table (see grpo_theory.llm.summary)
    .work/                         checkpoints of unfinished runs (not results; safe to delete)

Runs go seed by seed (every method of seed 0, then seed 1, ...) so that an interrupted experiment
leaves comparable partial results. A run whose result file exists with the same config hash is
skipped; an unfinished one resumes from its last checkpoint. Re-running the same command therefore
continues a crashed experiment.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from grpo_theory.llm.config import TrainConfig, config_hash
from grpo_theory.llm.presets import EXPERIMENTS, REFERENCE, Preset
from grpo_theory.llm.summary import format_table, summarize
from grpo_theory.llm.trainer import (
    LOG_NAME,
    RESULT_NAME,
    _evaluate,
    atomic_write_json,
    atomic_write_text,
    held_out_problems,
    train,
)


def slug(name: str) -> str:
    """A file-name-safe version of a method name ('2-GRPO+RS' -> '2-GRPO_RS')."""
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", name).strip("_")


def resolve_policy(preset: Preset, device: str, progress: bool = True) -> str:
    """The start policy spec: for ``tiny``, the preset's pretrained start checkpoint (made on first use)."""
    if preset.base.policy != "tiny":
        return preset.base.policy
    from grpo_theory.llm.pretrain import PretrainConfig, ensure_start_checkpoint

    kwargs = dict(preset.pretrain)
    kwargs.setdefault("device", device)
    return str(ensure_start_checkpoint(PretrainConfig(**kwargs), progress=progress))


def reference_of(experiment: str, names: list[str]) -> str | None:
    if experiment == "headline":
        return REFERENCE
    if experiment == "ablation":
        return "G=16"
    return None


def machine_info(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
        "processor": platform.processor(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    try:
        info["loadavg"] = os.getloadavg()  # 1, 5, 15 min: other jobs on the machine stretch wall-clock
    except OSError:  # pragma: no cover
        pass
    return info


def run_experiment(
    experiment: str,
    preset: Preset,
    *,
    seeds: list[int] | None = None,
    device: str | None = None,
    out: str | Path,
    progress: bool = True,
    methods: list[str] | None = None,
    keep_work: bool = False,
    log=print,
    task=None,
) -> dict[str, Any]:
    """Run every (seed, method) of ``experiment`` under ``preset``; returns the summary dict.

    ``task`` replaces ``make_task(preset.base.task)`` (tests use toy rewards); ``log`` prints progress lines.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose from {sorted(EXPERIMENTS)}")
    seeds = list(preset.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("no seeds given")
    device = device or preset.base.device
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    work = out / ".work"

    t0 = time.perf_counter()
    policy_spec = resolve_policy(preset, device, progress)
    p = preset.with_base(policy=policy_spec, device=device, checkpoint_every=preset.checkpoint_every)
    runs = EXPERIMENTS[experiment](p)
    if methods:
        unknown = set(methods) - set(runs)
        if unknown:
            raise ValueError(f"unknown methods {sorted(unknown)}; {experiment} has {list(runs)}")
        runs = {k: v for k, v in runs.items() if k in methods}
    reference = reference_of(experiment, list(runs))
    atomic_write_json(out / "config.json", {
        "experiment": experiment, "preset": preset.name, "description": preset.description, "seeds": seeds,
        "eta": preset.lr, "policy": policy_spec, "reference": reference,
        "runs": {name: cfg.to_dict() for name, cfg in runs.items()}, "machine": machine_info(device),
    })

    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for seed in seeds:
        start_eval = _start_eval(next(iter(runs.values())).replace(seed=seed), out / f"start_eval_s{seed}.json", task)
        for name, base_cfg in runs.items():
            run_id = f"{slug(name)}_s{seed}"
            cfg = base_cfg.replace(seed=seed, out_dir=str(work / run_id))
            res_path = out / "runs" / f"{run_id}.json"
            if res_path.exists():
                saved = json.loads(res_path.read_text())
                if saved.get("config_hash") == config_hash(cfg):
                    log(f"[{experiment}/{preset.name}] {name} seed {seed}: done earlier, skipped")
                    results[name].append(saved)
                    continue
            log(f"[{experiment}/{preset.name}] {name} seed {seed}")
            res = train(cfg, resume=True, progress=progress, start_eval=start_eval, task=task)
            shutil.copyfile(Path(cfg.out_dir) / LOG_NAME, out / "runs" / f"{run_id}.jsonl.tmp")
            os.replace(out / "runs" / f"{run_id}.jsonl.tmp", out / "runs" / f"{run_id}.jsonl")
            atomic_write_json(res_path, res)
            if not keep_work:
                shutil.rmtree(cfg.out_dir, ignore_errors=True)
            results[name].append(res)
            log(f"    {_one_line(res)}")

    summary = summarize(results, reference)
    summary.update({"experiment": experiment, "preset": preset.name, "seeds": seeds,
                    "wall_seconds_this_call": time.perf_counter() - t0, "machine": machine_info(device)})
    atomic_write_json(out / "summary.json", summary)
    table = format_table(summary, k=p.base.eval_k)
    atomic_write_text(out / "summary.md", table + "\n")
    log("")
    log(table)
    return summary


def _start_eval(cfg: TrainConfig, path: Path, task=None) -> dict[str, float]:
    """Evaluation of the start checkpoint, shared by every method of one seed (cached in ``path``)."""
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("key") == _start_key(cfg):
            return saved["eval"]
    from grpo_theory.llm.policy import load_policy
    from grpo_theory.llm.tasks import make_task

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    policy = load_policy(cfg.policy, device=device, dtype=torch.float32)
    task = task if task is not None else make_task(cfg.task)
    ev = _evaluate(policy, task, held_out_problems(task, cfg), cfg, device) if cfg.eval_size else {}
    atomic_write_json(path, {"key": _start_key(cfg), "eval": ev})
    return ev


def _start_key(cfg: TrainConfig) -> dict[str, Any]:
    keys = ("policy", "task", "seed", "eval_size", "eval_seed", "eval_split", "eval_k", "eval_temperature",
            "eval_top_p", "dtype")
    return {k: getattr(cfg, k) for k in keys}


def _one_line(res: dict[str, Any]) -> str:
    ev = res["final_eval"]
    return (f"Mean@k {100 * ev.get('eval/mean_at_k', float('nan')):.1f}%  greedy "
            f"{100 * ev.get('eval/greedy_acc', float('nan')):.1f}%  rollouts {res['rollouts']:,}  "
            f"train {res['train_seconds']:.0f}s  discard {100 * res['discard_frac']:.0f}%")


def load_results(out: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Result dicts of the finished runs in ``out/runs``, grouped by method name."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(Path(out, "runs").glob("*.json")):
        res = json.loads(path.read_text())
        grouped.setdefault(res["name"], []).append(res)
    return grouped


__all__ = ["RESULT_NAME", "load_results", "run_experiment", "slug"]
