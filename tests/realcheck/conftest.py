"""A randomly initialised micro Llama policy (char tokenizer, nothing downloaded) for fast tests."""

from __future__ import annotations

import pytest
import torch


def micro_policy(seed: int = 0, dtype: torch.dtype = torch.float64):
    from grpo_theory.llm.model import build_model
    from grpo_theory.llm.policy import Policy
    from grpo_theory.llm.tokenizer import char_tokenizer

    tok = char_tokenizer()
    model = build_model(len(tok), "tiny", seed=seed, hidden_size=32, intermediate_size=64,
                        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2).to(dtype)
    return Policy(model=model, tokenizer=tok, device="cpu")


@pytest.fixture
def policy():
    # One thread: these models are far too small to gain from two, and one thread does not spin
    # against other processes on a busy machine. The previous setting is restored afterwards.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield micro_policy()
    torch.set_num_threads(before)
