"""Hand-computed metrics, fully masked rows, dtype promotion and the registry's contents."""

import math

import pytest
import torch

from grpo_theory.losses import (
    AGG_MODES,
    LOSSES,
    aggregate,
    dr_grpo_loss,
    group_advantages,
    grpo_loss,
    online_dpo_loss,
    pairs_from_groups,
    rloo_loss,
    sequence_logps,
    two_grpo_loss,
)

F64 = torch.float64


def _hand_batch():
    # One prompt, two 2-token rollouts; ratios [[1.5, 1.0], [0.5, 1.0]] against old_logp = 0.
    logp = torch.log(torch.tensor([[[1.5, 1.0], [0.5, 1.0]]], dtype=F64)).requires_grad_()
    return logp, torch.zeros(1, 2, 2, dtype=F64), torch.tensor([[1.0, 0.0]], dtype=F64), torch.ones(1, 2, 2)


def test_grpo_loss_value_gradient_and_metrics_by_hand():
    logp, old, rewards, mask = _hand_batch()
    out = grpo_loss(logp, old, rewards, mask, ref_logp=torch.zeros(1, 2, 2, dtype=F64))
    # A = (+1, -1). Token losses: -min(1.5, 1.28) = -1.28, -1; max(0.5, 0.8) = 0.8, 1.
    # seq-mean-token-mean: ((-1.28 - 1)/2 + (0.8 + 1)/2) / 2 = -0.12
    assert float(out.loss.detach()) == pytest.approx(-0.12, abs=1e-12)
    (g,) = torch.autograd.grad(out.loss, logp)
    # d/dlogp of -A*rho/4 is -A*rho/4 where unclipped, 0 where clipped.
    torch.testing.assert_close(g, torch.tensor([[[0.0, -0.25], [0.0, 0.25]]], dtype=F64))
    k3 = [1 / 1.5 + math.log(1.5) - 1, 0.0, 2 + math.log(0.5) - 1, 0.0]
    expected = {
        "clip_frac_high": 0.25, "clip_frac_low": 0.25, "clip_frac": 0.5, "dual_clip_frac": 0.0,
        "ratio_mean": 1.0, "ratio_max": 1.5, "num_tokens": 4.0, "loss": -0.12, "reward_mean": 0.5,
        "zero_signal_frac": 0.0, "adv_abs_mean": 1.0, "kl": sum(k3) / 4,
    }
    assert set(expected) <= set(out.metrics)
    for k, v in expected.items():
        assert out.metrics[k] == pytest.approx(v, abs=1e-12), k
        assert isinstance(out.metrics[k], float), k


def test_grpo_loss_kl_in_loss_adds_beta_times_aggregated_k3():
    logp, old, rewards, mask = _hand_batch()
    ref = torch.zeros(1, 2, 2, dtype=F64)
    k3 = [1 / 1.5 + math.log(1.5) - 1, 0.0, 2 + math.log(0.5) - 1, 0.0]
    with_kl = grpo_loss(logp, old, rewards, mask, ref_logp=ref, beta=0.5).loss
    # seq-mean-token-mean of k3 = ((k3_00 + 0)/2 + (k3_10 + 0)/2) / 2
    assert float(with_kl.detach()) == pytest.approx(-0.12 + 0.5 * (k3[0] + k3[2]) / 4, abs=1e-12)


def test_dual_clip_caps_negative_advantage_loss_by_hand():
    logp = torch.log(torch.tensor([[[4.0], [1.0]]], dtype=F64))
    out = grpo_loss(logp, torch.zeros(1, 2, 1, dtype=F64), torch.tensor([[0.0, 1.0]], dtype=F64),
                    torch.ones(1, 2, 1), dual_clip=3.0, loss_agg_mode="token-sum")
    # Rollout 0: A = -1, ratio 4 -> max(4, 0.8) = 4, capped at c = 3. Rollout 1: A = +1, ratio 1 -> -1.
    assert float(out.loss.detach()) == pytest.approx(3.0 - 1.0, abs=1e-12)
    assert out.metrics["dual_clip_frac"] == pytest.approx(0.5)


def test_sequence_level_ratio_by_hand():
    logp = torch.log(torch.tensor([[[4.0, 1.0], [1.0, 1.0]]], dtype=F64))
    out = grpo_loss(logp, torch.zeros(1, 2, 2, dtype=F64), torch.tensor([[1.0, 0.0]], dtype=F64),
                    torch.ones(1, 2, 2), level="sequence", clip_high=10.0, loss_agg_mode="token-sum")
    # Sequence ratio of rollout 0 = exp(mean(log 4, 0)) = 2 on both tokens; rollout 1 ratio 1, A = -1.
    assert float(out.loss.detach()) == pytest.approx(-2.0 * 2 + 1.0 * 2, abs=1e-12)


def test_online_dpo_metrics_by_hand():
    logp = torch.tensor([[[-1.0], [-0.5]], [[-2.0], [-3.0]]], dtype=F64, requires_grad=True)
    ref = torch.tensor([[[-1.0], [-1.0]], [[-2.0], [-2.0]]], dtype=F64)
    rewards = torch.tensor([[0.0, 1.0], [1.0, 1.0]], dtype=F64)
    out = online_dpo_loss(logp, logp.detach(), rewards, torch.ones(2, 2, 1), ref_logp=ref, beta=1.0)
    # Pair 0: chosen = rollout 1, u = (-0.5 + 1) - (-1 + 1) = 0.5; loss = log(1 + e^-0.5). Pair 1 tied:
    # dropped.
    assert float(out.loss.detach()) == pytest.approx(math.log1p(math.exp(-0.5)), abs=1e-12)
    expected = {"tie_frac": 0.5, "zero_signal_frac": 0.5, "num_pairs": 1.0, "pair_accuracy": 1.0,
                "margin_mean": 0.5, "reward_mean": 0.75, "num_tokens": 4.0}
    for k, v in expected.items():
        assert out.metrics[k] == pytest.approx(v, abs=1e-12), k
    (g,) = torch.autograd.grad(out.loss, logp)
    s = 1 / (1 + math.exp(0.5))  # sigma(-u)
    torch.testing.assert_close(g, torch.tensor([[[s], [-s]], [[0.0], [0.0]]], dtype=F64))


def test_online_dpo_with_only_ties_is_zero_with_zero_gradient():
    logp = torch.zeros(2, 2, 3, dtype=F64, requires_grad=True)
    out = online_dpo_loss(logp, logp.detach(), torch.ones(2, 2), torch.ones(2, 2, 3),
                          ref_logp=logp.detach() - 1)
    assert float(out.loss.detach()) == 0.0
    (g,) = torch.autograd.grad(out.loss, logp)
    assert torch.equal(g, torch.zeros_like(g))
    assert out.metrics["num_pairs"] == 0.0 and out.metrics["pair_accuracy"] == 0.0
    assert out.metrics["margin_mean"] == 0.0 and out.metrics["tie_frac"] == 1.0


def test_online_dpo_length_normalize_and_ipo_by_hand():
    logp = torch.tensor([[[-1.0, -3.0], [-1.0, 0.0]]], dtype=F64)
    mask = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])
    ref = torch.zeros(1, 2, 2, dtype=F64)
    out = online_dpo_loss(logp, logp, torch.tensor([[1.0, 0.0]]), mask, ref_logp=ref, beta=0.5,
                          loss_type="ipo", length_normalize=True)
    # chosen mean -2, rejected mean -1: u = -1; (u - 1/(2 beta))^2 = (-1 - 1)^2 = 4
    assert float(out.loss.detach()) == pytest.approx(4.0, abs=1e-12)


# --- fully masked rows ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", AGG_MODES)
@pytest.mark.parametrize("empty_rows", ["count", "skip"])
def test_all_masked_batch_aggregates_to_zero_with_zero_gradient(mode, empty_rows):
    x = torch.full((2, 2, 3), float("nan"), dtype=F64).requires_grad_()  # garbage everywhere
    loss = aggregate(x, torch.zeros(2, 2, 3), mode, empty_rows=empty_rows)
    assert float(loss.detach()) == 0.0
    (g,) = torch.autograd.grad(loss, x)
    assert torch.equal(g, torch.zeros_like(g))


def test_one_empty_row_counts_or_is_skipped_by_hand():
    x = torch.tensor([[1.0, 3.0], [9.0, 9.0], [4.0, 0.0]], dtype=F64)
    m = torch.tensor([[1, 1], [0, 0], [1, 0]])
    assert float(aggregate(x, m, "seq-mean-token-mean")) == pytest.approx((2 + 0 + 4) / 3)
    assert float(aggregate(x, m, "seq-mean-token-mean", empty_rows="skip")) == pytest.approx((2 + 4) / 2)
    assert float(aggregate(x, m, "seq-mean-token-sum")) == pytest.approx((4 + 0 + 4) / 3)
    assert float(aggregate(x, m, "seq-mean-token-sum", empty_rows="skip")) == pytest.approx(8 / 2)
    assert float(aggregate(x, m, "seq-mean-token-sum-norm")) == pytest.approx(8 / (3 * 2))
    assert float(aggregate(x, m, "seq-mean-token-sum-norm", empty_rows="skip",
                           horizon=4.0)) == pytest.approx(8 / 8)
    assert float(aggregate(x, m, "token-mean")) == pytest.approx(8 / 3)
    assert float(aggregate(x, m, "token-sum")) == pytest.approx(8.0)
    assert float(aggregate(x, m, "seq-mean-token-mean", normalizer=10.0)) == pytest.approx(6 / 10)


def test_fully_masked_rollout_gets_no_gradient_in_grpo_loss():
    logp = torch.zeros(1, 2, 2, dtype=F64, requires_grad=True)
    mask = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    out = grpo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]]), mask)
    (g,) = torch.autograd.grad(out.loss, logp)
    torch.testing.assert_close(g, torch.tensor([[[-0.25, -0.25], [0.0, 0.0]]], dtype=F64))
    assert out.metrics["num_tokens"] == 2.0


def test_no_valid_token_gives_zero_metrics():
    logp = torch.zeros(1, 2, 2, dtype=F64, requires_grad=True)
    out = grpo_loss(logp, logp.detach(), torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2, 2),
                    ref_logp=logp.detach())
    assert float(out.loss.detach()) == 0.0
    for k in ("clip_frac", "ratio_mean", "ratio_max", "kl", "num_tokens"):
        assert out.metrics[k] == 0.0, k


# --- dtypes, shapes, registry -------------------------------------------------------------------


def test_integer_and_bool_rewards_are_promoted_to_default_float():
    a = group_advantages(torch.tensor([[1, 0], [2, 2]]))
    assert a.dtype == torch.get_default_dtype()
    assert a.tolist() == [[1.0, -1.0], [0.0, 0.0]]
    assert group_advantages(torch.tensor([[True, False]])).tolist() == [[1.0, -1.0]]


def test_float64_in_float64_out():
    logp, old, rewards, mask = _hand_batch()
    assert grpo_loss(logp, old, rewards, mask).loss.dtype == F64
    assert group_advantages(rewards).dtype == F64


def test_sequence_logps_accepts_any_leading_shape():
    assert float(sequence_logps(torch.tensor([-1.0, -2.0]), torch.tensor([1, 1]))) == -3.0
    lp = torch.tensor([[-1.0, -2.0], [-4.0, 0.0]])
    out = sequence_logps(lp, torch.tensor([[1, 1], [0, 0]]), length_normalize=True)
    assert out.tolist() == [-1.5, 0.0]


def test_pairs_from_groups_gathers_per_token_values():
    r = torch.tensor([[2.0, 1.0], [0.0, 5.0]])
    tok = torch.arange(8.0).reshape(2, 2, 2)
    pg = pairs_from_groups(r, tok)
    assert pg.valid.tolist() == [True, True]
    assert pg.chosen[0].tolist() == [[0.0, 1.0], [6.0, 7.0]]
    assert pg.rejected[0].tolist() == [[2.0, 3.0], [4.0, 5.0]]


def test_registry_names_and_functions():
    assert set(LOSSES) == {"grpo", "two_grpo", "dr_grpo", "rloo", "online_dpo", "cispo", "sapo", "gspo",
                           "gmpo"}
    assert LOSSES["grpo"] is grpo_loss and LOSSES["two_grpo"] is two_grpo_loss
    assert LOSSES["dr_grpo"] is dr_grpo_loss and LOSSES["rloo"] is rloo_loss
    assert LOSSES["online_dpo"] is online_dpo_loss


def test_dr_grpo_default_normalizer_is_sequences_times_padded_length():
    logp = torch.zeros(1, 2, 4, dtype=F64, requires_grad=True)
    mask = torch.tensor([[[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]])
    out = dr_grpo_loss(logp, logp.detach(), torch.tensor([[3.0, 1.0]]), mask)
    (g,) = torch.autograd.grad(out.loss, logp)
    # A = (+1, -1) (centered), normalizer S*T = 2*4: gradient -A/8 on valid tokens.
    torch.testing.assert_close(g, torch.tensor([[[-0.125, -0.125, 0, 0], [0.125, 0, 0, 0]]], dtype=F64))
    assert out.metrics["adv_abs_mean"] == 1.0


def test_wrappers_pass_the_reference_and_conventions_through():
    logp, old, rewards, mask = _hand_batch()
    ref = torch.zeros(1, 2, 2, dtype=F64)
    kw = {"ref_logp": ref, "beta": 0.3, "kl_kind": "k2", "loss_agg_mode": "token-mean"}
    base = grpo_loss(logp, old, rewards, mask, **kw)
    two = two_grpo_loss(logp, old, rewards, mask, **kw)
    assert float(two.loss.detach()) == float(base.loss.detach())
    assert two.metrics == base.metrics
    dr = dr_grpo_loss(logp, old, rewards, mask, **kw)
    assert float(dr.loss.detach()) == float(grpo_loss(logp, old, rewards, mask, scale="none",
                                                      **kw).loss.detach())
    assert dr.metrics["kl"] == base.metrics["kl"] > 0
    rl = rloo_loss(logp, old, rewards, mask, **kw)
    # G = 2 binary: RLOO advantages equal the paper's (+1, -1), so the losses agree.
    assert float(rl.loss.detach()) == pytest.approx(float(base.loss.detach()), abs=1e-15)
    assert rl.metrics["kl"] == base.metrics["kl"]
    assert rl.metrics["reward_mean"] == 0.5 and rl.metrics["zero_signal_frac"] == 0.0


def test_every_loss_reports_its_own_value_under_loss():
    logp, old, rewards, mask = _hand_batch()
    ref = torch.zeros(1, 2, 2, dtype=F64)
    for name, fn in LOSSES.items():
        out = fn(logp, old, rewards, mask, ref_logp=ref)
        assert out.metrics["loss"] == float(out.loss.detach()), name
        assert out.metrics["num_tokens"] == 4.0, name


def test_grpo_loss_masks_nan_rewards_when_asked():
    logp = torch.zeros(1, 3, 1, dtype=F64, requires_grad=True)
    rewards = torch.tensor([[1.0, float("nan"), 0.0]], dtype=F64)
    out = grpo_loss(logp, logp.detach(), rewards, torch.ones(1, 3, 1), nan_policy="mask")
    (g,) = torch.autograd.grad(out.loss, logp)
    # Advantages (+1, 0, -1): the NaN rollout is left out of mean and std and gets no gradient.
    torch.testing.assert_close(g.flatten(), torch.tensor([-1 / 3, 0.0, 1 / 3], dtype=F64))
    assert out.metrics["reward_mean"] == 0.5
    with pytest.raises(ValueError, match=r"^rewards has non-finite"):
        grpo_loss(logp, logp.detach(), rewards, torch.ones(1, 3, 1))


def test_batch_scale_std_by_hand():
    r = torch.tensor([[1.0, 0.0]], dtype=F64)
    # One std over the two rewards: Bessel sqrt(0.5), population 0.5.
    a1 = group_advantages(r, scale="batch", std_ddof=1)
    torch.testing.assert_close(a1, torch.tensor([[0.5, -0.5]], dtype=F64) / math.sqrt(0.5))
    a0 = group_advantages(torch.tensor([[1.0, 0.0], [3.0, 3.0]], dtype=F64), scale="batch", std_ddof=0)
    # Batch {1, 0, 3, 3}: mean 1.75, population variance (0.5625 + 3.0625 + 2 * 1.5625) / 4 = 1.6875.
    torch.testing.assert_close(a0, torch.tensor([[0.5, -0.5], [0.0, 0.0]], dtype=F64) / math.sqrt(1.6875))


def test_log_ratio_clamp_is_two_sided_by_hand():
    from grpo_theory.losses import policy_surrogate

    logp = torch.tensor([[[-1.0], [1.0]]], dtype=F64)
    loss, d = policy_surrogate(logp, torch.zeros_like(logp), torch.tensor([[1.0, 1.0]], dtype=F64),
                               torch.ones(1, 2, 1), clip_high=10.0, log_ratio_clamp=0.5)
    # Ratios exp(-0.5) and exp(0.5) after clamping; A = +1 and the high clip (11) never binds.
    torch.testing.assert_close(loss.flatten(), -torch.tensor([math.exp(-0.5), math.exp(0.5)], dtype=F64))
    assert d["ratio_max"] == pytest.approx(math.exp(0.5))
