"""Our conventions against verl 0.9.1's free functions (verl/trainer/ppo/core_algos.py), in float64.

Run with ``make crosscheck`` (its own venv). Each test states which of our keywords reproduce the
verl call, and any input restriction needed where verl behaves differently on purpose.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

core_algos = pytest.importorskip("verl.trainer.ppo.core_algos")

from strategies import reward_groups, token_batches  # noqa: E402

from grpo_theory.losses import (  # noqa: E402
    ADVANTAGE_PRESETS,
    aggregate,
    group_advantages,
    kl_estimate,
    policy_surrogate,
    rloo_advantages,
)

pytestmark = pytest.mark.crosscheck
F64 = torch.float64


def _flat(x):
    """[P, G, T] -> [P*G, T], verl's (batch, response_length) layout, groups contiguous."""
    return x.reshape(-1, x.shape[-1])


def _verl_scores(rewards, T=3, mask=None):
    """Sequence rewards [P, G] as verl token-level rewards [P*G, T] (all on token 0) + uid index."""
    P, G = rewards.shape
    tlr = torch.zeros(P * G, T, dtype=rewards.dtype)
    tlr[:, 0] = rewards.reshape(-1)
    m = torch.ones(P * G, T, dtype=rewards.dtype) if mask is None else _flat(mask)
    index = np.repeat(np.arange(P), G)
    return tlr, m, index


@given(rewards=reward_groups(G=(2, 8)), norm=st.booleans())
def test_grpo_outcome_advantage_equals_verl_preset(rewards, norm):
    tlr, m, index = _verl_scores(rewards)
    theirs, _ = core_algos.compute_grpo_outcome_advantage(tlr, m, index, epsilon=1e-6,
                                                          norm_adv_by_std_in_grpo=norm)
    ours = group_advantages(rewards, **(ADVANTAGE_PRESETS["verl"] if norm else ADVANTAGE_PRESETS["dr_grpo"]))
    # verl centers without our exact tie handling: a tied group can leave ~1e-17 / 1e-6 behind.
    torch.testing.assert_close(theirs[:, 0], ours.reshape(-1), rtol=1e-8, atol=1e-9)


@given(rewards=reward_groups(G=(2, 8), kinds=("binary", "integer")), norm=st.booleans())
def test_grpo_vectorized_outcome_advantage_equals_verl_preset_to_float32(rewards, norm):
    # verl's vectorized path computes group statistics in float32 (verl/utils/groupwise.py);
    # restricted to float32-exact rewards, see the next test for what happens otherwise.
    tlr, m, index = _verl_scores(rewards)
    theirs, _ = core_algos.compute_grpo_vectorized_outcome_advantage(
        tlr, m, index, epsilon=1e-6, norm_adv_by_std_in_grpo=norm
    )
    ours = group_advantages(rewards, **(ADVANTAGE_PRESETS["verl"] if norm else ADVANTAGE_PRESETS["dr_grpo"]))
    torch.testing.assert_close(theirs[:, 0].to(F64), ours.reshape(-1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("value, G, at_least", [(0.1, 2, 1e-3), (0.3, 2, 1e-3), (0.1, 7, 1e-3),
                                                (0.98, 16, 0.17), (8.02, 16, 0.79)])
def test_verl_vectorized_advantage_is_nonzero_for_tied_float64_groups_where_ours_is_zero(value, G, at_least):
    # Recorded difference: the float32 group mean is subtracted from float64 scores, and the
    # rounding residue (~1e-8 x the reward's size) divided by (0 + 1e-6) survives as a spurious advantage.
    # (0.98, 16) and (8.02, 16) are the largest on the grids of grpo_theory/losses/README.md
    # (0.01 steps in (0, 1] and (0, 10]).
    rewards = torch.full((1, G), value, dtype=F64)
    tlr, m, index = _verl_scores(rewards)
    theirs, _ = core_algos.compute_grpo_vectorized_outcome_advantage(tlr, m, index, epsilon=1e-6)
    assert float(theirs.abs().max()) > at_least
    assert torch.equal(group_advantages(rewards, **ADVANTAGE_PRESETS["verl"]), torch.zeros_like(rewards))


@pytest.mark.parametrize("value, G, at_least", [(0.98, 15, 0.19), (7.16, 15, 0.64), (0.1, 3, 0.0)])
def test_verl_grpo_on_a_tied_float32_group_leaves_a_residue(value, G, at_least):
    # "A tied group gives 0" holds for verl's loop estimator only in float64: its trainer's scores are
    # float32, and torch.mean of G equal float32 values is not always that value.
    rewards = torch.full((1, G), value, dtype=torch.float32)
    tlr, m, index = _verl_scores(rewards)
    theirs, _ = core_algos.compute_grpo_outcome_advantage(tlr, m, index, epsilon=1e-6)
    assert float(theirs.abs().max()) >= at_least
    theirs64, _ = core_algos.compute_grpo_outcome_advantage(tlr.double(), m.double(), index, epsilon=1e-6)
    assert float(theirs64.abs().max()) < 1e-8  # float64: the residue is ~1e-10
    assert torch.equal(group_advantages(rewards, **ADVANTAGE_PRESETS["verl"]), torch.zeros_like(rewards))


def test_verl_singleton_group_uses_raw_reward_where_we_raise():
    # A deliberate difference: verl silently gives A = r / (1 + eps) to a group of one.
    tlr, m, _ = _verl_scores(torch.tensor([[0.7, 0.2]], dtype=F64))
    theirs, _ = core_algos.compute_grpo_outcome_advantage(tlr, m, np.array([0, 1]), epsilon=1e-6)
    torch.testing.assert_close(theirs[:, 0], torch.tensor([0.7, 0.2], dtype=F64) / (1 + 1e-6))
    with pytest.raises(ValueError, match="G >= 2"):
        group_advantages(torch.tensor([[0.7], [0.2]], dtype=F64))


@given(rewards=reward_groups(G=(2, 8)))
def test_rloo_outcome_advantage_equals_ours(rewards):
    tlr, m, index = _verl_scores(rewards)
    theirs, _ = core_algos.compute_rloo_outcome_advantage(tlr, m, index)
    torch.testing.assert_close(theirs[:, 0], rloo_advantages(rewards).reshape(-1), rtol=1e-9, atol=1e-9)


@given(batch=token_batches(empty_rows=True),
       mode=st.sampled_from(["token-mean", "token-sum", "seq-mean-token-sum", "seq-mean-token-sum-norm",
                             "seq-mean-token-mean"]),
       scale_factor=st.sampled_from([None, 7]))
def test_agg_loss_equals_aggregate_with_empty_rows_skipped(batch, mode, scale_factor):
    # verl 0.9.1 leaves fully masked rows out of the sequence count: our empty_rows="skip".
    assume(float(batch.mask.sum()) > 0)  # verl's token-mean is 0/0 = NaN there; ours is 0
    x = batch.logp.clone().requires_grad_()
    kw = {}
    if mode == "seq-mean-token-sum-norm" and scale_factor is not None:
        kw["horizon"] = float(scale_factor)
    theirs = core_algos.agg_loss(_flat(x), _flat(batch.mask), mode,
                                 loss_scale_factor=scale_factor if mode.endswith("norm") else None)
    ours = aggregate(x, batch.mask, mode, empty_rows="skip", **kw)
    # verl's seq-mean-token-mean divides by (n + 1e-8): relative 1e-8 / n away from exact.
    tol = {"rtol": 2e-8, "atol": 5e-8} if mode == "seq-mean-token-mean" else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(theirs, ours, **tol)
    (gt,) = torch.autograd.grad(theirs, x)
    (go,) = torch.autograd.grad(ours, x)
    torch.testing.assert_close(gt, go, **tol)


@given(batch=token_batches(empty_rows=True),
       mode=st.sampled_from(["seq-mean-token-sum", "seq-mean-token-sum-norm", "seq-mean-token-mean"]))
def test_agg_loss_with_the_trainers_global_batch_size_counts_empty_rows(batch, mode):
    # verl's trainer passes global_batch_size (ppo_mini_batch_size x rollout.n, every row): fully masked
    # rows are then counted, our empty_rows="count"; a bare agg_loss call skips them (test above).
    rows = batch.mask.shape[0] * batch.mask.shape[1]
    x = batch.logp
    theirs = core_algos.agg_loss(_flat(x), _flat(batch.mask), mode, global_batch_size=rows)
    ours = aggregate(x, batch.mask, mode, empty_rows="count")
    tol = {"rtol": 2e-8, "atol": 5e-8} if mode == "seq-mean-token-mean" else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(theirs, ours, **tol)


def test_verl_trainer_passes_the_mini_batch_row_count_as_global_batch_size():
    import inspect

    from verl.trainer.ppo import ray_trainer

    src = inspect.getsource(ray_trainer.RayPPOTrainer._update_actor)
    assert "ppo_mini_batch_size * self.config.actor_rollout_ref.rollout.n" in src
    assert "global_batch_size=ppo_mini_batch_size" in src


@given(batch=token_batches(), n_global=st.integers(1, 50))
def test_agg_loss_token_mean_with_global_token_count_equals_our_normalizer(batch, n_global):
    x = batch.logp
    theirs = core_algos.agg_loss(_flat(x), _flat(batch.mask), "token-mean", batch_num_tokens=n_global)
    torch.testing.assert_close(theirs, aggregate(x, batch.mask, "token-mean", normalizer=float(n_global)),
                               rtol=1e-12, atol=1e-12)


@given(batch=token_batches(spread=(0.0, 2.0)),
       clip=st.sampled_from([(0.2, 0.2), (0.2, 0.28), (0.1, 0.5)]),
       mode=st.sampled_from(["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"]))
def test_compute_policy_loss_equals_surrogate_with_dual_clip_3_and_log_ratio_clamp_20(batch, clip, mode):
    assume(float(batch.mask.sum()) > 0)
    adv = group_advantages(batch.rewards, **ADVANTAGE_PRESETS["verl"])
    adv_tok = adv.unsqueeze(-1).expand(batch.shape) * batch.mask
    x = batch.logp.clone().requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the plain-argument shim is deprecated upstream
        loss_v, clipfrac, _, clipfrac_lower = core_algos.compute_policy_loss(
            _flat(batch.old_logp), _flat(x), _flat(adv_tok), _flat(batch.mask),
            cliprange_low=clip[0], cliprange_high=clip[1], clip_ratio_c=3.0, loss_agg_mode=mode,
        )
    per_tok, diag = policy_surrogate(x, batch.old_logp, adv, batch.mask, clip_low=clip[0], clip_high=clip[1],
                                     dual_clip=3.0, log_ratio_clamp=20.0)
    ours = aggregate(per_tok, batch.mask, mode, empty_rows="skip")
    # seq-mean-token-mean: verl divides each row by (n + 1e-8), so relative 1e-8 / n, not 1e-12.
    tol = {"rtol": 2e-8, "atol": 5e-8} if mode == "seq-mean-token-mean" else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(loss_v, ours, **tol)
    (gv,) = torch.autograd.grad(loss_v, x)
    (go,) = torch.autograd.grad(ours, x)
    torch.testing.assert_close(gv, go, **tol)
    # verl's masked_mean divides by (count + 1e-8): the metrics agree to relative 1e-8.
    assert float(clipfrac) == pytest.approx(diag["clip_frac"], rel=1e-7, abs=1e-12)
    assert float(clipfrac_lower) == pytest.approx(diag["dual_clip_frac"], rel=1e-7, abs=1e-12)


@given(batch=token_batches(spread=(0.0, 3.0)), kind=st.sampled_from(["k1", "k2", "k3", "k3+"]))
def test_kl_penalty_equals_kl_estimate_values_and_gradients(batch, kind):
    # verl clamps k3's log-ratio at 20 and its value at 10; k1/k2 are unclamped.
    kw = {"log_ratio_clamp": 20.0, "value_clamp": 10.0} if kind.startswith("k3") else {}
    x = batch.logp.clone().requires_grad_()
    theirs = core_algos.kl_penalty(x, batch.ref_logp, kind)
    ours = kl_estimate(x, batch.ref_logp, kind, **kw)
    torch.testing.assert_close(theirs, ours, rtol=1e-12, atol=1e-14)
    w = torch.randn(x.shape, dtype=F64)
    (gt,) = torch.autograd.grad((theirs * w).sum(), x)
    (go,) = torch.autograd.grad((ours * w).sum(), x)
    torch.testing.assert_close(gt, go, rtol=1e-12, atol=1e-14)


def test_low_var_kl_is_verls_name_for_k3():
    lp = torch.tensor([[-0.5, -2.0, -30.0]], dtype=F64)
    ref = torch.tensor([[-1.0, -0.1, -1.0]], dtype=F64)
    theirs = core_algos.kl_penalty(lp, ref, "low_var_kl")
    torch.testing.assert_close(theirs, kl_estimate(lp, ref, "k3", log_ratio_clamp=20.0, value_clamp=10.0))
