"""Pretraining (SFT) of the tiny start checkpoint that every RL method starts from.

The model learns the task's canonical solutions by teacher forcing, with the loss on the answer tokens (and
<eos>) only::

    loss = - sum_{b,t} m_bt log π(a_bt | prompt_b, a_b,<t) / sum_{b,t} m_bt

on fresh problems each step (never from the evaluation pool). Every ``eval_every`` steps the greedy accuracy
on
a held-out validation set is measured, and training stops the first time it enters ``[window_lo, window_hi]``:
the start checkpoint is then good enough that RL has signal but far from solved. The accuracy curve has a
long plateau and then a sharp rise, so a rise that jumps over the whole window between two evaluations is
handled by going back to the last evaluation (weights, optimizer and data stream restored) and evaluating
5x more often from there.

The checkpoint is a ``save_pretrained`` directory (config, weights, tokenizer) plus ``meta.json`` with the
config, the accuracy history and ``weights_sha256`` (sha256 of ``model.safetensors``), which
``ensure_start_checkpoint`` verifies before reusing it.
"""

from __future__ import annotations

import copy
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from grpo_theory.artifacts import UsageError, repo_root, sha256_file
from grpo_theory.configfields import option
from grpo_theory.llm.evaluate import greedy_correct
from grpo_theory.llm.model import build_model, n_params
from grpo_theory.llm.policy import Policy
from grpo_theory.llm.tasks import EVAL_POOL, Problem, Task, eval_problems, make_task, problem_stream
from grpo_theory.llm.tokenizer import char_tokenizer


def checkpoints_dir() -> Path:
    """``<repository>/results/checkpoints``, where start checkpoints live (see
    :func:`grpo_theory.artifacts.repo_root`)."""
    return repo_root() / "results" / "checkpoints"


def __getattr__(name: str):  # ROOT and CHECKPOINTS, looked up when used (not at import: pip install .)
    if name == "ROOT":
        return repo_root()
    if name == "CHECKPOINTS":
        return checkpoints_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


WEIGHTS_FILE = "model.safetensors"
META_FILE = "meta.json"


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines the start checkpoint (with the same software, the weights are a function of
    it)."""

    task: str = option("addition", "task (see grpo_theory.llm.tasks.make_task)",
                       choices=("addition", "countdown"))
    task_kwargs: dict = option(  # noqa: RUF009 (option is dataclasses.field, with a factory)
        help="task options, e.g. {'n_digits': 2}; empty means the task's defaults", factory=dict)
    seed: int = option(0, "initialization and data seed (the stream of training problems)")
    size: str = option("tiny", "model size (grpo_theory.llm.model.SIZES): tiny ~1M, small ~6M, gpu ~14M "
                       "params", choices=("tiny", "small", "gpu"))
    lr: float = option(1e-3, "AdamW learning rate (constant, betas 0.9/0.98, no weight decay)")
    batch_size: int = option(256, "problems per optimizer step")
    grad_clip: float = option(1.0, "global gradient-norm clip")
    window_lo: float = option(0.30, "stop at the first evaluation with held-out greedy accuracy >= this ...")
    window_hi: float = option(0.60, "... and <= this; a jump past it rewinds to the last evaluation and "
                              "evaluates 5x more often")
    max_steps: int = option(4000, "fail if the window is not reached after this many steps")
    eval_every: int = option(25, "steps between held-out evaluations")
    eval_n: int = option(500, "validation problems: the last eval_n of the evaluation pool, disjoint from "
                         "the first EVAL_POOL - eval_n problems that RL evaluation uses, so stopping does "
                         "not peek at the test set")
    device: str = option("cpu", "torch device ('cpu', 'cuda', 'cuda:N', 'mps')")
    threads: int = option(1, "torch.set_num_threads on CPU. One thread is the fastest for a 1M-parameter "
                          "model on a shared 2-core machine (a second intra-op thread mostly waits), and "
                          "the committed checkpoint was made with it")
    out_dir: str | None = option(None, "checkpoint directory (default: "
                                 "results/checkpoints/<task>-<size>-seed<seed>)")

    def __post_init__(self) -> None:
        if not 0.0 <= self.window_lo <= self.window_hi <= 1.0:
            raise ValueError(f"need 0 <= window_lo <= window_hi <= 1, got {self.window_lo}, {self.window_hi}")
        if self.lr <= 0 or self.batch_size < 1 or self.max_steps < 1 or self.eval_every < 1:
            raise ValueError("lr, batch_size, max_steps and eval_every must be positive")
        if not 1 <= self.eval_n <= EVAL_POOL // 2:
            raise ValueError(f"eval_n must be in 1..{EVAL_POOL // 2}, got {self.eval_n}")

    @property
    def path(self) -> Path:
        if self.out_dir is not None:
            return Path(self.out_dir)
        return checkpoints_dir() / f"{self.task}-{self.size}-seed{self.seed}"

    def identity(self) -> dict:
        """The fields that determine the weights (everything except where they are written and
        device/threads)."""
        d = asdict(self)
        for k in ("out_dir", "device", "threads"):
            d.pop(k)
        return d


def validation_problems(task: Task, n: int) -> list[Problem]:
    """The pretraining validation set: the last ``n`` problems of the evaluation pool."""
    return eval_problems(task, EVAL_POOL, seed=0)[EVAL_POOL - n :]


def sft_loss(policy: Policy, task: Task, problems: list[Problem]) -> torch.Tensor:
    """Token-mean negative log-likelihood of the SFT completions (answer + <eos>) given the prompts."""
    batch = policy.encode([p.prompt for p in problems], [task.sft_completion(p) for p in problems])
    lp = policy.token_logprobs(batch)
    mask = batch.completion_mask.to(lp.dtype)
    return -(lp * mask).sum() / mask.sum()


def pretrain(cfg: PretrainConfig, *, progress: bool = True) -> Path:
    """Train from scratch until the held-out greedy accuracy first enters the window; save; return the
    path."""
    before = torch.get_num_threads()
    if cfg.device == "cpu":
        torch.set_num_threads(cfg.threads)
    try:
        return _pretrain(cfg, progress)
    finally:
        torch.set_num_threads(before)


def _pretrain(cfg: PretrainConfig, progress: bool) -> Path:
    task = make_task(cfg.task, **cfg.task_kwargs)
    tok = char_tokenizer()
    policy = Policy(build_model(len(tok), cfg.size, seed=cfg.seed), tok, device=cfg.device)
    val = validation_problems(task, cfg.eval_n)
    t0 = time.perf_counter()
    step, acc, history = _train_into_window(cfg, policy, task, val, progress, t0)
    meta = {
        "config": cfg.identity(),
        "task": {"name": task.name, **asdict(task)},  # type: ignore[call-overload]
        "model": {"size": cfg.size, "n_params": n_params(policy.model), "class": type(policy.model).__name__},
        "steps": step,
        "val_acc": acc,
        "val_n": len(val),
        "wall_s": round(time.perf_counter() - t0, 2),
        "device": cfg.device,
        "threads": cfg.threads,
        "history": history,
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                     "python": platform.python_version()},
    }

    def with_meta(tmp: Path) -> dict[str, str]:
        meta["weights_sha256"] = sha256_file(tmp / WEIGHTS_FILE)
        return {META_FILE: json.dumps(meta, indent=1) + "\n"}

    return policy.save(cfg.path, extra_files=with_meta)


def _train_into_window(cfg: PretrainConfig, policy: Policy, task: Task, val: list[Problem], progress: bool,
                       t0: float) -> tuple[int, float, list[dict]]:
    """SFT steps until the validation accuracy first lies in the window: ``(steps, accuracy, history)``.

    An evaluation above the window rewinds to the last one below it (weights, optimizer and data stream)
    and evaluates 5x more often from there; ``RuntimeError`` if ``max_steps`` pass first.
    """
    model = policy.model
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=0.0)
    stream = problem_stream(task, cfg.seed, cfg.batch_size)

    def snapshot() -> dict:
        # the data stream is a generator whose state lives in its random.Random; deepcopy captures both
        return {"model": copy.deepcopy(model.state_dict()), "opt": copy.deepcopy(opt.state_dict()),
                "stream": copy.deepcopy(stream)}

    eval_every, history = cfg.eval_every, []
    step, last_eval_step, snap, acc = 0, 0, snapshot(), 0.0
    with tqdm(total=cfg.max_steps, desc=f"pretrain {cfg.task}", disable=not progress) as bar:
        while True:
            if step >= cfg.max_steps:
                raise RuntimeError(f"held-out accuracy {acc:.3f} did not reach [{cfg.window_lo}, "
                                   f"{cfg.window_hi}] in {cfg.max_steps} steps; raise max_steps or lr")
            model.train()
            loss = sft_loss(policy, task, next(stream))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            model.eval()
            step += 1
            bar.update(1)
            if step % eval_every:
                continue
            acc = sum(greedy_correct(policy, task, val)) / len(val)
            history.append({"step": step, "loss": round(loss.item(), 5), "val_acc": acc,
                            "wall_s": round(time.perf_counter() - t0, 2)})
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{acc:.3f}")
            if cfg.window_lo <= acc <= cfg.window_hi:
                return step, acc, history
            if acc <= cfg.window_hi:
                last_eval_step, snap = step, snapshot()
                continue
            if eval_every == 1:
                raise RuntimeError(f"accuracy jumped past the window in one step at step {step}; lower lr")
            # Overshoot: go back to the last evaluation below the window and evaluate more often.
            model.load_state_dict(snap["model"])
            opt.load_state_dict(snap["opt"])
            stream = copy.deepcopy(snap["stream"])
            bar.update(last_eval_step - step)
            step, eval_every = last_eval_step, max(1, eval_every // 5)
            history[-1]["rolled_back_to"] = step


class CheckpointError(UsageError, ValueError):
    """A start-checkpoint directory that is incomplete, altered, or made by another config (one line)."""


def verify_checkpoint(path: str | Path) -> dict:
    """Load ``meta.json`` and check the weights' sha256; :class:`CheckpointError` (a ``ValueError``) if
    missing or different."""
    path = Path(path)
    meta_path, weights = path / META_FILE, path / WEIGHTS_FILE
    if not meta_path.exists() or not weights.exists():
        raise CheckpointError(f"{path} is not a complete start checkpoint (needs {META_FILE} and "
                              f"{WEIGHTS_FILE}); choose another --out-dir or delete it")
    meta = json.loads(meta_path.read_text())
    digest = sha256_file(weights)
    if digest != meta.get("weights_sha256"):
        raise CheckpointError(f"{weights} has sha256 {digest}, but {META_FILE} records "
                              f"{meta.get('weights_sha256')}")
    return meta


def ensure_start_checkpoint(cfg: PretrainConfig | None = None, *, progress: bool = True) -> Path:
    """The start checkpoint for ``cfg``: reused when present (hash-verified, same config), else pretrained."""
    cfg = cfg or PretrainConfig()
    path = cfg.path
    if not path.exists():
        return pretrain(cfg, progress=progress)
    meta = verify_checkpoint(path)
    if meta.get("config") != json.loads(json.dumps(cfg.identity())):
        found, wanted = meta.get("config") or {}, json.loads(json.dumps(cfg.identity()))
        diff = ", ".join(f"{k}: {found.get(k)!r} there, {wanted.get(k)!r} here"
                         for k in sorted(set(found) | set(wanted)) if found.get(k) != wanted.get(k))
        raise CheckpointError(f"{path} was pretrained with another config ({diff}); choose another "
                              "--out-dir or delete it")
    return path

