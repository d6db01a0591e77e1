"""Our conventions against TRL 1.16.0: ``nanstd``, the GRPO advantage formula, and
``GRPOTrainer._compute_loss`` called on a stub trainer (its math only; no model), in float64.

Run with ``make crosscheck`` (its own venv).
"""

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

trl_utils = pytest.importorskip("trl.trainer.utils")
from strategies import reward_groups, token_batches  # noqa: E402
from trl.trainer.grpo_trainer import GRPOTrainer  # noqa: E402

from grpo_theory.losses import ADVANTAGE_PRESETS, aggregate, group_advantages, grpo_loss, policy_surrogate  # noqa: E402

pytestmark = pytest.mark.crosscheck
F64 = torch.float64


def _with_nans(rewards, holes):
    r = rewards.clone().reshape(-1)
    r[torch.tensor(holes, dtype=torch.bool)] = float("nan")
    return r.reshape(rewards.shape)


@given(rewards=reward_groups(G=(2, 8)), data=st.data())
def test_nanstd_equals_our_bessel_std(rewards, data):
    holes = data.draw(st.lists(st.booleans(), min_size=rewards.numel(), max_size=rewards.numel()))
    r = _with_nans(rewards, holes)
    theirs = trl_utils.nanstd(r, dim=1)
    # Our std (ddof 1, NaN masked) recovered from advantages: A = (r - mean) / std for an untied group.
    for p in range(r.shape[0]):
        row = r[p][~torch.isnan(r[p])]
        if row.numel() < 2 or bool((row == row[0]).all()):
            continue
        a = group_advantages(r[p : p + 1], std_ddof=1, nan_policy="mask")[0]
        k = int(torch.argmax(row - row.mean()))  # a rollout with a nonzero deviation
        valid = (~torch.isnan(r[p])).nonzero().flatten()
        ours_std = (row[k] - row.mean()) / a[valid[k]]
        # nanstd's Bessel factor count / (count - 1) is computed from integer counts, i.e. in float32:
        # its result carries a relative error up to ~1e-7 even for float64 input.
        torch.testing.assert_close(ours_std, theirs[p], rtol=1e-7, atol=1e-12)


def _trl_advantages(rewards, G, scale):
    """TRL's GRPO advantage block (grpo_trainer.py, sum_then_normalize), as documented."""
    flat = rewards.reshape(-1)
    mean = torch.nanmean(flat.view(-1, G), dim=1).repeat_interleave(G)
    if scale == "group":
        std = trl_utils.nanstd(flat.view(-1, G), dim=1).repeat_interleave(G)
    else:
        std = trl_utils.nanstd(flat).expand_as(flat)
    adv = (flat - mean) / (std + 1e-4)
    return torch.nan_to_num(adv, nan=0.0).view(-1, G)


@given(rewards=reward_groups(G=(2, 8)), scale=st.sampled_from(["group", "batch"]), data=st.data())
def test_trl_advantage_formula_equals_trl_preset_with_nan_masking(rewards, scale, data):
    holes = data.draw(st.lists(st.booleans(), min_size=rewards.numel(), max_size=rewards.numel()))
    r = _with_nans(rewards, holes)
    assume(int((~torch.isnan(r)).sum()) >= 2)
    theirs = _trl_advantages(r, r.shape[1], scale)
    ours = group_advantages(r, **{**ADVANTAGE_PRESETS["trl"], "scale": scale}, nan_policy="mask")
    torch.testing.assert_close(theirs, ours, rtol=1e-7, atol=1e-9)  # float32 Bessel factor, see above


@pytest.mark.parametrize("value, G, at_least", [(0.98, 15, 2.3e-3), (7.16, 15, 0.018), (0.97, 8, 1.1e-3)])
def test_trl_advantage_of_a_tied_float32_group_is_not_exactly_zero(value, G, at_least):
    # TRL keeps rewards in float32 (torch.tensor(..., dtype=float32) in _calculate_rewards); the group
    # mean of G equal float32 values can miss the value by an ulp, and that residue / (nanstd + 1e-4)
    # survives. (0.98, 15) and (7.16, 15) are the largest on the grids of grpo_theory/losses/README.md
    # (0.01 steps, G <= 16).
    r = torch.full((1, G), value, dtype=torch.float32)
    theirs = _trl_advantages(r, G, "group")
    assert float(theirs.abs().max()) > at_least
    assert float(_trl_advantages(r.double(), G, "group").abs().max()) < 1e-10  # float64: ~1e-12
    ours = group_advantages(r, **ADVANTAGE_PRESETS["trl"])
    assert torch.equal(ours, torch.zeros_like(ours))


# --- GRPOTrainer._compute_loss on a stub -------------------------------------------------------
# use_bias_correction_kl=False here; the ratio-weighted KL (True, TRL's default) is kl_kind="k3_is",
# checked against the same stub in test_engine_losses.py, and through the real trainer in test_trl_trainer.py.


def _stub(loss_type, beta, eps_low, eps_high, level, T):
    ident = lambda t, **_: t  # noqa: E731  (single process: gather/reduce are identities)
    return SimpleNamespace(
        _get_per_token_logps_and_entropies=None,  # set per call
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level=level,
        beta=beta,
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1),
        loss_type=loss_type,
        epsilon_low=eps_low,
        epsilon_high=eps_high,
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1,
        max_completion_length=T,
        accelerator=SimpleNamespace(num_processes=1, gather=ident, reduce=ident, gather_for_metrics=ident,
                                    sync_gradients=True),
        _entropy_bonus_enabled=False,
        aux_loss_enabled=False,
        _metrics=defaultdict(lambda: defaultdict(list)),
    )


def _trl_loss(batch, logp, adv, loss_type, beta, eps_low, eps_high, level):
    P, G, T = batch.shape
    stub = _stub(loss_type, beta, eps_low, eps_high, level, T)
    flat = lambda x: x.reshape(P * G, T)  # noqa: E731
    stub._get_per_token_logps_and_entropies = lambda *a, **k: (flat(logp), torch.zeros_like(flat(logp)), None)
    inputs = {
        "prompt_ids": torch.zeros(P * G, 1, dtype=torch.long),
        "prompt_mask": torch.ones(P * G, 1, dtype=torch.long),
        "completion_ids": torch.zeros(P * G, T, dtype=torch.long),
        "completion_mask": flat(batch.mask),
        "advantages": adv.reshape(-1),
        "old_per_token_logps": flat(batch.old_logp),
        "ref_per_token_logps": flat(batch.ref_logp),
        "num_items_in_batch": batch.mask.sum(),
    }
    loss = GRPOTrainer._compute_loss(stub, None, inputs)
    return loss, stub._metrics["train"]


OUR_AGG = {  # TRL loss_type -> our aggregate keywords (TRL counts fully masked rows as 0: empty_rows="count")
    "grpo": {"loss_agg_mode": "grpo", "empty_rows": "count"},
    "bnpo": {"loss_agg_mode": "bnpo"},
    "dr_grpo": {"loss_agg_mode": "dr_grpo", "empty_rows": "count"},  # horizon = max_completion_length = T
    "dapo": {"loss_agg_mode": "dapo"},  # normalizer = num_items_in_batch, set below
}


@given(batch=token_batches(spread=(0.0, 1.0)), loss_type=st.sampled_from(sorted(OUR_AGG)),
       beta=st.sampled_from([0.0, 0.04]), clip=st.sampled_from([(0.2, 0.2), (0.2, 0.28)]),
       level=st.sampled_from(["token", "sequence"]))
def test_grpo_trainer_compute_loss_equals_grpo_loss(batch, loss_type, beta, clip, level):
    n_tok = float(batch.mask.sum())
    assume(n_tok > 0)
    adv = group_advantages(batch.rewards, **ADVANTAGE_PRESETS["trl"])
    lp_t = batch.logp.clone().requires_grad_()
    theirs, metrics = _trl_loss(batch, lp_t, adv, loss_type, beta, clip[0], clip[1], level)
    kw = dict(OUR_AGG[loss_type])
    if loss_type == "dapo":
        kw["normalizer"] = n_tok
    lp_o = batch.logp.clone().requires_grad_()
    ours = grpo_loss(lp_o, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp,
                     **ADVANTAGE_PRESETS["trl"], clip_low=clip[0], clip_high=clip[1], level=level,
                     beta=beta, kl_kind="k3", **kw)
    torch.testing.assert_close(theirs, ours.loss, rtol=1e-12, atol=1e-12)
    (gt,) = torch.autograd.grad(theirs, lp_t)
    (go,) = torch.autograd.grad(ours.loss, lp_o)
    torch.testing.assert_close(gt, go, rtol=1e-10, atol=1e-12)
    # TRL's metric helper reads any [B, 1] tensor as "one value per sequence" and then ignores the
    # mask, so with T = 1 its clip/KL metrics count masked tokens; compare metrics for T > 1 only.
    if batch.shape[-1] == 1:
        return
    if level == "token":
        assert metrics["clip_ratio/region_mean"][0] == pytest.approx(ours.metrics["clip_frac"], abs=1e-12)
        assert metrics["clip_ratio/low_mean"][0] == pytest.approx(ours.metrics["clip_frac_low"], abs=1e-12)
    if beta:
        assert metrics["kl"][0] == pytest.approx(ours.metrics["kl"], rel=1e-10, abs=1e-12)


def test_trl_grpo_counts_fully_masked_rows_where_verl_skips_them():
    # Recorded difference between the libraries: one empty row halves TRL's "grpo" mean.
    x = torch.tensor([[[2.0, 2.0], [5.0, 5.0]]], dtype=F64)
    m = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]], dtype=F64)
    assert float(aggregate(x, m, "grpo", empty_rows="count")) == 1.0
    assert float(aggregate(x, m, "grpo", empty_rows="skip")) == 2.0
    loss, _ = policy_surrogate(x, x, torch.tensor([[1.0, -1.0]], dtype=F64), m)
    assert float(loss[0, 1].abs().sum()) == 0.0
