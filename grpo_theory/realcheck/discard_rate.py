r"""R7 on a real model: zero-signal (tied) pairs during 2-GRPO training (v3 Table 3 analog).

A 2-GRPO pair carries no gradient when both rewards are equal; for a prompt with success
probability p that happens with probability :math:`P_0(2,p)=p^2+(1-p)^2`
(:func:`grpo_theory.theory.zero_signal_probability`). For a training step with prompts
:math:`q_1..q_P`, the expected fraction of tied pairs is :math:`\frac1P\sum_q P_0(2,p_q)`, which by
Jensen is at least :math:`P_0(2,\bar r)` (the gap is exactly :math:`2\,\mathrm{Var}_q(p_q)`). v3 App. D.3
estimates the discard rate from the mean reward :math:`\bar r` as printed :math:`1-\bar r^2-(1-\bar r)^2`
(that is the probability of a *mixed* pair), while its Table 3 values can only be
:math:`\bar r^2+(1-\bar r)^2`.

The experiment runs the project's trainer (:func:`grpo_theory.llm.trainer.train`, loss ``two_grpo``)
and, before each optimizer step, draws ``extra_samples`` fresh rollouts of each of that step's prompts
from the same policy (the weights the trainer samples with). Per step it records

* ``measured``: the trainer's fraction of tied pairs (``train/zero_signal_frac``), binomial SE;
* ``expected_per_prompt``: :math:`\frac1P\sum_q\hat P_0(q)` with the unbiased per-prompt estimate
  :math:`\hat P_0=\frac{k(k-1)+(m-k)(m-k-1)}{m(m-1)}` from k correct of m extra samples (SE across prompts);
* ``rbar_formula``: :math:`P_0(2,\bar r)` with :math:`\bar r` the step's mean training reward (what the
  paper's formula gives), and ``printed_formula`` :math:`1-P_0(2,\bar r)`;
* ``jensen_gap``: ``expected_per_prompt`` minus :math:`P_0(2,\bar p)` with :math:`\bar p` from the extra
  samples.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grpo_theory.configfields import option
from grpo_theory.realcheck._common import env_snapshot, load, out_dir, train_in_steps, write_csv, write_json
from grpo_theory.realcheck.config import CheckConfig

Tensor = torch.Tensor
NAME = "discard_rate"


@dataclass(frozen=True)
class DiscardConfig(CheckConfig):
    """R7 experiment configuration."""

    model: str = option("tiny", "Start policy: 'tiny', 'smollm2' or a checkpoint directory")
    steps: int = option(30, "Optimizer steps of 2-GRPO (one generation batch each, on-policy)", minimum=1)
    prompts_per_step: int = option(256, "Pairs per step (the paper's 2-GRPO mini-batch: 256 prompts x 2 "
                                   "rollouts)", minimum=1)
    lr: float = option(1e-4, "AdamW learning rate. On-policy with 256 pairs per step, 2.4e-3 (8 x 3e-4, the "
                       "linear rule) made the tiny model collapse in one step (training reward 0.29 -> "
                       "0.04, discard rate -> 1); 1e-4 learns.", above=0)
    extra_samples: int = option(16, "m: fresh rollouts per prompt for the per-prompt estimate of P0",
                                minimum=2)
    eval_size: int = option(500, "Held-out problems evaluated at the start and the end (0 = none)", minimum=0)
    max_new_tokens: int = option(0, "Completion cap; 0 = the task's own", minimum=0)
    seed: int = option(0, "Run seed (trainer seed and data seed) and the seed of the extra samples",
                       minimum=0)

    def __post_init__(self) -> None:
        if self.extra_samples < 2:
            raise ValueError(f"extra_samples must be >= 2 (unbiased P0 needs pairs), got "
                             f"{self.extra_samples}")
        if self.steps < 1 or self.prompts_per_step < 1:
            raise ValueError("steps and prompts_per_step must be >= 1")


def train_config(cfg: DiscardConfig, run_dir: str):
    """The trainer config of the run: on-policy 2-GRPO, one epoch of ``steps x prompts_per_step`` prompts."""
    from grpo_theory.llm.config import TrainConfig

    return TrainConfig(
        policy=cfg.model, task=cfg.task, name="2-GRPO", loss="two_grpo", group_size=2,
        prompts_per_step=cfg.prompts_per_step, train_size=cfg.prompts_per_step * cfg.steps, epochs=1,
        lr=cfg.lr, eval_size=cfg.eval_size, eval_at_start=cfg.eval_size > 0, eval_every=0,
        seed=cfg.seed, data_seed=cfg.seed, threads=cfg.threads, max_new_tokens=cfg.max_new_tokens,
        # the trained weights are not needed (and a GGUF model cannot be saved)
        out_dir=run_dir, save_final=False,
    )


def step_problems(tcfg, task, step: int) -> list:
    """The prompts the trainer uses at optimizer step ``step`` (1-based; on-policy: one step per
    generation)."""
    from grpo_theory.llm.tasks import train_problems
    from grpo_theory.llm.trainer import epoch_order

    if tcfg.updates_per_generation != 1:
        raise ValueError("step_problems assumes one optimizer step per generation batch")
    pool = train_problems(task, tcfg.train_size, tcfg.data_seed)
    gens_per_epoch = tcfg.train_size // tcfg.gen_prompts
    epoch, slot = divmod(step - 1, gens_per_epoch)
    order = epoch_order(tcfg.seed, epoch, tcfg.train_size)
    return [pool[i] for i in order[slot * tcfg.gen_prompts:(slot + 1) * tcfg.gen_prompts]]


def unbiased_p0(k: Tensor, m: int) -> Tensor:
    """Unbiased estimate of p² + (1−p)² from k successes in m ≥ 2 Bernoulli(p) draws."""
    return (k * (k - 1) + (m - k) * (m - k - 1)) / (m * (m - 1))


def estimate_step(policy, task, problems, cfg: DiscardConfig, step: int) -> dict[str, float]:
    """Per-prompt success counts from ``extra_samples`` fresh rollouts; the E_q[P0] estimate and p̄."""
    from grpo_theory.theory import zero_signal_probability

    m = cfg.extra_samples
    with torch.no_grad():
        r = policy.generate([p.prompt for p in problems], m, temperature=1.0, top_p=1.0,
                            max_new_tokens=cfg.max_new_tokens or task.max_new_tokens,
                            seed=cfg.seed * 1_000_003 + 7919 * step, batch_size=1024)
    rw = torch.tensor([task.reward(problems[i // m], t) for i, t in enumerate(r.texts)], dtype=torch.float64)
    k = rw.view(len(problems), m).sum(1)
    p0 = unbiased_p0(k, m)
    p_hat = k / m
    P = len(problems)
    p_bar = float(p_hat.mean())
    return {
        "expected_per_prompt": float(p0.mean()),
        "expected_per_prompt_se": float(p0.std() / math.sqrt(P)),
        "p_bar_extra": p_bar,
        "rbar_formula_extra": float(zero_signal_probability(2, p_bar)),
        "plugin_per_prompt": float(zero_signal_probability(2, p_hat.numpy()).mean()),
        "frac_prompts_p0": float((k == 0).double().mean()),
        "frac_prompts_p1": float((k == m).double().mean()),
    }


def run_experiment(cfg: DiscardConfig, *, policy=None, progress: bool = True,
                   keep_run_dir: str | None = None) -> dict[str, Any]:
    """Run R7 (see the module docstring); returns the result dict (nothing written)."""
    from grpo_theory.llm.tasks import make_task
    from grpo_theory.llm.trainer import LOG_NAME, read_jsonl
    from grpo_theory.theory import zero_signal_probability

    t0 = time.time()
    if policy is None:
        policy = load(cfg.model, threads=cfg.threads)
    task = make_task(cfg.task)
    tmp = tempfile.mkdtemp(prefix="realcheck-discard-")
    try:
        tcfg = train_config(cfg, tmp)
        estimates: list[dict[str, float]] = []

        def estimate(k: int, pol) -> None:  # pol holds the weights the trainer samples step k + 1 with
            if k < cfg.steps:
                estimates.append(estimate_step(pol, task, step_problems(tcfg, task, k + 1), cfg, k + 1))

        result = train_in_steps(tcfg, policy, range(cfg.steps + 1), estimate, progress=progress,
                                desc="R7: 2-GRPO steps")
        log = read_jsonl(Path(tmp) / LOG_NAME)
        if keep_run_dir:
            shutil.copy(Path(tmp) / LOG_NAME, keep_run_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    steps = [r for r in log if r.get("step", 0) >= 1 and "train/zero_signal_frac" in r]
    if len(steps) != cfg.steps:
        raise RuntimeError(f"expected {cfg.steps} step records in the training log, found {len(steps)}")
    rows = []
    P = cfg.prompts_per_step
    for rec, est in zip(steps, estimates):
        measured = rec["train/zero_signal_frac"]
        rbar = rec["train/reward"]
        pred = est["expected_per_prompt"]
        rows.append({
            "step": rec["step"], "measured": measured,
            "measured_se": math.sqrt(max(pred * (1 - pred), 1e-12) / P),
            **est,
            "train_reward": rbar,
            "rbar_formula": float(zero_signal_probability(2, rbar)),
            "printed_formula": 1.0 - float(zero_signal_probability(2, rbar)),
            "jensen_gap": pred - est["rbar_formula_extra"],
        })
    return {
        "experiment": NAME, "result": "R7", "config": cfg, "env": env_snapshot(),
        "train_config": tcfg.to_dict(), "steps": rows, "summary": _summarize(rows),
        "start_eval": result.get("start_eval"), "final_eval": result.get("final_eval"),
        "paper_table3": {"step": [10, 40, 70, 100, 130],
                         "p_discard": [0.5284, 0.6917, 0.6763, 0.7711, 0.7141]},
        "seconds": time.time() - t0,
    }


def _summarize(rows: list[dict]) -> dict[str, Any]:
    n = len(rows)

    def mean(key: str) -> float:
        return sum(r[key] for r in rows) / n

    diff = [r["measured"] - r["expected_per_prompt"] for r in rows]
    var = [r["measured_se"] ** 2 + r["expected_per_prompt_se"] ** 2 for r in rows]
    z = sum(diff) / math.sqrt(sum(var))
    diff_r = [r["measured"] - r["rbar_formula"] for r in rows]
    return {
        "steps": n,
        "mean_measured": mean("measured"),
        "mean_expected_per_prompt": mean("expected_per_prompt"),
        "mean_rbar_formula": mean("rbar_formula"),
        "mean_printed_formula": mean("printed_formula"),
        "mean_jensen_gap": mean("jensen_gap"),
        "z_measured_vs_expected_per_prompt": z,
        "mean_abs_err_expected_per_prompt": sum(abs(d) for d in diff) / n,
        "mean_abs_err_rbar_formula": sum(abs(d) for d in diff_r) / n,
        "mean_measured_minus_rbar_formula": sum(diff_r) / n,
        "mean_abs_err_printed_formula": sum(abs(r["measured"] - r["printed_formula"]) for r in rows) / n,
    }


def write(res: dict[str, Any], out: str | None = None) -> list[str]:
    """Write ``result.json`` and ``steps.csv`` (one row per optimizer step)."""
    d = out_dir(NAME, out)
    return [str(write_json(d / "result.json", res)), str(write_csv(d / "steps.csv", res["steps"]))]


def run(cfg: DiscardConfig, *, out: str | None = None, policy=None, progress: bool = True) -> dict[str, Any]:
    """Run and write the results; returns the result dict."""
    res = run_experiment(cfg, policy=policy, progress=progress)
    res["files"] = write(res, out)
    return res


__all__ = ["DiscardConfig", "estimate_step", "run", "run_experiment", "step_problems", "train_config",
           "unbiased_p0"]
