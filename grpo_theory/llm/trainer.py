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
from pathlib import Path
from typing import Any

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
    "ALL_PHASES", "CHECKPOINT_NAME", "DEFAULT_MICRO_BATCH", "FINAL_DIR", "LOG_NAME", "LOSS_CONVENTIONS", "RESULT_NAME",
    "TRAIN_PHASES", "Batch", "Counters", "ResumeError", "Timer", "atomic_write_json", "atomic_write_text",
    "autocast", "collect", "derive_seed", "epoch_order", "generate_groups", "held_out_problems",
    "loss_conventions", "micro_batch_rows", "needs_reference", "read_jsonl", "result_is_complete",
    "tied_groups", "token_logprobs", "train", "weights_digest",
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
    out.update({f"problems/{k.removeprefix('per_problem_')}": v for k, v in res.items() if isinstance(v, list)})
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


def train(cfg: TrainConfig, *, resume: bool = False, require_checkpoint: bool = False, progress: bool = True,
          stop_after: int | None = None, policy=None, task=None,
          start_eval: dict[str, float] | None = None) -> dict[str, Any]:
    """Run (or resume) one RL run; returns the result dict also written to ``out_dir/result.json``.

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
    from tqdm.auto import tqdm

    from grpo_theory.llm.tasks import make_task, train_problems
    from grpo_theory.llm.zoo import load_policy

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {cfg.device!r} requested but torch.cuda.is_available() is False")
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chash = config_hash(cfg)
    ckpt_path = out_dir / CHECKPOINT_NAME
    if resume and (done := check_resume(out_dir, cfg, chash, require_checkpoint=require_checkpoint)) is not None:
        return done

    # --- the pieces: task, data, policy, loss, optimizer --------------------------------------
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
    resumed = resume and ckpt_path.exists()
    if resumed:
        c = restore_checkpoint(ckpt_path, chash=chash, start_digest=start_digest, model=policy.model,
                               optimizer=optimizer, device=device)
    log_path = start_log(out_dir, cfg, chash, c if resumed else None)

    timer = Timer(device)
    log_fh = open(log_path, "a")

    def write(record: dict[str, Any]) -> None:
        log_fh.write(json.dumps(record) + "\n")
        log_fh.flush()

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, cfg=cfg, chash=chash, start_digest=start_digest, model=policy.model,
                        optimizer=optimizer, counters=c, device=device)

    last_eval: dict[str, float] = {}
    if c.step == 0 and cfg.eval_at_start and held_out:
        with timer("eval"):
            last_eval = dict(start_eval) if start_eval is not None else _evaluate(policy, task, held_out, cfg, device)
        split = timer.pop()
        c.add_seconds(split)
        write({"step": 0, "epoch": 0.0, **last_eval, "time/eval": split[0]["eval"]})

    eval_steps = cfg.eval_step_set
    gens_per_epoch = cfg.train_size // cfg.gen_prompts
    total_gens = cfg.epochs * gens_per_epoch
    bar = tqdm(total=cfg.total_steps, initial=c.step, disable=not progress, desc=cfg.name or cfg.loss,
               unit="step", dynamic_ncols=True)
    stopped = False
    try:
        while c.gen_index < total_gens:
            epoch, slot = divmod(c.gen_index, gens_per_epoch)
            order = epoch_order(cfg.seed, epoch, cfg.train_size)
            idx = order[slot * cfg.gen_prompts:(slot + 1) * cfg.gen_prompts]
            if slot == 0:
                c.epoch_drawn = []
            used = set(order[:(slot + 1) * cfg.gen_prompts]) | set(c.epoch_drawn) if cfg.resample else None
            batch = collect(policy, task, [pool[i] for i in idx], pool, cfg, c.gen_index, timer, device, used=used)
            c.epoch_drawn += batch.drawn
            attach_logprobs(batch, policy, cfg, device, timer, ref_model)
            c.add_generation(batch.stats)

            for j in range(cfg.updates_per_generation):
                mb = batch.mini_batch(j, cfg.prompts_per_step)
                if j == 0:
                    mb.old_logp = None  # on-policy: old_logp = logp.detach(), ratio exactly 1
                with timer("update"):
                    metrics = update_step(policy, optimizer, loss_fn, conventions, mb, cfg, device, lr_at(cfg, c.step))
                c.step += 1
                record = _step_record(c, cfg, metrics, mb, batch.stats if j == 0 else None)
                if ((cfg.eval_every and c.step % cfg.eval_every == 0) or c.step == cfg.total_steps
                        or c.step in eval_steps):
                    if held_out:
                        with timer("eval"):
                            last_eval = _evaluate(policy, task, held_out, cfg, device)
                        record.update(last_eval)
                split = timer.pop()
                c.add_seconds(split)
                record.update(timing_fields(split))  # every phase on every line (0 when it did not run)
                record.update(count_fields(c))
                write(record)
                bar.update(1)
                bar.set_postfix(reward=f"{record['train/reward']:.3f}",
                                acc=f"{last_eval.get('eval/greedy_acc', float('nan')):.3f}")
            c.gen_index += 1
            boundary_done = c.gen_index == total_gens
            if cfg.checkpoint_every and not boundary_done and c.step - c.last_checkpoint_step >= cfg.checkpoint_every:
                checkpoint()
            if stop_after is not None and c.step >= stop_after and not boundary_done:
                if c.last_checkpoint_step != c.step:
                    checkpoint()
                stopped = True
                break
    finally:
        bar.close()
        log_fh.close()
    if stopped:
        return {"status": "stopped", "step": c.step, "config_hash": chash}

    if cfg.save_final:
        policy.save(out_dir / FINAL_DIR)
    records = read_jsonl(log_path)
    start = next((_eval_of(r) for r in records if r["step"] == 0), {})
    result = final_result(cfg, chash, c, start, last_eval)
    atomic_write_json(out_dir / RESULT_NAME, result)
    ckpt_path.unlink(missing_ok=True)
    return result
