"""Policy: sampling layout, masks, reproducibility, and log-probs checked against independent computations."""

from __future__ import annotations

import pytest
import torch

from grpo_theory.llm.model import build_model
from grpo_theory.llm.policy import Policy, Rollouts, completion_mask_from_ids
from grpo_theory.llm.tokenizer import char_tokenizer
from grpo_theory.llm.zoo import load_policy


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one intra-op thread; a second mostly waits (and spins on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Prompts of different lengths, so every batch has left padding.
PROMPTS = ["12+34=", "3,5,7,11 24=", "1="]


# A narrower model than "tiny" keeps the tests fast; the code paths are the same.
SMALL = dict(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2,
             num_key_value_heads=2)


@pytest.fixture(scope="module")
def policy() -> Policy:
    tok = char_tokenizer()
    return Policy(build_model(len(tok), "tiny", seed=1, **SMALL), tok)


@pytest.fixture(scope="module")
def policy64() -> Policy:
    tok = char_tokenizer()
    return Policy(build_model(len(tok), "tiny", seed=1, **SMALL).double(), tok)


def full_forward_logprobs(model, prompt_ids: list[int], completion_ids: list[int]) -> torch.Tensor:
    """Reference: one unpadded forward over prompt + completion, no mask, no position ids, no cache."""
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].double()
    lp = torch.log_softmax(logits, -1)
    P = len(prompt_ids)
    return torch.stack([lp[P - 1 + t, c] for t, c in enumerate(completion_ids)])


def test_completion_mask_hand_written():
    ids = torch.tensor([[5, 1, 0, 0], [1, 0, 0, 0], [4, 4, 4, 4], [4, 1, 4, 1]])
    expected = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    assert torch.equal(completion_mask_from_ids(ids, [1]), expected)
    assert torch.equal(completion_mask_from_ids(torch.tensor([[3, 7, 9]]), [7, 9]), torch.tensor([[1, 1, 0]]))


def test_generate_layout_is_prompt_major_with_masks(policy):
    r = policy.generate(PROMPTS, 4, max_new_tokens=8, seed=0)
    B = len(PROMPTS) * 4
    assert len(r) == B and r.completion_ids.shape[0] == B and r.completion_ids.shape[1] <= 8
    assert r.prompts == [p for p in PROMPTS for _ in range(4)]
    tok = policy.tokenizer
    for i in range(B):
        j = i // 4
        ids = r.prompt_ids[i][r.prompt_mask[i] == 1].tolist()
        assert tok.decode(ids) == PROMPTS[j]
        assert r.prompt_mask[i].tolist() == sorted(r.prompt_mask[i].tolist())  # left padded
        row, m = r.completion_ids[i].tolist(), r.completion_mask[i].tolist()
        n = sum(m)
        assert m == [1] * n + [0] * (len(m) - n)
        assert all(t == tok.pad_token_id for t in row[n:])
        if 1 in row[:n]:
            assert row.index(1) == n - 1  # the first <eos> is the last masked-in token
        assert r.texts[i] == tok.decode([t for t in row[:n] if t != 1])


def test_recorded_logprobs_match_token_logprobs_float32(policy):
    r = policy.generate(PROMPTS, 8, max_new_tokens=10, seed=1)
    with torch.no_grad():
        lp = policy.token_logprobs(r)
    assert lp.dtype == torch.float32 and lp.shape == r.completion_ids.shape
    assert torch.all(lp[r.completion_mask == 0] == 0)
    torch.testing.assert_close(lp, r.gen_logprobs, atol=1e-5, rtol=0)


def test_logprobs_match_an_unpadded_full_forward_float64(policy64):
    r = policy64.generate(PROMPTS, 3, max_new_tokens=10, seed=2)
    with torch.no_grad():
        lp = policy64.token_logprobs(r)
    for i in range(len(r)):
        p = r.prompt_ids[i][r.prompt_mask[i] == 1].tolist()
        n = int(r.completion_mask[i].sum())
        ref = full_forward_logprobs(policy64.model, p, r.completion_ids[i, :n].tolist())
        torch.testing.assert_close(lp[i, :n].double(), ref, atol=1e-6, rtol=0)  # lp is float32 by contract
        torch.testing.assert_close(r.gen_logprobs[i, :n].double(), ref, atol=1e-6, rtol=0)


def test_left_padding_does_not_change_logprobs(policy64):
    r = policy64.generate(PROMPTS, 2, max_new_tokens=6, seed=3)
    with torch.no_grad():
        batched = policy64.token_logprobs(r)
        for i in range(len(r)):
            alone = r.select([i])
            keep = alone.prompt_mask[0] == 1  # strip this row's own padding
            alone = Rollouts(alone.prompt_ids[:, keep], alone.prompt_mask[:, keep], alone.completion_ids,
                             alone.completion_mask, alone.texts, alone.prompts)
            assert alone.prompt_mask.all()
            torch.testing.assert_close(policy64.token_logprobs(alone)[0], batched[i], atol=1e-12, rtol=0)


def test_greedy_picks_the_argmax_of_the_full_forward(policy64):
    r = policy64.generate(PROMPTS, 1, max_new_tokens=6, greedy=True)
    for i in range(len(r)):
        p = r.prompt_ids[i][r.prompt_mask[i] == 1].tolist()
        n = int(r.completion_mask[i].sum())
        seq = p + r.completion_ids[i, :n].tolist()
        with torch.no_grad():
            logits = policy64.model(input_ids=torch.tensor([seq])).logits[0]
        assert logits[len(p) - 1 : len(seq) - 1].argmax(-1).tolist() == seq[len(p) :]


def test_generation_without_kv_cache_is_the_same_computation(policy64):
    cached = policy64.generate(PROMPTS, 3, max_new_tokens=8, seed=10)
    plain = policy64.generate(PROMPTS, 3, max_new_tokens=8, seed=10, use_cache=False)
    assert torch.equal(cached.completion_ids, plain.completion_ids)
    torch.testing.assert_close(cached.gen_logprobs, plain.gen_logprobs, atol=1e-6, rtol=0)


def test_special_tokens_before_eos_stay_in_the_text(policy):
    # "0<pad>5<eos>": dropping <pad> would make "05" out of a sequence that is not "05"
    ids = torch.tensor([[3, 0, 8, 1, 0], [3, 2, 8, 12, 9]])
    mask = completion_mask_from_ids(ids, [1])
    assert policy._decode(ids, mask) == ["0<pad>5", "0<unk>596"]


def test_tiny_top_p_is_greedy(policy):
    greedy = policy.generate(PROMPTS, 1, max_new_tokens=6, greedy=True)
    nucleus = policy.generate(PROMPTS, 1, max_new_tokens=6, top_p=1e-6, seed=0)
    assert torch.equal(greedy.completion_ids, nucleus.completion_ids)


def test_recorded_logprobs_are_of_the_tempered_sampling_distribution(policy):
    r = policy.generate(PROMPTS, 4, max_new_tokens=6, temperature=0.5, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(policy.token_logprobs(r, temperature=0.5), r.gen_logprobs, atol=1e-5,
                                   rtol=0)
        # not the untempered ones
        assert float((policy.token_logprobs(r) - r.gen_logprobs).abs().max()) > 1e-2


def test_seed_reproducible_and_global_rng_untouched(policy):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = policy.generate(PROMPTS, 4, max_new_tokens=8, seed=7)
    b = policy.generate(PROMPTS, 4, max_new_tokens=8, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    c = policy.generate(PROMPTS, 4, max_new_tokens=8, seed=8)
    assert torch.equal(a.completion_ids, b.completion_ids) and a.texts == b.texts
    assert not torch.equal(a.completion_ids, c.completion_ids)
    chunked = policy.generate(PROMPTS, 4, max_new_tokens=8, seed=7, batch_size=5)
    assert chunked.prompts == a.prompts and len(chunked) == len(a)


def test_token_logprobs_is_differentiable_and_micro_batching_agrees(policy):
    r = policy.generate(PROMPTS, 4, max_new_tokens=6, seed=5)
    lp = policy.token_logprobs(r)
    lp.sum().backward()
    grads = [p.grad for p in policy.model.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    policy.model.zero_grad(set_to_none=True)
    with torch.no_grad():
        torch.testing.assert_close(policy.token_logprobs(r, micro_batch=5), lp.detach(), atol=1e-5, rtol=0)
        ref = policy.frozen_copy()
        torch.testing.assert_close(policy.token_logprobs(r, model=ref), lp.detach(), atol=0, rtol=0)
    assert not any(p.requires_grad for p in ref.parameters())


def test_encode_hand_written_completions(policy):
    r = policy.encode(["12+34=", "1="], ["0046", "1"])
    assert r.completion_ids.tolist() == [[3, 3, 7, 9, 1], [4, 1, 0, 0, 0]]
    assert r.completion_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert r.prompt_ids.tolist() == [[4, 5, 13, 6, 7, 18], [0, 0, 0, 0, 4, 18]]
    with torch.no_grad():
        lp = policy.token_logprobs(r)
        seq = policy.sequence_logprobs(r)
    ref = full_forward_logprobs(policy.model, [4, 5, 13, 6, 7, 18], [3, 3, 7, 9, 1])
    torch.testing.assert_close(lp[0].double(), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(seq, lp.sum(-1))


def test_select_and_cat_keep_rows_and_logprobs(policy):
    r = policy.generate(PROMPTS, 2, max_new_tokens=6, seed=6)
    parts = [r.select([5, 4]), r.select([0]), r.select([1, 2, 3])]
    back = Rollouts.cat(parts)
    order = [5, 4, 0, 1, 2, 3]
    assert back.texts == [r.texts[i] for i in order] and back.prompts == [r.prompts[i] for i in order]
    with torch.no_grad():
        torch.testing.assert_close(policy.token_logprobs(back), policy.token_logprobs(r)[order], atol=1e-5,
                                   rtol=0)
    torch.testing.assert_close(back.gen_logprobs, r.gen_logprobs[order])
    with pytest.raises(ValueError):
        r.select([len(r)])
    with pytest.raises(ValueError):
        Rollouts.cat([])


def test_save_is_atomic_and_load_policy_round_trips(policy, tmp_path):
    path = tmp_path / "ckpt"
    policy.save(path)
    policy.save(path)  # overwriting an existing checkpoint works
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary directories left
    back = load_policy(path)
    assert back.chat is False and back.eos_ids == policy.eos_ids
    r = policy.generate(PROMPTS, 2, max_new_tokens=6, seed=9)
    r2 = back.generate(PROMPTS, 2, max_new_tokens=6, seed=9)
    assert torch.equal(r.completion_ids, r2.completion_ids)
    with torch.no_grad():
        torch.testing.assert_close(back.token_logprobs(r), policy.token_logprobs(r), atol=0, rtol=0)


def test_bad_input_raises(policy):
    with pytest.raises(ValueError, match="n_per_prompt"):
        policy.generate(PROMPTS, 0, max_new_tokens=4)
    with pytest.raises(ValueError, match="temperature"):
        policy.generate(PROMPTS, 1, max_new_tokens=4, temperature=0.0)
    with pytest.raises(ValueError, match="top_p"):
        policy.generate(PROMPTS, 1, max_new_tokens=4, top_p=0.0)
    with pytest.raises(ValueError, match="single string"):
        policy.generate("12=", 1, max_new_tokens=4)
    with pytest.raises(ValueError, match="empty"):
        policy.generate([], 1, max_new_tokens=4)
    with pytest.raises(ValueError):
        load_policy("/nonexistent/checkpoint")
