"""What a run's options cannot show by themselves: are its files, device and loss settings usable here?

:func:`~grpo_theory.llm.config.config_problems` checks a :class:`~grpo_theory.llm.config.TrainConfig`
without reading anything; :func:`check_runnable` then looks at the machine: the policy's files (present,
complete), the task name, the device, what the loss accepts, and that ``out_dir`` is writable. Every
failure is a :class:`~grpo_theory.llm.config.ConfigError` naming the option, raised before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from grpo_theory.llm.config import ConfigError, TrainConfig
from grpo_theory.llm.policy_files import WEIGHTS_FILE, resolve_policy_dir, weight_files


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
        raise ConfigError([("--resume", str(path), f"is corrupt ({broken} unreadable; truncated?): delete "
                                                   "it to start the run over")])


def check_policy(spec: str) -> None:
    """The policy spec names an installed policy or a complete checkpoint directory; else ConfigError."""
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
        raise ConfigError([("policy", spec, "no such directory, and not 'tiny' or 'smollm2' (the named "
                                            "policies)")])
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


def check_device(device: str) -> None:
    """A CUDA or MPS device that this machine has; else :class:`ConfigError` naming ``device``."""
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError([("device", device, "CUDA is not available here (torch.cuda.is_available() "
                                                  "is False); use --device cpu")])
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError([("device", device, f"this machine has {torch.cuda.device_count()} CUDA "
                                                  "devices")])
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError([("device", device, "MPS is not available here; use --device cpu")])


def check_runnable(cfg: TrainConfig) -> None:
    """What :func:`~grpo_theory.llm.config.config_problems` cannot see without the machine (see the
    module docstring). Raises :class:`ConfigError`; touches nothing but a probe file in ``out_dir``
    (created if missing)."""
    from grpo_theory.llm.tasks import make_task

    try:
        make_task(cfg.task)
    except (ValueError, TypeError) as e:
        raise ConfigError([("task", cfg.task, str(e).replace(f"unknown task {cfg.task!r}; ", ""))]) from None
    if cfg.loss in ("two_grpo", "online_dpo") and cfg.group_size != 2:
        raise ConfigError([("group_size", cfg.group_size, f"must be 2 for --loss {cfg.loss} (it works on "
                                                          "pairs)")])
    check_device(cfg.device)
    _probe_loss(cfg)
    check_policy(cfg.policy)
    from grpo_theory.artifacts import check_writable

    try:
        check_writable(cfg.out_dir)
    except PermissionError as e:
        raise ConfigError([("out_dir", cfg.out_dir, str(e).removeprefix(f"{Path(cfg.out_dir)} "))]) from None
