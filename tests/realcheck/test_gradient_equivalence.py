"""R4 on a (micro) Llama: the 2-GRPO and DPO parameter gradients, by autograd through grpo_theory.losses.

Expected constants are written out by hand in each test from the algebra of the module docstring
(they are not taken from the module's own ``predicted_batch_ratio``).
"""

from __future__ import annotations

import math

import pytest
import torch

from grpo_theory.realcheck import gradient_equivalence as ge
from grpo_theory.realcheck._common import cosine, trainable_params

PROMPTS = ["123+456=", "071+300=", "999+001="]


def _pairs(policy, pos: list[str], neg: list[str]) -> ge.Pairs:
    """Pairs (pos[i], neg[i]) of PROMPTS[i]; the positive is put second in half of them (order must not
    matter)."""
    prompts, comps, rewards = [], [], []
    for i, (a, b) in enumerate(zip(pos, neg, strict=True)):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        prompts += [PROMPTS[i], PROMPTS[i]]
        comps += [first, second]
        rewards.append([1.0, 0.0] if i % 2 == 0 else [0.0, 1.0])
    return ge.Pairs(policy.encode(prompts, comps), torch.tensor(rewards))


def _grads(policy, pairs, mask, mode, beta, *, length_normalize=False):
    ref = policy.frozen_copy()
    params = trainable_params(policy.model)
    logp, ref_lp = ge.pair_logps(policy, ref, pairs.rollouts)
    g = ge.grpo_grad(logp, pairs.rewards, mask, mode, params)
    d = ge.dpo_grad(logp, ref_lp, pairs.rewards, mask, beta, params, length_normalize=length_normalize)
    return g, d


@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_two_grpo_gradient_equals_dpo_gradient_over_beta_L_when_pi_is_ref_and_lengths_equal(policy, beta):
    pairs = _pairs(policy, ["0579", "0371", "1000"], ["0578", "0361", "0999"])  # 4 chars + <eos>: L = 5
    mask = pairs.mask
    assert mask.sum(-1).eq(5).all()
    P, L = 3, 5
    expected = {  # |∇L_2GRPO| / |∇L_DPO| by mode, hand-derived (N = 2PL tokens)
        "seq-mean-token-mean": 1 / (beta * L),
        "seq-mean-token-sum": 1 / beta,
        "token-mean": 2 * P / (beta * 2 * P * L),
        "token-sum": 2 * P / beta,
        "seq-mean-token-sum-norm": 1 / (beta * mask.shape[-1]),
    }
    for mode, want in expected.items():
        g, d = _grads(policy, pairs, mask, mode, beta)
        assert cosine(g, d) > 1 - 1e-6, mode
        assert float(g.norm() / d.norm()) == pytest.approx(want, rel=1e-5), mode
        assert float(g @ d) > 0, mode  # same direction, not opposite


def test_unequal_lengths_under_seq_mean_token_mean_break_the_direction(policy):
    pairs = _pairs(policy, ["0", "03710", "1"], ["057812", "1", "0999"])
    mask = pairs.mask
    assert len(mask.sum(-1).unique()) > 1
    g, d = _grads(policy, pairs, mask, "seq-mean-token-mean", 0.1)
    assert cosine(g, d) < 1 - 1e-3  # measurably not parallel
    # Length-normalized DPO log-probs restore it, with constant 1/beta.
    g, d = _grads(policy, pairs, mask, "seq-mean-token-mean", 0.1, length_normalize=True)
    assert cosine(g, d) > 1 - 1e-6
    assert float(g.norm() / d.norm()) == pytest.approx(10.0, rel=1e-5)


def test_global_token_mean_keeps_the_direction_with_unequal_lengths(policy):
    # token-mean divides the whole batch by one token count N, so the pairs keep equal weights.
    pairs = _pairs(policy, ["0", "03710", "1"], ["057812", "1", "0999"])
    mask = pairs.mask
    N = float(mask.sum())
    g, d = _grads(policy, pairs, mask, "token-mean", 0.5)
    assert cosine(g, d) > 1 - 1e-6
    assert float(g.norm() / d.norm()) == pytest.approx(2 * 3 / (0.5 * N), rel=1e-5)


def test_per_pair_factor_holds_away_from_reference_while_batch_cosine_drops(policy):
    pairs = _pairs(policy, ["0579", "0371", "1000"], ["0578", "0361", "0999"])
    ref = policy.frozen_copy()
    with torch.no_grad():  # move π away from π_ref
        gen = torch.Generator().manual_seed(1)
        for p in policy.model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    params = trainable_params(policy.model)
    beta, L = 1.0, 5
    mask = pairs.mask
    sigmas = []
    for i in range(3):
        sub = pairs.rollouts.select([2 * i, 2 * i + 1])
        logp, ref_lp = ge.pair_logps(policy, ref, sub)
        rw, m = pairs.rewards[i:i + 1], mask[i:i + 1]
        # Δ_i by hand: β[(log π − log π_ref)(o−) − (log π − log π_ref)(o+)]
        lr = (logp.detach() - ref_lp).sum(-1)[0].double()
        pos = int(rw[0].argmax())
        delta = beta * float(lr[1 - pos] - lr[pos])
        sig = 1 / (1 + math.exp(-delta))
        sigmas.append(sig)
        g = ge.grpo_grad(logp, rw, m, "seq-mean-token-mean", params)
        d = ge.dpo_grad(logp, ref_lp, rw, m, beta, params)
        assert cosine(g, d) > 1 - 1e-6
        assert float(g.norm() / d.norm()) == pytest.approx(1 / (2 * L * beta * sig), rel=1e-5)
    assert max(sigmas) - min(sigmas) > 0.05  # the perturbation really moved the margins apart
    logp, ref_lp = ge.pair_logps(policy, ref, pairs.rollouts)
    g = ge.grpo_grad(logp, pairs.rewards, mask, "seq-mean-token-mean", params)
    d = ge.dpo_grad(logp, ref_lp, pairs.rewards, mask, beta, params)
    assert cosine(g, d) < 1 - 1e-4


def test_truncate_mask_keeps_a_nonempty_prefix():
    mask = torch.ones(50, 2, 7, dtype=torch.bool)
    mask[:, 1, 5:] = False
    t = ge.truncate_mask(mask, seed=0)
    n = t.sum(-1)
    assert (n >= 1).all() and (n <= mask.sum(-1)).all()
    assert len(n.unique()) > 3
    assert torch.equal(t, t & mask)
    # prefix: no kept token after a dropped one
    assert (t[..., 1:] <= t[..., :-1]).all()
