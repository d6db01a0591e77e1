"""Run an experiment (headline, ablation or tune) of a preset over seeds; write results/<experiment>/.

Layout of the output directory::

    config.json                    preset, every run's TrainConfig, the start weights' sha256, machine and
                                   library versions
    runs/<method>_s<seed>.jsonl    the run's per-step log (see METRICS.md)
    runs/<method>_s<seed>.json     the run's result (final evaluation, rollouts, seconds)
    start_eval_s<seed>.json        evaluation of the shared start checkpoint (once per seed)
    summary.json, summary.md       the table (see grpo_theory.llm.summary)
    .work/                         checkpoints of unfinished runs (not results; safe to delete)

Runs go seed by seed (every method of seed 0, then seed 1, ...) so that an interrupted experiment
leaves comparable partial results. A run whose result file exists with the same config hash is
skipped ("done, skipped"); an unfinished one resumes from its last checkpoint. Re-running the same
command therefore continues a crashed experiment, and a re-run that finds every run finished rewrites
no file. A finished run whose config hash differs from the requested one is never replaced silently:
the call refuses, naming both hashes, unless ``overwrite=True`` (``--overwrite``). Paths inside the
repository are stored relative to its root (:func:`grpo_theory.artifacts.portable`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import torch

from grpo_theory.artifacts import (
    UsageError,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_writable,
    environment,
    portable,
    read_json,
    write_json_if_changed,
)
from grpo_theory.llm.config import TrainConfig, config_hash, policy_identity
from grpo_theory.llm.presets import EXPERIMENTS, REFERENCE, Preset
from grpo_theory.llm.runlog import read_runs, slug
from grpo_theory.llm.summary import format_table, summarize
from grpo_theory.llm.trainer import (
    LOG_NAME,
    RESULT_NAME,
    _evaluate,
    held_out_problems,
    train,
)


def resolve_policy(preset: Preset, device: str, progress: bool = True) -> str:
    """The start policy spec: for ``tiny``, the preset's pretrained start checkpoint (made on first use)."""
    if preset.base.policy != "tiny":
        return preset.base.policy
    from grpo_theory.llm.pretrain import PretrainConfig, ensure_start_checkpoint

    kwargs = dict(preset.pretrain)
    kwargs.setdefault("device", device)
    return str(ensure_start_checkpoint(PretrainConfig(**kwargs), progress=progress))


def reference_of(experiment: str, names: list[str]) -> str | None:
    if experiment in ("headline", "partial_credit"):
        return REFERENCE
    if experiment == "ablation":
        return "G=16"
    return None


def machine_info(device: str) -> dict[str, Any]:
    """The environment snapshot stored beside results (:func:`grpo_theory.artifacts.environment`)."""
    return environment(device)


class RunConflictError(UsageError, ValueError):
    """The output directory holds a finished run of a different config (see ``overwrite``)."""


#: Keys of config.json / summary.json that differ on every call (not results): a re-run that changes
#: nothing else leaves those files as they are.
VOLATILE_KEYS = ("machine", "wall_seconds_this_call")


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
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run every (seed, method) of ``experiment`` under ``preset``; returns the summary dict.

    ``task`` replaces ``make_task(preset.base.task)`` (tests use toy rewards); ``log`` prints progress lines.
    ``overwrite``: replace finished runs whose config differs (else :class:`RunConflictError`, before
    anything is trained or written).
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose from {sorted(EXPERIMENTS)}")
    seeds = list(preset.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("no seeds given")
    device = device or preset.base.device
    out = Path(out)
    check_writable(out)
    work = out / ".work"

    t0 = time.perf_counter()
    policy_spec = resolve_policy(preset, device, progress)
    p = preset.with_base(policy=policy_spec, device=device, checkpoint_every=preset.checkpoint_every)
    runs = _select_runs(experiment, p, methods)
    reference = reference_of(experiment, list(runs))
    if not overwrite:
        _refuse_conflicts(out, runs, seeds, work)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    write_json_if_changed(out / "config.json", portable({
        "experiment": experiment, "preset": preset.name, "description": preset.description, "seeds": seeds,
        "eta": preset.lr, "policy": policy_spec, "policy_identity": policy_identity(policy_spec),
        "reference": reference, "runs": {name: cfg.to_dict() for name, cfg in runs.items()},
        "machine": machine_info(device),
    }), ignore=VOLATILE_KEYS)

    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for seed in seeds:
        start_path = out / f"start_eval_s{seed}.json"
        start_eval = _start_eval(next(iter(runs.values())).replace(seed=seed), start_path, task)
        for name, base_cfg in runs.items():
            tag = f"[{experiment}/{preset.name}] {name} seed {seed}"
            results[name].append(_one_run(base_cfg, seed, out, name, tag, start_eval, log=log,
                                          progress=progress, task=task, keep_work=keep_work))

    summary = summarize(results, reference)
    summary.update(experiment_extras(experiment, summary, results, runs, preset, out))
    summary.update({"experiment": experiment, "preset": preset.name, "seeds": seeds,
                    "wall_seconds_this_call": time.perf_counter() - t0, "machine": machine_info(device)})
    write_json_if_changed(out / "summary.json", portable(summary), ignore=VOLATILE_KEYS)
    table = format_table(summary, k=p.base.eval_k)
    md = out / "summary.md"
    if not md.is_file() or md.read_text() != table + "\n":
        atomic_write_text(md, table + "\n")
    log("")
    log(table)
    return summary


def _select_runs(experiment: str, p: Preset, methods: list[str] | None) -> dict[str, TrainConfig]:
    """The experiment's runs under preset ``p``, only ``methods`` if given (``ValueError`` on unknown
    ones)."""
    runs = EXPERIMENTS[experiment](p)
    if methods:
        unknown = set(methods) - set(runs)
        if unknown:
            raise ValueError(f"unknown methods {sorted(unknown)}; {experiment} has {list(runs)}")
        runs = {k: v for k, v in runs.items() if k in methods}
    return runs


def _one_run(base_cfg: TrainConfig, seed: int, out: Path, name: str, tag: str, start_eval: dict[str, float],
             *, log, progress: bool, task, keep_work: bool) -> dict[str, Any]:
    """One (method, seed): its saved result when it has this config hash, else trained (resuming from its
    checkpoint under ``out/.work``), with its log and result copied to ``out/runs/``."""
    run_id = f"{slug(name)}_s{seed}"
    cfg = base_cfg.replace(seed=seed, out_dir=str(out / ".work" / run_id))
    res_path = out / "runs" / f"{run_id}.json"
    if res_path.exists():
        saved = read_json(res_path)
        if saved.get("config_hash") == config_hash(cfg):
            log(f"{tag}: done, skipped")
            return saved
    log(tag)
    res = train(cfg, resume=True, progress=progress, start_eval=start_eval, task=task)
    atomic_write_bytes(out / "runs" / f"{run_id}.jsonl", (Path(cfg.out_dir) / LOG_NAME).read_bytes())
    atomic_write_json(res_path, portable(res))
    if not keep_work:
        shutil.rmtree(cfg.out_dir, ignore_errors=True)
    log(f"    {_one_line(res)}")
    return res


def experiment_extras(experiment: str, summary: dict[str, Any], results: dict[str, list[dict[str, Any]]],
                      runs: dict[str, TrainConfig], preset: Preset, out: Path) -> dict[str, Any]:
    """What one experiment adds to the generic summary: the lr choice of a sweep, the headline's arm
    record."""
    if experiment == "lr_sweep":
        from grpo_theory.llm.lr_sweep import select_lrs, sweep_table

        table = sweep_table({k: v for k, v in results.items() if v})
        return {"sweep": table, "selected": select_lrs(table), "selected_on": "validation"}
    if experiment in ("headline", "partial_credit"):
        from grpo_theory.llm.headline import headline_record

        return {"arms": headline_record(summary, preset, out, {n: slug(n) for n in runs},
                                        {n: c.lr for n, c in runs.items()})}
    return {}


def _start_eval(cfg: TrainConfig, path: Path, task=None) -> dict[str, float]:
    """Evaluation of the start checkpoint, shared by every method of one seed (cached in ``path``)."""
    if path.exists():
        saved = read_json(path)
        if saved.get("key") == _start_key(cfg):
            return saved["eval"]
    from grpo_theory.llm.tasks import make_task
    from grpo_theory.llm.zoo import load_policy

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    policy = load_policy(cfg.policy, device=device, dtype=torch.float32)
    task = task if task is not None else make_task(cfg.task)
    ev = _evaluate(policy, task, held_out_problems(task, cfg), cfg, device) if cfg.eval_size else {}
    atomic_write_json(path, portable({"key": _start_key(cfg), "eval": ev}))
    return ev


def _start_key(cfg: TrainConfig) -> dict[str, Any]:
    """What the start evaluation depends on: the start weights (their sha256, not their path), the
    evaluation settings, and, as in :func:`~grpo_theory.llm.config.hash_fields`, the device type and
    the CPU thread count."""
    keys = ("task", "seed", "eval_size", "eval_seed", "eval_split", "eval_k", "eval_temperature",
            "eval_top_p", "dtype")
    key = {k: getattr(cfg, k) for k in keys}
    key.update(policy_identity(cfg.policy))
    key["device"] = cfg.device.split(":", 1)[0]
    if key["device"] == "cpu":
        key["threads"] = cfg.threads
    return key


def _refuse_conflicts(out: Path, runs: dict[str, TrainConfig], seeds: list[int], work: Path) -> None:
    """Raise :class:`RunConflictError` if a finished run in ``out`` has another config hash than requested."""
    for seed in seeds:
        for name, base_cfg in runs.items():
            run_id = f"{slug(name)}_s{seed}"
            res_path = out / "runs" / f"{run_id}.json"
            if not res_path.exists():
                continue
            saved = read_json(res_path).get("config_hash")
            wanted = config_hash(base_cfg.replace(seed=seed, out_dir=str(work / run_id)))
            if saved != wanted:
                raise RunConflictError(
                    f"{res_path} holds a finished run with config hash {saved}, but this command asks for "
                    f"{wanted}: pass --overwrite to replace it, or choose another --out")


def _one_line(res: dict[str, Any]) -> str:
    ev = res["final_eval"]
    return (f"Mean@k {100 * ev.get('eval/mean_at_k', float('nan')):.1f}%  greedy "
            f"{100 * ev.get('eval/greedy_acc', float('nan')):.1f}%  rollouts {res['rollouts']:,}  "
            f"train {res['train_seconds']:.0f}s  discard {100 * res['discard_frac']:.0f}%")


def load_results(out: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Result dicts of the finished runs in ``out/runs``, grouped by method name."""
    return {name: [r.result for r in runs] for name, runs in read_runs(Path(out, "runs")).items()}


__all__ = ["RESULT_NAME", "RunConflictError", "load_results", "run_experiment", "slug"]
