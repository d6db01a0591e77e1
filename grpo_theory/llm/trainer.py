"""RL with verifiable rewards on a causal LM: the training loop (cleanrl style).

One run = one :class:`~grpo_theory.llm.config.TrainConfig`. The loop, per generation batch:

1. take the next ``gen_prompts`` prompts of the fixed training set (a fresh shuffle every epoch);
2. sample ``G`` completions per prompt with Hugging Face ``generate`` (KV cache, ``micro_batch`` rows per
   call), score them with the task's exact-match reward; with ``resample`` (2-GRPO+RS) replace groups
   whose rewards are all equal by groups of prompts not yet used in this epoch, within a rollout budget
   (:mod:`grpo_theory.llm.rollouts`);
3. ``old_logp`` = the log-probs recorded while sampling (the sampling distribution, ``softmax(logits /
   temperature)``; no extra forward pass) and, only when the loss uses one, the frozen start policy's
   ``ref_logp``;
4. cut the batch into ``updates_per_generation`` mini-batches of ``prompts_per_step`` prompts; for
   each: current log-probs, ``LOSSES[cfg.loss](...)``, backward, gradient clip, AdamW step
   (:mod:`grpo_theory.llm.update`), one JSONL line;
5. at generation-batch boundaries, a checkpoint (:mod:`grpo_theory.llm.run_state`).

The loss is looked up in the shared registry :data:`grpo_theory.losses.LOSSES` and called as a
function; no advantage or loss formula lives in the trainer. Every random draw is a pure function of
``(cfg.seed, generation index, round)``, so a run that is killed and resumed from a checkpoint
reproduces the uninterrupted run bit for bit (the checkpoint still stores the global RNG states, the
optimizer and the counters, for anything that draws from them).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch

from grpo_theory.artifacts import atomic_write_json, atomic_write_text, read_jsonl
from grpo_theory.llm.config import TrainConfig, config_hash
from grpo_theory.llm.rollouts import (
    DEFAULT_MICRO_BATCH,
    Batch,
    attach_logprobs,
    autocast,
    collect,
    derive_seed,
    epoch_order,
    generate_groups,
    micro_batch_rows,
    tied_groups,
    token_logprobs,
)
from grpo_theory.llm.run_state import (
    ALL_PHASES,
    CHECKPOINT_NAME,
    FINAL_DIR,
    LOG_NAME,
    RESULT_NAME,
    TRAIN_PHASES,
    Counters,
    ResumeError,
    Timer,
    check_resume,
    count_fields,
    final_result,
    restore_checkpoint,
    result_is_complete,
    save_checkpoint,
    start_log,
    timing_fields,
    weights_digest,
)
from grpo_theory.llm.update import (
    LOSS_CONVENTIONS,
    check_loss,
    loss_conventions,
    lr_at,
    make_optimizer,
    needs_reference,
    update_step,
)
from grpo_theory.losses import LOSSES

# The names other modules import from here (the trainer was one file before it was split).
__all__ = [
    "ALL_PHASES", "CHECKPOINT_NAME", "DEFAULT_MICRO_BATCH", "FINAL_DIR", "LOG_NAME", "LOSS_CONVENTIONS",
    "RESULT_NAME", "TRAIN_PHASES", "Batch", "Counters", "ResumeError", "Timer", "atomic_write_json",
    "atomic_write_text", "autocast", "collect", "derive_seed", "epoch_order", "generate_groups",
    "held_out_problems", "loss_conventions", "micro_batch_rows", "needs_reference", "read_jsonl",
    "result_is_complete", "tied_groups", "token_logprobs", "train", "weights_digest",
]


def held_out_problems(task, cfg: TrainConfig) -> list:
    """The evaluation problems: the test split, or the validation split used to tune hyper-parameters.

    ``test`` is the first ``eval_size`` problems of evaluation seed ``eval_seed``; with seed 0 these lie
    in the pool every training set excludes. ``validation`` is the last ``eval_size`` problems of that
    pool (the slice pretraining stops on), disjoint from a test split of at most
    ``EVAL_POOL - eval_size`` problems.
    """
    from grpo_theory.llm.tasks import EVAL_POOL, eval_problems

    if not cfg.eval_size:
        return []
    if cfg.eval_split == "validation":
        return eval_problems(task, EVAL_POOL, seed=0)[EVAL_POOL - cfg.eval_size:]
    return eval_problems(task, cfg.eval_size, cfg.eval_seed)


def _evaluate(policy, task, problems, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    from grpo_theory.llm.evaluate import evaluate

    with autocast(cfg, device):
        res = evaluate(policy, task, problems, k=cfg.eval_k, temperature=cfg.eval_temperature,
                       top_p=cfg.eval_top_p, seed=derive_seed("eval", cfg.seed))
    out: dict[str, Any] = {f"eval/{k}": float(v) for k, v in res.items() if isinstance(v, int | float)}
    # Per-problem outcomes (lists) under their own prefix: bootstrap CIs over problems resample them.
    out.update({f"problems/{k.removeprefix('per_problem_')}": v
                for k, v in res.items() if isinstance(v, list)})
    return out


def _eval_of(record: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in record.items() if k.startswith(("eval/", "problems/"))}


def _step_record(c: Counters, cfg: TrainConfig, metrics: dict[str, float], mb: Batch,
                 gen_stats: dict[str, float] | None) -> dict[str, Any]:
    """A log line's position, ``loss/``, ``train/`` and (first mini-batch of a generation) ``gen/`` fields."""
    record: dict[str, Any] = {"step": c.step, "epoch": c.step / cfg.steps_per_epoch, **metrics}
    rewards = mb.rewards
    record["train/reward"] = float(rewards.mean())
    record["train/accuracy"] = float((rewards >= 1.0).float().mean())
    record["train/zero_signal_frac"] = float(tied_groups(rewards).float().mean())
    record["train/completion_len"] = float(mb.rollouts.completion_mask.sum(1).float().mean())
    if gen_stats is not None:
        record.update({f"gen/{k}": v for k, v in gen_stats.items()})
        record["gen/discard_frac"] = gen_stats["discarded_groups"] / max(gen_stats["groups"], 1.0)
    return record


@dataclass
class _Run:
    """What one run holds while it trains: its pieces, its counters and its open log.

    ``pool`` is the fixed training set, ``held_out`` the evaluation problems, ``ref_model`` the frozen start
    policy (None unless the loss reads it), ``c`` the counters a checkpoint saves, ``last_eval`` the newest
    evaluation metrics (empty until the first evaluation of this process).
    """

    cfg: TrainConfig
    device: torch.device
    chash: str
    out_dir: Path
    task: Any
    pool: list
    held_out: list
    policy: Any
    loss_fn: Callable[..., Any]
    conventions: dict[str, Any]
    start_digest: str
    ref_model: torch.nn.Module | None
    optimizer: torch.optim.Optimizer
    c: Counters
    log_path: Path
    timer: Timer
    eval_steps: frozenset[int]
    log_fh: TextIO | None = None
    last_eval: dict[str, Any] = field(default_factory=dict)

    @property
    def ckpt_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    def write(self, record: dict[str, Any]) -> None:
        """Append one line to the log (flushed: a killed run keeps every line it wrote)."""
        assert self.log_fh is not None, "the log is opened by train()"
        self.log_fh.write(json.dumps(record) + "\n")
        self.log_fh.flush()

    def checkpoint(self) -> None:
        save_checkpoint(self.ckpt_path, cfg=self.cfg, chash=self.chash, start_digest=self.start_digest,
                        model=self.policy.model, optimizer=self.optimizer, counters=self.c,
                        device=self.device)

    def evaluate(self) -> None:
        with self.timer("eval"):
            self.last_eval = _evaluate(self.policy, self.task, self.held_out, self.cfg, self.device)


def train(cfg: TrainConfig, *, resume: bool = False, require_checkpoint: bool = False, progress: bool = True,
          stop_after: int | None = None, policy=None, task=None,
          start_eval: dict[str, float] | None = None) -> dict[str, Any]:
    """Run (or resume) one RL run; returns the result dict also written to ``out_dir/result.json``.

    The steps: :func:`_setup` (task, data, policy, loss, optimizer, checkpoint), :func:`_log_start` (the
    start policy's evaluation), :func:`_train_loop` (per generation batch :func:`_generation_batch`, then
    :func:`_update` per mini-batch, then :func:`_after_generation`'s checkpoint), :func:`_finish`.

    Args:
        cfg: the run.
        resume: continue from ``out_dir/checkpoint.pt`` if present (and return the saved result at
            once if the run already finished); with no checkpoint, start the run. A checkpoint of
            another config is a :class:`ResumeError`. Without it an existing run in ``out_dir`` is replaced.
        require_checkpoint: with ``resume``, there must be something to resume (``--resume``): no
            checkpoint and no finished run, or a saved run of another config, is a :class:`ResumeError`.
        progress: show a tqdm progress bar.
        stop_after: stop after this many optimizer steps without finishing, as if killed there (for
            tests of resume; a checkpoint is written at that step if it is a generation boundary).
        policy: an already loaded start policy (else ``load_policy(cfg.policy)``); it is trained in place.
        task: a task object to use instead of ``make_task(cfg.task)`` (tests use toy rewards).
        start_eval: evaluation metrics of the start policy, to log instead of re-evaluating it (an
            experiment evaluates the shared start checkpoint once per seed).
    """
    device = _device(cfg)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chash = config_hash(cfg)
    if resume:
        done = check_resume(out_dir, cfg, chash, require_checkpoint=require_checkpoint)
        if done is not None:
            return done
    run = _setup(cfg, device, out_dir, chash, resume=resume, policy=policy, task=task)
    with open(run.log_path, "a") as run.log_fh:
        _log_start(run, start_eval)
        stopped = _train_loop(run, progress=progress, stop_after=stop_after)
    if stopped:
        return {"status": "stopped", "step": run.c.step, "config_hash": chash}
    return _finish(run)


def _device(cfg: TrainConfig) -> torch.device:
    """The run's device (and torch's thread count, when ``cfg.threads`` sets one)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {cfg.device!r} requested but torch.cuda.is_available() is False")
    return device


def _setup(cfg: TrainConfig, device: torch.device, out_dir: Path, chash: str, *, resume: bool, policy,
           task) -> _Run:
    """The pieces (task, data, policy, loss, optimizer), restored from the checkpoint when resuming."""
    from grpo_theory.llm.tasks import make_task, train_problems
    from grpo_theory.llm.zoo import load_policy

    task = task if task is not None else make_task(cfg.task)
    pool = train_problems(task, cfg.train_size, cfg.data_seed)
    held_out = held_out_problems(task, cfg)
    if policy is None:
        policy = load_policy(cfg.policy, device=device, dtype=torch.float32)
    policy.model.eval()
    check_loss(cfg)
    loss_fn = LOSSES[cfg.loss]
    conventions = loss_conventions(cfg, loss_fn)
    start_digest = weights_digest(policy.model)
    # Reference = the start policy, frozen; copied and run only when the loss reads it (DPO, kl_coef > 0).
    ref_model = copy.deepcopy(policy.model).eval().requires_grad_(False) if needs_reference(cfg) else None
    optimizer = make_optimizer(policy.model, cfg)
    c = Counters()
    ckpt_path = out_dir / CHECKPOINT_NAME
    resumed = resume and ckpt_path.exists()
    if resumed:
        c = restore_checkpoint(ckpt_path, chash=chash, start_digest=start_digest, model=policy.model,
                               optimizer=optimizer, device=device)
    log_path = start_log(out_dir, cfg, chash, c if resumed else None)
    return _Run(cfg=cfg, device=device, chash=chash, out_dir=out_dir, task=task, pool=pool, held_out=held_out,
                policy=policy, loss_fn=loss_fn, conventions=conventions, start_digest=start_digest,
                ref_model=ref_model, optimizer=optimizer, c=c, log_path=log_path, timer=Timer(device),
                eval_steps=cfg.eval_step_set)


def _log_start(run: _Run, start_eval: dict[str, float] | None) -> None:
    """Step 0's line: the start policy's evaluation (given, or measured now), when the run starts."""
    cfg, c = run.cfg, run.c
    if c.step == 0 and cfg.eval_at_start and run.held_out:
        if start_eval is not None:
            with run.timer("eval"):
                run.last_eval = dict(start_eval)
        else:
            run.evaluate()
        split = run.timer.pop()
        c.add_seconds(split)
        run.write({"step": 0, "epoch": 0.0, **run.last_eval, "time/eval": split[0]["eval"]})


def _train_loop(run: _Run, *, progress: bool, stop_after: int | None) -> bool:
    """Every remaining generation batch and its optimizer steps; True if stopped early (``stop_after``)."""
    from tqdm.auto import tqdm

    cfg, c = run.cfg, run.c
    total_gens = cfg.epochs * (cfg.train_size // cfg.gen_prompts)
    bar = tqdm(total=cfg.total_steps, initial=c.step, disable=not progress, desc=cfg.name or cfg.loss,
               unit="step", dynamic_ncols=True)
    try:
        while c.gen_index < total_gens:
            batch = _generation_batch(run)
            for j in range(cfg.updates_per_generation):
                record = _update(run, batch, j)
                bar.update(1)
                bar.set_postfix(reward=f"{record['train/reward']:.3f}",
                                acc=f"{run.last_eval.get('eval/greedy_acc', float('nan')):.3f}")
            c.gen_index += 1
            if _after_generation(run, total_gens, stop_after):
                return True
        return False
    finally:
        bar.close()


def _generation_batch(run: _Run) -> Batch:
    """Sample, score and log-prob the next generation batch (the next ``gen_prompts`` of this epoch)."""
    cfg, c = run.cfg, run.c
    epoch, slot = divmod(c.gen_index, cfg.train_size // cfg.gen_prompts)
    order = epoch_order(cfg.seed, epoch, cfg.train_size)
    idx = order[slot * cfg.gen_prompts:(slot + 1) * cfg.gen_prompts]
    if slot == 0:
        c.epoch_drawn = []
    # RS draws replacement prompts only among those not yet used in this epoch.
    used = set(order[:(slot + 1) * cfg.gen_prompts]) | set(c.epoch_drawn) if cfg.resample else None
    batch = collect(run.policy, run.task, [run.pool[i] for i in idx], run.pool, cfg, c.gen_index, run.timer,
                    run.device, used=used)
    c.epoch_drawn += batch.drawn
    attach_logprobs(batch, run.policy, cfg, run.device, run.timer, run.ref_model)
    c.add_generation(batch.stats)
    return batch


def _update(run: _Run, batch: Batch, j: int) -> dict[str, Any]:
    """Mini-batch ``j`` of ``batch``: one optimizer step, an evaluation when due, and its log line."""
    cfg, c = run.cfg, run.c
    mb = batch.mini_batch(j, cfg.prompts_per_step)
    if j == 0:
        mb.old_logp = None  # on-policy: old_logp = logp.detach(), ratio exactly 1
    with run.timer("update"):
        metrics = update_step(run.policy, run.optimizer, run.loss_fn, run.conventions, mb, cfg, run.device,
                              lr_at(cfg, c.step))
    c.step += 1
    record = _step_record(c, cfg, metrics, mb, batch.stats if j == 0 else None)
    due = (cfg.eval_every and c.step % cfg.eval_every == 0) or c.step == cfg.total_steps
    if (due or c.step in run.eval_steps) and run.held_out:
        run.evaluate()
        record.update(run.last_eval)
    split = run.timer.pop()
    c.add_seconds(split)
    record.update(timing_fields(split))  # every phase on every line (0 when it did not run)
    record.update(count_fields(c))
    run.write(record)
    return record


def _after_generation(run: _Run, total_gens: int, stop_after: int | None) -> bool:
    """The checkpoint at a generation boundary (unless the run is done); True if the run stops here."""
    cfg, c = run.cfg, run.c
    boundary_done = c.gen_index == total_gens
    if cfg.checkpoint_every and not boundary_done and c.step - c.last_checkpoint_step >= cfg.checkpoint_every:
        run.checkpoint()
    if stop_after is not None and c.step >= stop_after and not boundary_done:
        if c.last_checkpoint_step != c.step:
            run.checkpoint()
        return True
    return False


def _finish(run: _Run) -> dict[str, Any]:
    """Save the final policy, write ``result.json`` from the log and drop the checkpoint."""
    if run.cfg.save_final:
        run.policy.save(run.out_dir / FINAL_DIR)
    records = read_jsonl(run.log_path)
    start = next((_eval_of(r) for r in records if r["step"] == 0), {})
    result = final_result(run.cfg, run.chash, run.c, start, run.last_eval)
    atomic_write_json(run.out_dir / RESULT_NAME, result)
    run.ckpt_path.unlink(missing_ok=True)
    return result
