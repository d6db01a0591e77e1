"""Bounds (what values can come out) and metamorphic relations (how outputs move with inputs)."""

import math

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import binary_rewards, grpo_conventions, reward_groups, token_batches

from grpo_theory.losses import (
    ADVANTAGE_PRESETS,
    aggregate,
    dpo_loss,
    group_advantages,
    grpo_loss,
    kl_estimate,
    policy_surrogate,
    rloo_advantages,
)

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}


def _grad(loss, x):
    if not loss.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(loss, x)
    return g


# --- bounds -------------------------------------------------------------------------------------


def _g2_binary_magnitude(preset):
    kw = ADVANTAGE_PRESETS[preset]
    if kw["scale"] == "none":
        return 0.5
    std = 0.5 if kw["std_ddof"] == 0 else 1 / math.sqrt(2)  # of {0, 1}
    return 0.5 / (std + kw["eps"])


@pytest.mark.parametrize("preset", sorted(ADVANTAGE_PRESETS))
@given(rewards=binary_rewards(G=2))
def test_g2_binary_advantages_take_values_minus_c_zero_plus_c(preset, rewards):
    a = group_advantages(rewards, **ADVANTAGE_PRESETS[preset])
    c = _g2_binary_magnitude(preset)
    for x in a.flatten().tolist():
        assert min(abs(x - v) for v in (-c, 0.0, c)) <= 1e-12


@pytest.mark.parametrize("preset", sorted(ADVANTAGE_PRESETS))
@given(rewards=reward_groups(G=(2, 8)))
def test_advantages_have_zero_group_mean(preset, rewards):
    a = group_advantages(rewards, **ADVANTAGE_PRESETS[preset])
    # Rounding budget per group: centering costs ~G ulp(max|r|); dividing by the std amplifies it.
    centered = (rewards - rewards.mean(dim=-1, keepdim=True)).abs().amax(dim=-1)
    amplify = torch.where(centered > 0, a.abs().amax(dim=-1) / centered, torch.ones_like(centered))
    tol = 16 * rewards.shape[1] * 2.3e-16 * rewards.abs().amax(dim=-1).clamp(min=1) * amplify.clamp(min=1)
    assert bool((a.mean(dim=-1).abs() <= tol).all())
    assert float(rloo_advantages(rewards).mean(dim=-1).abs().max()) <= 1e-9 * max(
        1.0, float(rewards.abs().max())
    )


@given(rewards=reward_groups(G=(2, 8)), ddof=st.sampled_from([0, 1]))
def test_standardized_advantages_obey_samuelson_bound(rewards, ddof):
    # max |z| = sqrt(G-1) with population std; (G-1)/sqrt(G) with Bessel std.
    G = rewards.shape[1]
    bound = math.sqrt(G - 1) if ddof == 0 else (G - 1) / math.sqrt(G)
    assert float(group_advantages(rewards, std_ddof=ddof).abs().max()) <= bound * (1 + 1e-12)


@given(batch=token_batches(), conv=grpo_conventions(allow_kl=False))
def test_surrogate_loss_bounds_and_clip_fractions_in_unit_interval(batch, conv):
    adv = group_advantages(batch.rewards)
    kw = {k: conv[k] for k in ("clip_low", "clip_high", "dual_clip", "level", "log_ratio_clamp")}
    loss, d = policy_surrogate(batch.logp, batch.old_logp, adv, batch.mask, **kw)
    A = adv.unsqueeze(-1).expand_as(loss)
    pos = (A > 0) & (batch.mask > 0)
    # For A > 0 the gain is capped at (1 + clip_high) A; for A < 0 with dual clip the loss at -c A.
    assert bool((loss[pos] >= -(1 + kw["clip_high"]) * A[pos] - 1e-12).all())
    if kw["dual_clip"] is not None:
        neg = (A < 0) & (batch.mask > 0)
        assert bool((loss[neg] <= -kw["dual_clip"] * A[neg] + 1e-12).all())
    assert bool((loss[batch.mask == 0] == 0).all())
    for k in ("clip_frac", "clip_frac_low", "clip_frac_high", "dual_clip_frac"):
        assert 0.0 <= d[k] <= 1.0
    assert d["clip_frac"] == pytest.approx(d["clip_frac_low"] + d["clip_frac_high"], abs=1e-12)


@given(batch=token_batches())
def test_k2_k3_nonnegative_and_dpo_losses_nonnegative(batch):
    for kind in ("k2", "k3"):
        assert bool((kl_estimate(batch.logp, batch.ref_logp, kind) >= 0).all())
    a, b = batch.logp.flatten(), batch.ref_logp.flatten()
    for lt in ("sigmoid", "ipo", "hinge"):
        assert bool((dpo_loss(a, b, b.flip(0), a.flip(0), beta=0.5, loss_type=lt) >= 0).all())


# --- metamorphic --------------------------------------------------------------------------------


@given(rewards=reward_groups(kinds=("binary", "integer", "tied")), a=st.floats(0.1, 10), b=st.floats(-10, 10),
       ddof=st.sampled_from([0, 1]), scale=st.sampled_from(["group", "batch"]))
def test_advantages_invariant_to_positive_affine_reward_map_when_eps0(rewards, a, b, ddof, scale):
    kw = {"std_ddof": ddof, "eps": 0.0, "scale": scale}
    torch.testing.assert_close(group_advantages(a * rewards + b, **kw), group_advantages(rewards, **kw),
                               rtol=1e-9, atol=1e-9)


@given(rewards=reward_groups(kinds=("binary", "integer", "tied")), a=st.floats(0.1, 10), b=st.floats(-10, 10))
def test_centered_advantages_scale_linearly_with_a(rewards, a, b):
    torch.testing.assert_close(group_advantages(a * rewards + b, scale="none"),
                               a * group_advantages(rewards, scale="none"), rtol=1e-9, atol=1e-9)


@given(batch=token_batches(), conv=grpo_conventions(), data=st.data())
def test_grpo_loss_equivariant_to_permutations_within_groups_and_of_prompts(batch, conv, data):
    P, G, _ = batch.shape
    perm_g = torch.tensor(data.draw(st.permutations(range(G))))
    perm_p = torch.tensor(data.draw(st.permutations(range(P))))

    def permute(x):
        return x[perm_p][:, perm_g]

    lp = batch.logp.clone().requires_grad_()
    base = grpo_loss(lp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **conv).loss
    lp2 = permute(batch.logp).clone().requires_grad_()
    perm = grpo_loss(lp2, permute(batch.old_logp), permute(batch.rewards), permute(batch.mask),
                     ref_logp=permute(batch.ref_logp), **conv).loss
    torch.testing.assert_close(perm, base, **TOL)
    torch.testing.assert_close(_grad(perm, lp2), permute(_grad(base, lp)), **TOL)
    torch.testing.assert_close(group_advantages(permute(batch.rewards)),
                               permute(group_advantages(batch.rewards)), **TOL)


@given(batch=token_batches(reward_kinds=("tied",)), conv=grpo_conventions(allow_kl=False))
def test_tied_groups_give_exactly_zero_gradient(batch, conv):
    lp = batch.logp.clone().requires_grad_()
    loss = grpo_loss(lp, batch.old_logp, batch.rewards, batch.mask, **conv).loss
    g = _grad(loss, lp)
    assert torch.equal(g, torch.zeros_like(g))
    assert float(loss.detach()) == 0.0


@given(batch=token_batches(P=(2, 5)), conv=grpo_conventions(), data=st.data())
def test_micro_batches_sum_to_full_batch_for_token_sum_and_global_token_mean(batch, conv, data):
    # per-group advantages only
    conv = {**conv, "scale": "group" if conv["scale"] == "batch" else conv["scale"]}
    P = batch.shape[0]
    cut = data.draw(st.integers(1, P - 1))
    n_tok = float(batch.mask.sum())
    assume(n_tok > 0)
    for mode, norm in (("token-sum", None), ("token-mean", n_tok)):
        kw = {**conv, "loss_agg_mode": mode, "normalizer": norm}
        lp = batch.logp.clone().requires_grad_()
        full = grpo_loss(lp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **kw).loss
        parts = sum(
            grpo_loss(lp[s], batch.old_logp[s], batch.rewards[s], batch.mask[s], ref_logp=batch.ref_logp[s],
                      **kw).loss
            for s in (slice(0, cut), slice(cut, P))
        )
        torch.testing.assert_close(parts, full, **TOL)
        torch.testing.assert_close(_grad(parts, lp), _grad(full, lp), **TOL)


def test_local_token_mean_is_not_additive_over_micro_batches():
    # The condition matters: bnpo (each micro-batch divides by its own token count) != dapo.
    x = torch.tensor([[1.0, 1.0, 1.0], [4.0, 0.0, 0.0]], dtype=F64)
    m = torch.tensor([[1, 1, 1], [1, 0, 0]])
    full = aggregate(x, m, "token-mean")  # 7/4
    local = 0.5 * (aggregate(x[:1], m[:1], "bnpo") + aggregate(x[1:], m[1:], "bnpo"))  # (1 + 4)/2
    assert float(full) == pytest.approx(1.75) and float(local) == pytest.approx(2.5)


@given(batch=token_batches(), conv=grpo_conventions(), pad=st.integers(1, 3))
def test_padding_with_masked_tokens_changes_nothing(batch, conv, pad):
    if conv["loss_agg_mode"] == "seq-mean-token-sum-norm":
        conv = {**conv, "horizon": 7.0}  # the default horizon is T, which padding changes
    P, G, _ = batch.shape

    def padded(x, fill):
        return torch.cat([x, torch.full((P, G, pad), fill, dtype=x.dtype)], dim=-1)

    base = grpo_loss(batch.logp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **conv)
    # Garbage (-inf, huge values) at masked positions must not leak.
    big = grpo_loss(padded(batch.logp, -1e30), padded(batch.old_logp, 50.0), batch.rewards,
                    padded(batch.mask, 0.0), ref_logp=padded(batch.ref_logp, -float("inf")), **conv)
    if conv.get("beta", 0.0) == 0.0:
        torch.testing.assert_close(big.loss, base.loss, **TOL)
    for k in ("clip_frac", "ratio_mean", "num_tokens"):
        assert big.metrics[k] == pytest.approx(base.metrics[k], rel=1e-12, abs=1e-15)


@given(n=st.integers(1, 6), beta=st.floats(0.01, 3), seed=st.integers(0, 2**31 - 1))
def test_dpo_sigmoid_swap_chosen_rejected_equals_negating_margin(n, beta, seed):
    gen = torch.Generator().manual_seed(seed)
    pc, pr, rc, rr = (torch.randn(n, generator=gen, dtype=F64) for _ in range(4))
    swapped = dpo_loss(pr, pc, rr, rc, beta=beta)
    u = (pc - rc) - (pr - rr)
    torch.testing.assert_close(swapped, torch.log1p(torch.exp(beta * u)), **TOL)
    # ... and a shift of both log-probs of one response by the same constant changes nothing.
    torch.testing.assert_close(dpo_loss(pc + 3.0, pr, rc + 3.0, rr, beta=beta),
                               dpo_loss(pc, pr, rc, rr, beta=beta), **TOL)
