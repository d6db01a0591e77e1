"""Model configs for the tiny Llama-architecture policy, built from a config only (nothing downloaded)."""

from __future__ import annotations

from typing import Any

from transformers import LlamaConfig, LlamaForCausalLM

# size -> (hidden, intermediate, layers, heads); parameter counts are for the 21-token char vocabulary.
SIZES: dict[str, tuple[int, int, int, int]] = {
    "tiny": (128, 512, 4, 4),  # ~1.05M params: CI and the CPU experiments
    "small": (256, 1024, 6, 8),  # ~6.3M params: a bigger CPU option
    "gpu": (384, 1536, 6, 6),  # ~14.2M params: the gpu preset
}


def tiny_llama_config(vocab_size: int, size: str = "tiny", **overrides) -> LlamaConfig:
    """A small ``LlamaConfig`` with tied input/output embeddings.

    vocab_size: tokenizer length (``len(tokenizer)``).
    size: ``"tiny"`` (hidden 128, intermediate 512, 4 layers, 4 heads), ``"small"`` (256/1024/6/8) or
        ``"gpu"`` (384/1536/6/6).
    overrides: any ``LlamaConfig`` field, e.g. ``max_position_embeddings=128``.

    The pad/eos ids follow the char tokenizer (0 and 1); pass overrides for another tokenizer.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose from {sorted(SIZES)}")
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
    hidden, inter, layers, heads = SIZES[size]
    kwargs: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=128,  # prompts + completions of the tasks are < 40 tokens
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
        attention_dropout=0.0,
        rms_norm_eps=1e-5,
    )
    kwargs.update(overrides)
    return LlamaConfig(**kwargs)


def build_model(vocab_size: int, size: str = "tiny", seed: int = 0, **overrides) -> LlamaForCausalLM:
    """A freshly initialized ``LlamaForCausalLM`` (float32) from ``tiny_llama_config``; init depends on
    ``seed`` only."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(tiny_llama_config(vocab_size, size, **overrides))
    return model


def n_params(model) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
