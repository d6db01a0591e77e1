"""GRPOTheoryTrainer (grpo_theory.integrations.trl) against TRL 1.16.0's own GRPOTrainer, on the tiny
checkpoint.

One accumulation window (2 micro-batches) of the native trainer and of the subclass, built from the same
weights, the same generated completions and the same off-policy / reference log-probs: advantages, the
loss of each micro-batch and the summed parameter gradients must agree. The models are float32 and the
two sides round differently (our advantages are computed in float64; our aggregation divides once), so
the tolerances are float32 ones: loss rtol 1e-5 / atol 1e-7, gradients max |diff| <= 1e-5 x max |grad|
(measured worst case over the grid: see the assertion messages).
"""

from __future__ import annotations

import copy

import pytest
import torch

pytest.importorskip("trl")
from trl import GRPOConfig, GRPOTrainer

from crosscheck import trl_helpers as H
from grpo_theory.integrations.trl import GRPOTheoryTrainer
from grpo_theory.losses import ADVANTAGE_PRESETS, group_advantages, rloo_advantages

pytestmark = pytest.mark.crosscheck

G, PROMPTS, GAS = 4, 4, 2  # 16 rollouts per window = 2 micro-batches of 8


def _config(tmp_path, **kw) -> GRPOConfig:
    base = dict(output_dir=str(tmp_path), use_cpu=True, report_to="none", save_strategy="no", seed=0,
                per_device_train_batch_size=PROMPTS * G // GAS, gradient_accumulation_steps=GAS,
                num_generations=G, max_completion_length=H.MAX_COMPLETION, epsilon=0.2, epsilon_high=0.28,
                learning_rate=1e-3, max_steps=1, dataloader_num_workers=0)
    base.update(kw)
    return GRPOConfig(**base)


def _trainer(cls, tmp_path, reward_funcs=(H.partial_credit,), **kw):
    tr = cls(model=H.model(), reward_funcs=list(reward_funcs), args=_config(tmp_path, **kw),
             train_dataset=H.addition_dataset(32), processing_class=H.tokenizer())
    tr.current_gradient_accumulation_steps = GAS  # set by Trainer's loop; we call the loss directly
    tr.model.train()  # train mode: the accumulation normalizers apply (the tiny model has no dropout)
    return tr


def _generation_inputs(seed=3):
    ds = H.addition_dataset(PROMPTS, seed=seed)
    return [dict(ds[i]) for i in range(PROMPTS) for _ in range(G)]  # RepeatSampler order: groups contiguous


def _generate(trainer, inputs, seed=11):
    torch.manual_seed(seed)
    return trainer._generate_and_score_completions(copy.deepcopy(inputs))


def _off_policy(trainer, batch, beta, seed=5):
    """Make the window off-policy and the reference different, so clipping and KL gradients are exercised."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    att = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    with torch.no_grad():
        lp, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, att,
                                                              batch["completion_ids"].size(1))
    batch = dict(batch)
    batch["old_per_token_logps"] = lp + 0.3 * torch.randn(lp.shape, generator=gen)
    if beta:
        batch["ref_per_token_logps"] = lp + 0.3 * torch.randn(lp.shape, generator=gen)
    return batch


def _window(trainer, batch):
    """Loss of each micro-batch and the gradient summed over the window (what one optimizer step uses)."""
    trainer.model.zero_grad(set_to_none=True)
    half = batch["completion_ids"].shape[0] // GAS
    losses = []
    for k in range(GAS):
        mb = {key: (v[k * half:(k + 1) * half] if torch.is_tensor(v) and v.dim() > 0 else v)
              for key, v in batch.items()}
        loss = trainer.compute_loss(trainer.model, mb)
        loss.backward()
        losses.append(loss.detach())
    grads = {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    return torch.stack(losses), grads


CASES = [(lt, lvl, beta, bias) for lt in ("grpo", "bnpo", "dr_grpo", "dapo") for lvl in ("token", "sequence")
         for beta, bias in ((0.0, True), (0.04, False), (0.04, True))]
# luspo: the GSPO (sequence-ratio) surrogate summed over each sequence's tokens, mean over sequences.
CASES += [("luspo", "sequence", 0.0, True), ("luspo", "sequence", 0.04, True)]
# the library's CISPO and SAPO surrogates in place of the clipped one
CASES += [("cispo", "token", 0.0, True), ("cispo", "sequence", 0.04, True), ("sapo", "token", 0.04, False),
          ("sapo", "sequence", 0.0, True)]


@pytest.mark.parametrize("loss_type, level, beta, bias", CASES)
def test_one_window_matches_native_trainer(tmp_path, loss_type, level, beta, bias):
    kw = dict(loss_type=loss_type, importance_sampling_level=level, beta=beta, use_bias_correction_kl=bias)
    native = _trainer(GRPOTrainer, tmp_path / "n", **kw)
    ours = _trainer(GRPOTheoryTrainer, tmp_path / "o", **kw)
    inputs = _generation_inputs()
    gn, go = _generate(native, inputs), _generate(ours, inputs)
    assert torch.equal(gn["completion_ids"], go["completion_ids"])  # same weights, same seed
    torch.testing.assert_close(go["advantages"], gn["advantages"], rtol=1e-5, atol=1e-6)
    batch = _off_policy(native, {**gn, "advantages": gn["advantages"]}, beta)
    ln, grad_n = _window(native, batch)
    lo, grad_o = _window(ours, batch)
    torch.testing.assert_close(lo, ln, rtol=1e-5, atol=1e-7)
    assert grad_n.keys() == grad_o.keys()
    scale = max(float(g.abs().max()) for g in grad_n.values())
    worst = max(float((grad_o[k] - grad_n[k]).abs().max()) for k in grad_n)
    assert scale > 1e-4, "the window must carry a gradient"
    assert worst <= 1e-5 * scale, f"max |grad diff| {worst:.3g} vs max |grad| {scale:.3g}"
    if beta:
        assert ours._metrics["train"]["kl"][-1] == pytest.approx(native._metrics["train"]["kl"][-1], rel=1e-5,
                                                                 abs=1e-8)
    if level == "token" and loss_type not in ("cispo", "sapo"):
        for key in ("clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"):
            assert ours._metrics["train"][key][-1] == pytest.approx(native._metrics["train"][key][-1],
                                                                    abs=1e-7)


def _rewards_of(trainer, out, inputs):
    """Rewards recomputed from the decoded completions, independently of the trainer's reward path."""
    texts = trainer.processing_class.batch_decode(out["completion_ids"], skip_special_tokens=True)
    r = H.partial_credit(None, texts, [x["answer"] for x in inputs])
    return torch.tensor([float("nan") if v is None else v for v in r], dtype=torch.float64).view(-1, G)


@pytest.mark.parametrize("advantage", [*sorted(ADVANTAGE_PRESETS), "rloo",
                                       {"scale": "batch", "std_ddof": 0, "eps": 0.0}])
def test_advantages_at_generation_time_come_from_the_library(tmp_path, advantage):
    funcs = (H.exact_match,) if advantage == "rloo" else (H.partial_credit,)  # RLOO cannot mask NaN rewards
    ours = GRPOTheoryTrainer(model=H.model(), reward_funcs=list(funcs), args=_config(tmp_path),
                             train_dataset=H.addition_dataset(32), processing_class=H.tokenizer(),
                             advantage=advantage)
    inputs = _generation_inputs(seed=7)
    out = _generate(ours, inputs)
    if advantage == "rloo":
        texts = ours.processing_class.batch_decode(out["completion_ids"], skip_special_tokens=True)
        r = torch.tensor(H.exact_match(None, texts, [x["answer"] for x in inputs]),
                         dtype=torch.float64).view(-1, G)
        expected = rloo_advantages(r)
    else:
        r = _rewards_of(ours, out, inputs)
        kw = ADVANTAGE_PRESETS[advantage] if isinstance(advantage, str) else advantage
        expected = group_advantages(r, **kw, nan_policy="mask")
        assert bool(torch.isnan(r).any()), "the batch should contain an unscorable rollout (NaN reward)"
    torch.testing.assert_close(out["advantages"].to(torch.float64),
                               expected.reshape(-1).to(torch.float32).to(torch.float64), rtol=0, atol=0)
    assert out["advantages"].dtype == torch.float32


def test_unsupported_trl_options_fail_at_construction(tmp_path):
    with pytest.raises(ValueError, match=r"does not support delta \(two-sided clipping\)"):
        _trainer(GRPOTheoryTrainer, tmp_path, delta=1.5)
    with pytest.raises(ValueError, match=r"does not support loss_type='vespo'"):
        _trainer(GRPOTheoryTrainer, tmp_path, loss_type="vespo")
    with pytest.raises(ValueError, match="advantage must be None, 'rloo'"):
        GRPOTheoryTrainer(model=H.model(), reward_funcs=[H.exact_match], args=_config(tmp_path),
                          train_dataset=H.addition_dataset(8), processing_class=H.tokenizer(),
                          advantage="nope")
    with pytest.raises(ValueError, match="fixes scale='group'; scale_rewards='batch' conflicts"):
        GRPOTheoryTrainer(model=H.model(), reward_funcs=[H.exact_match],
                          args=_config(tmp_path, scale_rewards="batch"), train_dataset=H.addition_dataset(8),
                          processing_class=H.tokenizer(), advantage="paper")
