"""RL with verifiable rewards on a causal LM, in one readable file (cleanrl style).

One run = one :class:`~grpo_theory.llm.config.TrainConfig`. The loop, per generation batch:

1. take the next ``gen_prompts`` prompts of the fixed training set (a fresh shuffle every epoch);
2. sample ``G`` completions per prompt with Hugging Face ``generate`` (KV cache, ``micro_batch`` rows per
   call), score them with the task's exact-match reward; with ``resample`` (2-GRPO+RS) replace groups
   whose rewards are all equal by groups of prompts not yet used in this epoch, within a rollout budget;
3. ``old_logp`` = the log-probs recorded while sampling (the sampling distribution, ``softmax(logits /
   temperature)``; no extra forward pass) and, only when the loss uses one, the frozen start policy's
   ``ref_logp``;
4. cut the batch into ``updates_per_generation`` mini-batches of ``prompts_per_step`` prompts; for
   each: current log-probs, ``LOSSES[cfg.loss](...)``, backward, gradient clip, AdamW step, one JSONL
   line.

The loss is looked up in the shared registry :data:`grpo_theory.losses.LOSSES` and called as a
function; this file contains no advantage or loss formula. Every random draw is a pure function of
``(cfg.seed, generation index, round)``, so a run that is killed and resumed from a checkpoint
reproduces the uninterrupted run bit for bit (the checkpoint still stores the global RNG states, the
optimizer and the counters, for anything that draws from them).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import inspect
import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grpo_theory.artifacts import atomic_torch_save, atomic_write_json, atomic_write_text, read_jsonl
from grpo_theory.llm.config import TrainConfig, config_hash
from grpo_theory.losses import LOSSES

Tensor = torch.Tensor

LOG_NAME = "log.jsonl"
CHECKPOINT_NAME = "checkpoint.pt"
RESULT_NAME = "result.json"
FINAL_DIR = "final"

# Which TrainConfig fields each registry loss takes, and under which keyword. The loss functions own
# their defaults; the trainer only forwards the run's conventions. `beta` means the KL coefficient for
# the GRPO family and the DPO inverse temperature for online DPO, hence the explicit table.
_GRPO_KW = {"std_ddof": "std_ddof", "eps": "eps", "clip_low": "clip_low", "clip_high": "clip_high",
            "loss_agg_mode": "agg", "beta": "kl_coef"}
LOSS_CONVENTIONS: dict[str, dict[str, str]] = {
    "grpo": _GRPO_KW,
    "two_grpo": _GRPO_KW,
    "dr_grpo": {k: v for k, v in _GRPO_KW.items() if k != "loss_agg_mode"},  # Dr. GRPO fixes its own agg
    "rloo": {k: v for k, v in _GRPO_KW.items() if k not in ("std_ddof", "eps")},
    "online_dpo": {"beta": "dpo_beta"},
}
#: Losses that need the frozen start policy's log-probs whatever kl_coef is (DPO's reference).
NEEDS_REFERENCE = frozenset({"online_dpo"})


def loss_conventions(cfg: TrainConfig, fn: Callable | None = None) -> dict[str, Any]:
    """Keyword arguments for ``LOSSES[cfg.loss]`` from the run config.

    For a loss registered outside the table above, every keyword-only parameter of its signature
    whose name is a TrainConfig field is forwarded.
    """
    if cfg.loss in LOSS_CONVENTIONS:
        return {kw: getattr(cfg, f) for kw, f in LOSS_CONVENTIONS[cfg.loss].items()}
    fn = fn or LOSSES[cfg.loss]
    names = {f.name for f in dataclasses.fields(cfg)}
    params = inspect.signature(fn).parameters.values()
    return {p.name: getattr(cfg, p.name) for p in params if p.kind is p.KEYWORD_ONLY and p.name in names}


#: Rows per generate call and per no-grad log-prob pass when ``micro_batch`` is 0. Measured on the tiny
#: model (1 CPU thread): 4,096-row passes cost ~1.5-2x more per row than 256-row ones; 128-1,024 are flat.
DEFAULT_MICRO_BATCH = 256


def micro_batch_rows(cfg: TrainConfig) -> int:
    return cfg.micro_batch or DEFAULT_MICRO_BATCH


def needs_reference(cfg: TrainConfig) -> bool:
    """Whether the loss reads the frozen start policy's log-probs (DPO's reference, or a KL penalty)."""
    return cfg.loss in NEEDS_REFERENCE or cfg.kl_coef > 0


# --------------------------------------------------------------------------------------------------
# small utilities


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from its parts (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def epoch_order(seed: int, epoch: int, n: int) -> list[int]:
    """The training-set order of one epoch: a seeded shuffle, different every epoch."""
    order = list(range(n))
    random.Random(derive_seed("order", seed, epoch)).shuffle(order)
    return order


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


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast when asked for (weights and optimizer state stay fp32), else a no-op."""
    if cfg.dtype == "bfloat16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


# --------------------------------------------------------------------------------------------------
# rollouts


@dataclass
class Batch:
    """One generation batch, prompt-major: rows ``p*G .. p*G+G-1`` are the G rollouts of prompt p."""

    rollouts: Any  # grpo_theory.llm.policy.Rollouts
    rewards: Tensor  # [P, G]
    problems: list  # [P] Problem
    old_logp: Tensor | None = None  # [P*G, T]
    ref_logp: Tensor | None = None  # [P*G, T]
    stats: dict[str, float] = field(default_factory=dict)
    drawn: list[int] = field(default_factory=list)  # pool indices of the prompts drawn by resampling

    @property
    def num_prompts(self) -> int:
        return self.rewards.shape[0]

    def mini_batch(self, i: int, prompts: int) -> Batch:
        """Prompts ``i*prompts .. (i+1)*prompts - 1`` with all their rollouts."""
        g = self.rewards.shape[1]
        rows = torch.arange(i * prompts * g, (i + 1) * prompts * g)
        return Batch(
            rollouts=self.rollouts.select(rows),
            rewards=self.rewards[i * prompts:(i + 1) * prompts],
            problems=self.problems[i * prompts:(i + 1) * prompts],
            old_logp=None if self.old_logp is None else self.old_logp[rows],
            ref_logp=None if self.ref_logp is None else self.ref_logp[rows],
        )


def tied_groups(rewards: Tensor) -> Tensor:
    """``[P]`` bool: groups whose rewards are all equal (zero advantage, no gradient signal)."""
    return (rewards == rewards[:, :1]).all(dim=1)


def generate_groups(policy, task, problems: Sequence, cfg: TrainConfig, seed: int, timer: Timer,
                    device: torch.device) -> tuple[Any, Tensor]:
    """G rollouts for each problem and their rewards ``[P, G]``."""
    with timer("gen"), torch.no_grad(), autocast(cfg, device):
        rollouts = policy.generate(
            [p.prompt for p in problems], cfg.group_size,
            temperature=cfg.temperature, top_p=cfg.top_p,
            max_new_tokens=cfg.max_new_tokens or task.max_new_tokens, greedy=False, seed=seed,
            batch_size=micro_batch_rows(cfg),
        )
    with timer("reward"):
        g = cfg.group_size
        flat = [task.reward(problems[i // g], text) for i, text in enumerate(rollouts.texts)]
        rewards = torch.tensor(flat, dtype=torch.float32).view(len(problems), g)
        if cfg.reward_mode == "random":
            # The random-reward control: coin flips independent of the completions, seeded by this batch.
            gen = torch.Generator().manual_seed(derive_seed("random-reward", seed))
            rewards = (torch.rand(rewards.shape, generator=gen) < cfg.random_reward_rate).float()
    return rollouts, rewards


def collect(policy, task, problems: list, pool: Sequence, cfg: TrainConfig, gen_index: int, timer: Timer,
            device: torch.device, used: set[int] | None = None) -> Batch:
    """Sample one generation batch; with ``cfg.resample``, refill zero-signal groups (2-GRPO+RS).

    Resampling (DAPO's dynamic sampling, the paper's 2-GRPO+RS): a group whose G rewards are all equal
    carries no gradient; it is replaced by the group of a *new* prompt, one not yet used in this epoch,
    until every slot holds an informative group, the budget ``resample_budget x base rollouts`` is spent
    (8 = 16-GRPO's rollouts for G = 2), no unused prompt is left, or ``resample_rounds`` rounds have run.

    used: pool indices already used in this epoch (the epoch's generation batches so far, this one
        included, and the prompts resampling drew for them); ``None`` = only this batch's prompts. Fresh
        prompts are drawn without replacement from the rest of the pool, so a prompt is never drawn
        twice in an epoch by resampling, and a drawn prompt still keeps its own later slot of the epoch
        (the number of optimizer steps is that of 2-GRPO). In the last generation batch of an epoch no
        prompt is left unused: its tied groups stay, as in plain 2-GRPO.

    Each round asks for enough prompts to fill the missing slots at the informative rate seen so far.
    Slots that stay unfilled keep their tied group (zero advantage). Every generated rollout counts
    towards the run's rollouts, discarded or not. ``Batch.drawn`` lists the drawn pool indices (tied or
    not) in drawing order, which the caller adds to ``used``.
    """
    g = cfg.group_size
    rollouts, rewards = generate_groups(policy, task, problems, cfg, derive_seed("gen", cfg.seed, gen_index, 0),
                                        timer, device)
    generated_groups = len(problems)
    if not cfg.resample:
        n_tied = int(tied_groups(rewards).sum())
        stats = {"rollouts": float(generated_groups * g), "groups": float(generated_groups),
                 "discarded_groups": float(n_tied), "rounds": 1.0}
        return Batch(rollouts, rewards, list(problems), stats=stats)

    target = len(problems)
    budget_groups = int(cfg.resample_budget * target)
    parts = [(rollouts, rewards, list(problems))]
    informative = int((~tied_groups(rewards)).sum())
    index_of = {p.prompt: i for i, p in enumerate(pool)}
    excluded = set(used or ()) | {index_of[p.prompt] for p in problems if p.prompt in index_of}
    drawn: list[int] = []
    rng = random.Random(derive_seed("resample", cfg.seed, gen_index))
    rounds = 1
    while informative < target and rounds <= cfg.resample_rounds:
        rate = max(informative / generated_groups, 1.0 / 16)
        want = math.ceil((target - informative) / rate)
        fresh_pool = [i for i in range(len(pool)) if i not in excluded]
        n_new = min(want, budget_groups - generated_groups, len(fresh_pool))
        if n_new <= 0:
            break
        picked = rng.sample(fresh_pool, n_new)
        excluded.update(picked)
        drawn += picked
        fresh = [pool[i] for i in picked]
        r, rw = generate_groups(policy, task, fresh, cfg, derive_seed("gen", cfg.seed, gen_index, rounds),
                                timer, device)
        parts.append((r, rw, fresh))
        generated_groups += n_new
        informative += int((~tied_groups(rw)).sum())
        rounds += 1

    # Keep the original informative groups in place and put fresh informative groups into the tied
    # slots, in order of generation; leftover slots keep their tied group.
    first_tied = tied_groups(parts[0][1])
    fresh_informative = [(k, int(i)) for k, (_, rw, _) in enumerate(parts[1:], start=1)
                         for i in torch.nonzero(~tied_groups(rw)).flatten()]
    slots: list[tuple[int, int]] = []
    it = iter(fresh_informative)
    for i in range(target):
        if bool(first_tied[i]):
            slots.append(next(it, (0, i)))
        else:
            slots.append((0, i))
    batch = _assemble(parts, slots, g)
    n_tied_used = int(tied_groups(batch.rewards).sum())
    batch.stats = {"rollouts": float(generated_groups * g), "groups": float(generated_groups),
                   "discarded_groups": float(generated_groups - (target - n_tied_used)), "rounds": float(rounds)}
    batch.drawn = drawn
    return batch


def _assemble(parts: list, slots: list[tuple[int, int]], g: int) -> Batch:
    """A batch made of group ``i`` of part ``k`` for each ``(k, i)`` in ``slots``."""
    from grpo_theory.llm.policy import Rollouts

    pieces, rewards, problems = [], [], []
    for k, i in slots:
        r, rw, probs = parts[k]
        pieces.append(r.select(torch.arange(i * g, (i + 1) * g)))
        rewards.append(rw[i])
        problems.append(probs[i])
    return Batch(Rollouts.cat(pieces), torch.stack(rewards), problems)


def token_logprobs(policy, rollouts, cfg: TrainConfig, device: torch.device, model=None) -> Tensor:
    """Per-token log-probs ``[B, T]`` of the completions under ``softmax(logits / cfg.temperature)``, the
    distribution the rollouts were sampled from; no grad (old / reference policy), ``micro_batch`` rows
    per forward pass."""
    with torch.no_grad(), autocast(cfg, device):
        return policy.token_logprobs(rollouts, model=model, micro_batch=micro_batch_rows(cfg),
                                     temperature=cfg.temperature).float()


# --------------------------------------------------------------------------------------------------
# the run


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

    def train_seconds(self, cpu: bool = False) -> float:
        d = self.cpu_seconds if cpu else self.seconds
        return sum(d.get(k, 0.0) for k in TRAIN_PHASES)


#: Phases that count as training wall-clock (``time/train``): what a method costs to run.
TRAIN_PHASES = ("gen", "reward", "logprob", "ref", "update")
#: Every timed phase: the training ones and evaluation.
ALL_PHASES = (*TRAIN_PHASES, "eval")


def _lr_at(cfg: TrainConfig, step: int) -> float:
    """Constant learning rate after a linear warm-up over ``warmup_steps`` (the paper's schedule)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    return cfg.lr


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


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 over the parameter and buffer bytes, in state-dict order (identifies the start policy)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().to("cpu").contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _evaluate(policy, task, problems, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    from grpo_theory.llm.evaluate import evaluate

    with autocast(cfg, device):
        res = evaluate(policy, task, problems, k=cfg.eval_k, temperature=cfg.eval_temperature,
                       top_p=cfg.eval_top_p, seed=derive_seed("eval", cfg.seed))
    out: dict[str, Any] = {f"eval/{k}": float(v) for k, v in res.items() if isinstance(v, int | float)}
    # Per-problem outcomes (lists) under their own prefix: bootstrap CIs over problems resample them.
    out.update({f"problems/{k.removeprefix('per_problem_')}": v for k, v in res.items() if isinstance(v, list)})
    return out


def _update(policy, optimizer, loss_fn, conventions: dict[str, Any], mb: Batch, cfg: TrainConfig,
            device: torch.device, lr: float) -> dict[str, float]:
    """One optimizer step on one mini-batch; returns the loss's metrics plus grad norm and lr."""
    p, g = mb.rewards.shape
    policy.model.train()
    with autocast(cfg, device):
        # [P*G, T], with grad; of softmax(logits / temperature), the distribution that sampled
        logp = policy.token_logprobs(mb.rollouts, micro_batch=None, temperature=cfg.temperature).float()
    t = logp.shape[1]
    mask = mb.rollouts.completion_mask.to(device).bool()
    # The first mini-batch of a generation batch is on-policy (the sampling policy *is* the current
    # policy): old_logp = logp.detach() gives ratio 1 exactly. Later ones use the sampling policy's
    # log-probs, recorded while generating.
    old = mb.old_logp if mb.old_logp is not None else logp.detach()
    ref = None if mb.ref_logp is None else mb.ref_logp.view(p, g, t)
    out = loss_fn(logp.view(p, g, t), old.view(p, g, t), mb.rewards.to(device), mask.view(p, g, t),
                  ref_logp=ref, **conventions)
    if not torch.isfinite(out.loss):
        raise FloatingPointError(f"non-finite loss {float(out.loss)} (metrics: {out.metrics})")
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    params = [q for q in policy.model.parameters() if q.requires_grad]
    max_norm = cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf")
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    optimizer.step()
    policy.model.eval()
    metrics = {f"loss/{k}": float(v) for k, v in out.metrics.items()}
    metrics["loss/grad_norm"] = grad_norm
    metrics["loss/lr"] = lr
    return metrics


class ResumeError(ValueError):
    """A resume that cannot continue: nothing to resume from, or the saved run has another config."""


def _saved_hash(out_dir: Path) -> str | None:
    """The config hash of the run saved in ``out_dir`` (its config.json), or None."""
    path = out_dir / "config.json"
    try:
        return json.loads(path.read_text()).get("config_hash")
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

    from grpo_theory.llm.policy import load_policy
    from grpo_theory.llm.tasks import make_task, train_problems

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {cfg.device!r} requested but torch.cuda.is_available() is False")
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chash = config_hash(cfg)
    ckpt_path = out_dir / CHECKPOINT_NAME
    if resume:
        if (done := result_is_complete(out_dir, cfg)) is not None:
            return done
        saved = _saved_hash(out_dir)
        if require_checkpoint and saved is not None and saved != chash:
            raise ResumeError(f"{out_dir} holds a run of another config (saved hash {saved}, requested {chash}); "
                              "give the same options as that run, or another --out-dir")
        if require_checkpoint and not ckpt_path.exists():
            raise ResumeError(f"nothing to resume in {out_dir}: no {CHECKPOINT_NAME} (start the run without --resume)")

    # --- the pieces: task, data, policy, loss, optimizer --------------------------------------
    task = task if task is not None else make_task(cfg.task)
    pool = train_problems(task, cfg.train_size, cfg.data_seed)
    held_out = held_out_problems(task, cfg)
    if policy is None:
        policy = load_policy(cfg.policy, device=device, dtype=torch.float32)
    policy.model.eval()
    if cfg.loss not in LOSSES:
        raise ValueError(f"unknown loss {cfg.loss!r}; registered: {sorted(LOSSES)}")
    loss_fn = LOSSES[cfg.loss]
    conventions = loss_conventions(cfg, loss_fn)
    if cfg.loss in ("two_grpo", "online_dpo") and cfg.group_size != 2:
        raise ValueError(f"loss {cfg.loss!r} works on pairs: set group_size=2 (got {cfg.group_size})")
    start_digest = weights_digest(policy.model)
    # Reference = the start policy, frozen; copied and run only when the loss reads it (DPO, kl_coef > 0).
    ref_model = copy.deepcopy(policy.model).eval().requires_grad_(False) if needs_reference(cfg) else None
    optimizer = torch.optim.AdamW(
        [q for q in policy.model.parameters() if q.requires_grad], lr=cfg.lr,
        betas=(cfg.adam_beta1, cfg.adam_beta2), weight_decay=cfg.weight_decay,
    )
    c = Counters()
    log_path = out_dir / LOG_NAME

    # --- resume ------------------------------------------------------------------------------
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ckpt["config_hash"] != chash:
            raise ResumeError(f"{ckpt_path} belongs to a different config (hash {ckpt['config_hash']} != {chash}); "
                              "use another out_dir or start without --resume")
        if ckpt["start_digest"] != start_digest:
            raise ResumeError(f"{ckpt_path} was trained from other start weights than the policy given now; "
                              "resume with the same start policy (the reference model is rebuilt from it)")
        policy.model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        c = Counters(**ckpt["counters"])
        _set_rng_states(ckpt["rng"], device)
        records = [r for r in read_jsonl(log_path) if r["step"] <= c.step]
        atomic_write_text(log_path, "".join(json.dumps(r) + "\n" for r in records))
    else:
        atomic_write_text(log_path, "")
        (out_dir / RESULT_NAME).unlink(missing_ok=True)
    atomic_write_json(out_dir / "config.json", {"config": cfg.to_dict(), "config_hash": chash})

    timer = Timer(device)
    log_fh = open(log_path, "a")

    def write(record: dict[str, Any]) -> None:
        log_fh.write(json.dumps(record) + "\n")
        log_fh.flush()

    def save_checkpoint() -> None:
        c.last_checkpoint_step = c.step
        atomic_torch_save({
            "config_hash": chash, "config": cfg.to_dict(), "start_digest": start_digest,
            "model": policy.model.state_dict(),
            "optimizer": optimizer.state_dict(), "counters": dataclasses.asdict(c), "rng": _rng_states(device),
        }, ckpt_path)

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
            if cfg.updates_per_generation > 1:
                # Off-policy mini-batches need the sampling policy's log-probs: those recorded while
                # generating (same distribution, no forward pass); recomputed only for a policy that
                # does not record them.
                if batch.rollouts.gen_logprobs is not None:
                    batch.old_logp = batch.rollouts.gen_logprobs.to(device).float()
                else:
                    with timer("logprob"):
                        batch.old_logp = token_logprobs(policy, batch.rollouts, cfg, device)
            if ref_model is not None:
                with timer("ref"):
                    batch.ref_logp = token_logprobs(policy, batch.rollouts, cfg, device, model=ref_model)
            gen_stats = batch.stats
            c.rollouts += int(gen_stats["rollouts"])
            c.groups += int(gen_stats["groups"])
            c.discarded_groups += int(gen_stats["discarded_groups"])
            c.prompts += int(gen_stats["groups"])

            for j in range(cfg.updates_per_generation):
                mb = batch.mini_batch(j, cfg.prompts_per_step)
                if j == 0:
                    mb.old_logp = None  # on-policy: old_logp = logp.detach(), ratio exactly 1
                with timer("update"):
                    metrics = _update(policy, optimizer, loss_fn, conventions, mb, cfg, device, _lr_at(cfg, c.step))
                c.step += 1
                record: dict[str, Any] = {"step": c.step, "epoch": c.step / cfg.steps_per_epoch, **metrics}
                rewards = mb.rewards
                record["train/reward"] = float(rewards.mean())
                record["train/accuracy"] = float((rewards >= 1.0).float().mean())
                record["train/zero_signal_frac"] = float(tied_groups(rewards).float().mean())
                record["train/completion_len"] = float(mb.rollouts.completion_mask.sum(1).float().mean())
                if j == 0:
                    record.update({f"gen/{k}": v for k, v in gen_stats.items()})
                    record["gen/discard_frac"] = gen_stats["discarded_groups"] / max(gen_stats["groups"], 1.0)
                if ((cfg.eval_every and c.step % cfg.eval_every == 0) or c.step == cfg.total_steps
                        or c.step in eval_steps):
                    if held_out:
                        with timer("eval"):
                            last_eval = _evaluate(policy, task, held_out, cfg, device)
                        record.update(last_eval)
                split = timer.pop()
                c.add_seconds(split)
                for phase in ALL_PHASES:  # every phase on every line (0 when it did not run in this step)
                    record[f"time/{phase}"] = split[0].get(phase, 0.0)
                    record[f"cpu/{phase}"] = split[1].get(phase, 0.0)
                record.update({"count/rollouts": c.rollouts, "count/prompts": c.prompts,
                               "count/groups": c.groups, "count/discarded_groups": c.discarded_groups,
                               "time/train_total": c.train_seconds(), "cpu/train_total": c.train_seconds(cpu=True)})
                write(record)
                bar.update(1)
                bar.set_postfix(reward=f"{record['train/reward']:.3f}",
                                acc=f"{last_eval.get('eval/greedy_acc', float('nan')):.3f}")
            c.gen_index += 1
            boundary_done = c.gen_index == total_gens
            if cfg.checkpoint_every and not boundary_done and c.step - c.last_checkpoint_step >= cfg.checkpoint_every:
                save_checkpoint()
            if stop_after is not None and c.step >= stop_after and not boundary_done:
                if c.last_checkpoint_step != c.step:
                    save_checkpoint()
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
    result = {
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
        "start_eval": next((_eval_of(r) for r in records if r["step"] == 0), {}),
        "final_eval": last_eval,
    }
    atomic_write_json(out_dir / RESULT_NAME, result)
    ckpt_path.unlink(missing_ok=True)
    return result


def _eval_of(record: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in record.items() if k.startswith(("eval/", "problems/"))}
