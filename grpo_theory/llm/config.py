"""The RL run configuration: one frozen dataclass, one documented field each.

Every field is a :func:`grpo_theory.configfields.option`: its help text is in ``metadata["help"]`` and
``grpo-theory train --help`` is generated from it (:func:`add_config_arguments`), so the documentation
and the command line cannot drift apart. A config is immutable: a run's identity (and its resume
checkpoint) is the config it started with, and :func:`config_hash` names it. What a config cannot show
by itself (files, device, the loss's own checks) is :func:`grpo_theory.llm.runnable.check_runnable`.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from grpo_theory.artifacts import UsageError
from grpo_theory.configfields import add_fields, field_type, given, option
from grpo_theory.llm.policy_files import policy_identity  # re-exported: part of the config hash


class ConfigError(UsageError, ValueError):
    """Invalid run options. ``problems``: ``(name, value, what is allowed)``, the first is the one reported.

    ``name`` is a TrainConfig field (``group_size``) or a command-line option (``--config``);
    :meth:`cli_message` is the one line a command prints.
    """

    def __init__(self, problems: list[tuple[str, Any, str]]):
        self.problems = list(problems)
        shown = "; ".join(f"{n}={_show(v)}: {a}" for n, v, a in self.problems)
        super().__init__("invalid TrainConfig: " + shown)

    def cli_message(self) -> str:
        name, value, allowed = self.problems[0]
        option = name if name.startswith("-") else "--" + name.replace("_", "-")
        return f"{option} {_show(value)}: {allowed}"


def _show(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


@dataclass(frozen=True)
class TrainConfig:
    """One RL run: which loss, how rollouts are drawn, how the optimizer steps, what is logged."""

    # --- what is trained -------------------------------------------------------------------
    policy: str = option("tiny", "start policy: 'tiny' (the shared pretrained start checkpoint), "
                         "'smollm2', or a local Hugging Face checkpoint directory")
    task: str = option("addition", "task name for grpo_theory.llm.tasks.make_task ('addition', 'countdown')")
    name: str = option("", "display label of the run (e.g. '16-GRPO'); free text, used in logs and tables")

    # --- the loss --------------------------------------------------------------------------
    loss: str = option("grpo", "loss name in grpo_theory.losses.LOSSES ('grpo', 'two_grpo', 'dr_grpo', "
                       "'rloo', 'online_dpo'); the trainer never branches on it except to supply a "
                       "reference model")
    clip_low: float = option(0.2, "PPO clip epsilon below 1 (ratio floor 1 - clip_low)")
    clip_high: float = option(0.28, "PPO clip epsilon above 1 (ratio cap 1 + clip_high; DAPO clip-higher, "
                              "as in the paper)")
    kl_coef: float = option(0.0, "coefficient of the KL penalty to the start policy (0 = off, the paper's "
                            "setting; > 0 loads a frozen reference model)")
    std_ddof: int = option(1, "group std: 1 = Bessel (verl, which the paper ran), 0 = population (the "
                           "paper's proofs)")
    eps: float = option(1e-6, "constant added to the group std (verl's 1e-6)")
    agg: str = option("token-mean", "loss aggregation over tokens, forwarded to the loss (e.g. "
                      "'token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum')")
    dpo_beta: float = option(0.1, "DPO inverse temperature beta (online_dpo only)")

    # --- rollouts --------------------------------------------------------------------------
    group_size: int = option(16, "G: rollouts sampled per prompt")
    prompts_per_step: int = option(32, "prompts per optimizer mini-batch (16-GRPO: 32, 2-GRPO: 256)")
    rollout_prompts: int = option(0, "prompts per generation batch; a multiple of prompts_per_step. The "
                                  "batch is split into consecutive mini-batches, so later ones are "
                                  "off-policy (the paper's v3 ablation generates 512 prompts per step). "
                                  "0 = prompts_per_step (on-policy)")
    temperature: float = option(1.0, "sampling temperature of training rollouts (the paper: 1)")
    top_p: float = option(1.0, "nucleus sampling of training rollouts (the paper: 1); must be 1: the "
                          "importance ratio uses softmax(logits / temperature), which top-p truncation "
                          "would change")
    max_new_tokens: int = option(0, "completion length cap; 0 = the task's own max_new_tokens")
    resample: bool = option(False, "2-GRPO+RS: replace zero-advantage groups by groups of fresh prompts "
                            "until the generation batch is full of informative groups or the budget is spent")
    resample_budget: float = option(8.0, "RS budget per generation batch, in multiples of its base rollouts "
                                    "(8 = 16/2 keeps 2-GRPO+RS within 16-GRPO's rollouts at equal epochs)")
    resample_rounds: int = option(8, "at most this many resampling rounds per generation batch")

    reward_mode: str = option("task", "'task' (the task's exact-match reward) or 'random' (a control: each "
                              "rollout's reward is a coin flip with P(1) = random_reward_rate, independent "
                              "of correctness)")
    random_reward_rate: float = option(0.3, "P(reward = 1) under reward_mode 'random' (set it to the start "
                                       "policy's training accuracy, the task's base rate)")

    # --- data --------------------------------------------------------------------------------
    train_size: int = option(1024, "size of the fixed training prompt set")
    data_seed: int = option(0, "seed of the training prompt set (fixed across methods and run seeds)")
    epochs: int = option(5, "passes over the training prompt set (equal for every method)")

    # --- optimizer ---------------------------------------------------------------------------
    lr: float = option(1e-4, "AdamW learning rate (2-GRPO uses 8x the 16-GRPO rate: the linear rule)")
    warmup_steps: int = option(0, "linear learning-rate warm-up over this many optimizer steps")
    weight_decay: float = option(0.0, "AdamW weight decay")
    adam_beta1: float = option(0.9, "AdamW beta1")
    adam_beta2: float = option(0.999, "AdamW beta2")
    max_grad_norm: float = option(1.0, "gradient-norm clip (0 = off); the pre-clip norm is logged")

    # --- evaluation --------------------------------------------------------------------------
    eval_every: int = option(0, "evaluate every this many optimizer steps (0 = only at the end)")
    eval_steps: str = option("", "also evaluate after these optimizer steps: comma-separated integers, e.g. "
                             "'29,58' (presets place dense evaluation points at fixed fractions of each "
                             "run's steps)")
    eval_at_start: bool = option(True, "also evaluate the start policy before the first step")
    eval_size: int = option(1000, "held-out evaluation problems (drawn from eval_seed, disjoint from "
                            "training)")
    eval_seed: int = option(0, "seed of the held-out evaluation set (seed 0 is the pool every training set "
                            "excludes; other seeds serve as validation splits)")
    eval_split: str = option("test", "'test' (held-out report) or 'validation' (the last eval_size problems "
                             "of the evaluation pool, disjoint from a test split of <= 1000; for tuning)")
    eval_k: int = option(8, "k of Mean@k / Pass@k")
    eval_temperature: float = option(0.7, "sampling temperature for Mean@k / Pass@k (the paper: 0.7)")
    eval_top_p: float = option(0.8, "nucleus top-p for Mean@k / Pass@k (the paper: 0.8)")

    # --- run ---------------------------------------------------------------------------------
    seed: int = option(0, "run seed: data order, rollout sampling, evaluation sampling")
    device: str = option("cpu", "torch device ('cpu', 'cuda', 'cuda:1', ...)")
    dtype: str = option("float32", "'float32', or 'bfloat16' for autocast in generation and loss (weights "
                        "stay fp32)")
    threads: int = option(2, "torch CPU threads (0 = leave torch's default). Part of the config hash on "
                          "CPU: the CPU kernels' reductions depend on the thread count, so the numbers do")
    micro_batch: int = option(0, "rows per generate call and per no-grad log-prob pass (0 = 256, fastest "
                              "per row for the tiny model on CPU: wider batches are slower per row); "
                              "changes the samples")
    checkpoint_every: int = option(1, "save a resumable checkpoint at the first generation-batch boundary "
                                   "at least this many optimizer steps after the last one (1 = every "
                                   "generation batch; 0 = none, the run cannot be resumed)")
    save_final: bool = option(True, "save the trained policy to out_dir/final/ (a Hugging Face checkpoint "
                              "directory)")
    out_dir: str = option("runs/train", "output directory: log.jsonl, checkpoint.pt, result.json, final/")

    def __post_init__(self) -> None:
        problems = config_problems(self)
        if problems:
            raise ConfigError(problems)

    # --- derived (cleanrl's "filled in at runtime") ------------------------------------------
    @property
    def gen_prompts(self) -> int:
        """Prompts per generation batch."""
        return self.rollout_prompts or self.prompts_per_step

    @property
    def eval_step_set(self) -> frozenset[int]:
        """The optimizer steps listed in ``eval_steps`` (raises ValueError on a non-integer entry)."""
        return frozenset(int(x) for x in self.eval_steps.split(",") if x.strip())

    @property
    def updates_per_generation(self) -> int:
        """Optimizer mini-batches cut from one generation batch."""
        return self.gen_prompts // self.prompts_per_step

    @property
    def steps_per_epoch(self) -> int:
        return self.train_size // self.prompts_per_step

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def base_rollouts(self) -> int:
        """Rollouts of a run at its nominal budget: train_size x epochs x G (no resampling)."""
        return self.train_size * self.epochs * self.group_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError([("--config", sorted(unknown), "unknown TrainConfig fields")])
        return cls(**d)


#: The devices a run may name (availability is checked by :func:`~grpo_theory.llm.runnable.check_runnable`).
DEVICE_PATTERN = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")
_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}

Problems = list[tuple[str, Any, str]]


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def config_problems(cfg: TrainConfig) -> Problems:
    """Every invalid field of ``cfg`` as ``(field, value, what is allowed)``; pure (reads no file).

    Types first (the value checks compare values), then batch shapes, optimizer and sampling numbers,
    evaluation, the loss conventions (the ranges the loss library accepts), and names.
    """
    bad = _type_problems(cfg)
    if bad:
        return bad

    def need(cond: bool, name: str, allowed: str) -> None:
        if not cond:
            bad.append((name, getattr(cfg, name), allowed))

    for part in (_shape_problems, _number_problems, _eval_problems, _loss_problems, _name_problems):
        part(cfg, need)
    return bad


def _type_problems(cfg: TrainConfig) -> Problems:
    bad: Problems = []
    for f in dataclasses.fields(cfg):
        v, t = getattr(cfg, f.name), field_type(TrainConfig, f.name)
        ok = (isinstance(v, bool) if t is bool else
              isinstance(v, int) and not isinstance(v, bool) if t is int else
              isinstance(v, int | float) and not isinstance(v, bool) if t is float else isinstance(v, t))
        if not ok:
            bad.append((f.name, v, f"must be {_TYPE_WORDS.get(t, t.__name__)}, got {type(v).__name__}"))
    return bad


def _shape_problems(cfg: TrainConfig, need) -> None:
    need(cfg.group_size >= 2, "group_size", "must be >= 2 (a group needs a baseline)")
    need(cfg.prompts_per_step >= 1, "prompts_per_step", "must be >= 1")
    if cfg.prompts_per_step >= 1:
        need(cfg.rollout_prompts >= 0 and cfg.rollout_prompts % cfg.prompts_per_step == 0, "rollout_prompts",
             f"must be 0 or a multiple of prompts_per_step={cfg.prompts_per_step}")
        if cfg.rollout_prompts >= 0:
            need(cfg.train_size >= 1 and cfg.train_size % cfg.gen_prompts == 0, "train_size",
                 f"must be a positive multiple of the generation batch ({cfg.gen_prompts} prompts) so that "
                 "every epoch has the same steps")
    need(cfg.epochs >= 1, "epochs", "must be >= 1")
    for name in ("eval_every", "eval_size", "checkpoint_every", "micro_batch", "max_new_tokens",
                 "warmup_steps", "threads", "resample_rounds"):
        need(getattr(cfg, name) >= 0, name, "must be >= 0")


def _number_problems(cfg: TrainConfig, need) -> None:
    need(_finite(cfg.lr) and cfg.lr > 0, "lr", "must be a finite number > 0")
    need(_finite(cfg.weight_decay) and cfg.weight_decay >= 0, "weight_decay", "must be a finite number >= 0")
    for name in ("adam_beta1", "adam_beta2"):
        need(0 <= getattr(cfg, name) < 1, name, "must be in [0, 1)")
    need(_finite(cfg.max_grad_norm) and cfg.max_grad_norm >= 0, "max_grad_norm",
         "must be a finite number >= 0 (0 = no clipping)")
    need(not cfg.resample or (_finite(cfg.resample_budget) and cfg.resample_budget >= 1), "resample_budget",
         "must be a finite number >= 1")
    need(_finite(cfg.temperature) and cfg.temperature > 0, "temperature", "must be a finite number > 0")
    need(cfg.top_p == 1.0, "top_p", "must be 1 for training rollouts (the loss's log-probs are of "
         "softmax(logits / temperature); eval_top_p may be < 1)")
    need(cfg.dtype in ("float32", "bfloat16"), "dtype", "must be 'float32' or 'bfloat16'")
    need(0.0 <= cfg.random_reward_rate <= 1.0, "random_reward_rate", "must be in [0, 1]")


def _eval_problems(cfg: TrainConfig, need) -> None:
    from grpo_theory.llm.tasks import EVAL_POOL

    need(cfg.eval_split in ("test", "validation"), "eval_split", "must be 'test' or 'validation'")
    need(_finite(cfg.eval_temperature) and cfg.eval_temperature > 0, "eval_temperature",
         "must be a finite number > 0 (greedy accuracy is evaluated separately)")
    need(0 < cfg.eval_top_p <= 1, "eval_top_p", "must be in (0, 1]")
    need(cfg.eval_k >= 1, "eval_k", "must be >= 1")
    if cfg.eval_split == "validation" or cfg.eval_seed == 0:
        need(cfg.eval_size <= EVAL_POOL, "eval_size",
             f"must be <= {EVAL_POOL}: the {cfg.eval_split} split lies in the {EVAL_POOL}-problem evaluation "
             "pool that training sets exclude (no silent cap)")
    bad_steps: list[object]
    try:
        bad_steps = [x for x in cfg.eval_step_set if x < 1]
    except ValueError:
        bad_steps = [cfg.eval_steps]
    need(not bad_steps, "eval_steps", "must be comma-separated integers >= 1")


def _loss_problems(cfg: TrainConfig, need) -> None:
    """The loss conventions, with the ranges the loss library accepts (check_runnable also calls the loss)."""
    from grpo_theory.losses import LOSSES
    from grpo_theory.vocab import AGG_ALIASES, ALL_AGG_MODES

    need(_finite(cfg.clip_low) and 0 <= cfg.clip_low < 1, "clip_low", "must be in [0, 1)")
    need(_finite(cfg.clip_high) and cfg.clip_high >= 0, "clip_high", "must be a finite number >= 0")
    need(_finite(cfg.kl_coef) and cfg.kl_coef >= 0, "kl_coef", "must be a finite number >= 0 (0 = no KL "
         "penalty)")
    need(cfg.std_ddof in (0, 1), "std_ddof", "must be 0 (population) or 1 (Bessel)")
    need(_finite(cfg.eps) and cfg.eps >= 0, "eps", "must be a finite number >= 0")
    need(_finite(cfg.dpo_beta) and cfg.dpo_beta > 0, "dpo_beta", "must be a finite number > 0")
    need(cfg.agg in ALL_AGG_MODES or cfg.agg in AGG_ALIASES, "agg",
         f"must be one of {', '.join(ALL_AGG_MODES)} or a TRL alias ({', '.join(AGG_ALIASES)})")
    need(cfg.loss in LOSSES, "loss", f"must be one of {', '.join(sorted(LOSSES))}")


def _name_problems(cfg: TrainConfig, need) -> None:
    need(bool(cfg.policy.strip()), "policy", "must name a policy ('tiny', 'smollm2' or a checkpoint "
         "directory)")
    need(bool(cfg.out_dir.strip()), "out_dir", "must be a directory path")
    need(bool(DEVICE_PATTERN.match(cfg.device)), "device", "must be 'cpu', 'cuda', 'cuda:N' or 'mps'")
    need(cfg.reward_mode in ("task", "random"), "reward_mode", "must be 'task' or 'random'")


# ---------------------------------------------------------------------------------------------- identity

#: Fields that do not change what a run computes: they may differ between a run and its resume.
#: ``policy`` is not hashed as written but by the sha256 of its weights (:func:`policy_identity`);
#: ``device`` by its type only; ``threads`` only on CPU (see :func:`hash_fields`).
NON_SEMANTIC_FIELDS = frozenset({"name", "out_dir", "checkpoint_every", "save_final"})

#: The fields every hash holds. A field added after these is left out of the hash while it holds its
#: default (which must reproduce the behaviour from before the field existed), so adding an option keeps
#: every existing hash, and committed results stay valid. Never change a field's default: add a field.
HASHED_ALWAYS = frozenset({
    "adam_beta1", "adam_beta2", "agg", "clip_high", "clip_low", "data_seed", "device", "dpo_beta", "dtype",
    "epochs", "eps", "eval_at_start", "eval_every", "eval_k", "eval_seed", "eval_size", "eval_split",
    "eval_temperature", "eval_top_p", "group_size", "kl_coef", "loss", "lr", "max_grad_norm",
    "max_new_tokens", "micro_batch", "policy", "prompts_per_step", "resample", "resample_budget",
    "resample_rounds", "rollout_prompts", "seed", "std_ddof", "task", "temperature", "threads", "top_p",
    "train_size", "warmup_steps", "weight_decay",
})


def hash_fields(cfg: TrainConfig, *, policy: dict[str, str] | None = None) -> dict[str, Any]:
    """The values :func:`config_hash` hashes.

    Every field except :data:`NON_SEMANTIC_FIELDS` (a field outside :data:`HASHED_ALWAYS` only when it
    differs from its default), with three rewrites:

    * ``policy`` -> :func:`policy_identity` (or ``policy`` given here, e.g. a recorded digest), so a
      clone at another path, or a copy of the checkpoint, gives the same hash;
    * ``device`` -> its type (``'cuda:1'`` computes what ``'cuda'`` does);
    * ``threads`` is kept on CPU only: the CPU kernels' reductions are split per thread, so the
      numbers depend on it (measured: 1 and 2 threads agree here, 3 differ by ~1e-6 in log-probs and
      gradients, which sampling then amplifies). ``threads=0`` (torch's default) is machine-dependent.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    d = {k: v for k, v in cfg.to_dict().items()
         if k not in NON_SEMANTIC_FIELDS and (k in HASHED_ALWAYS or v != defaults[k])}
    d.pop("policy")
    d.update(policy if policy is not None else policy_identity(cfg.policy))
    d["device"] = cfg.device.split(":", 1)[0]
    if d["device"] != "cpu":
        d.pop("threads")
    return d


def config_hash(cfg: TrainConfig, *, policy: dict[str, str] | None = None) -> str:
    """Short content hash (16 hex digits of sha256) of the fields that determine the run's numbers."""
    d = hash_fields(cfg, policy=policy)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- command line


def add_config_arguments(parser: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    """One ``--field-name`` option per TrainConfig field, with the field's help and default."""
    add_fields(parser, TrainConfig, skip=skip, title="run configuration (TrainConfig)")


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """A TrainConfig from ``base`` (default: the defaults) with every option given on the command line."""
    return (base or TrainConfig()).replace(**given(args, TrainConfig))
