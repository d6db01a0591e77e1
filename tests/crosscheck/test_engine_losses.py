"""Our CISPO, SAPO, GSPO, GMPO, ratio-weighted k3 and per-prompt token mean against the installed engines,
in float64 on hypothesis inputs: TRL 1.16.0 ``GRPOTrainer._compute_loss`` (called on a stub trainer, its
math only) and verl 0.9.1 policy losses looked up with ``get_policy_loss_fn``.

Run in the crosscheck venv: ``.venv-crosscheck/bin/python -m pytest -m crosscheck tests/crosscheck``.
Tolerances: 1e-12 (gradients 1e-10 for TRL) where both sides do the same float64 operations; where verl
adds 1e-8 to a count (``masked_mean`` metrics, ``seq-mean-token-mean``, GMPO's token means) relative
2e-8 to 1e-7 and absolute 5e-8 (terms that cancel keep the 1e-8 offsets). TRL's SAPO temperatures are
float32 (``torch.where`` on Python floats); the test passes the same rounded numbers to ours.
"""

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

core_algos = pytest.importorskip("verl.trainer.ppo.core_algos")
pytest.importorskip("trl")

from strategies import token_batches  # noqa: E402
from trl.trainer.grpo_trainer import GRPOTrainer  # noqa: E402
from verl.workers.config import ActorConfig  # noqa: E402

from grpo_theory.losses import (  # noqa: E402
    ADVANTAGE_PRESETS,
    aggregate,
    cispo_loss,
    gmpo_loss,
    group_advantages,
    grpo_loss,
    gspo_loss,
    sapo_loss,
)

pytestmark = pytest.mark.crosscheck
F64 = torch.float64
TRL = ADVANTAGE_PRESETS["trl"]
VERL = ADVANTAGE_PRESETS["verl"]


def _flat(x):
    return x.reshape(-1, x.shape[-1])


def _grad(loss, x):
    (g,) = torch.autograd.grad(loss, x)
    return g


# --------------------------------------------------------------------------------------------- TRL


def _trl_stub(loss_type, *, beta, eps_low, eps_high, level, T, bias_kl, tau_pos=1.0, tau_neg=1.05):
    ident = lambda t, **_: t  # noqa: E731  (one process: gather/reduce are identities)
    return SimpleNamespace(
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level=level,
        beta=beta,
        args=SimpleNamespace(use_bias_correction_kl=bias_kl, delta=None, steps_per_generation=1,
                             sapo_temperature_pos=tau_pos, sapo_temperature_neg=tau_neg),
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


def _trl_loss(stub, batch, logp, adv):
    P, G, T = batch.shape
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
    return GRPOTrainer._compute_loss(stub, None, inputs), stub._metrics["train"]


@given(batch=token_batches(spread=(0.0, 1.5)), beta=st.sampled_from([0.0, 0.04]), bias_kl=st.booleans(),
       eps_high=st.sampled_from([5.0, 1.28, 0.9]), level=st.sampled_from(["token", "sequence"]))
def test_trl_cispo_equals_cispo_loss(batch, beta, bias_kl, eps_high, level):
    n_tok = float(batch.mask.sum())
    assume(n_tok > 0)
    adv = group_advantages(batch.rewards, **TRL)
    lp_t = batch.logp.clone().requires_grad_()
    stub = _trl_stub("cispo", beta=beta, eps_low=0.2, eps_high=eps_high, level=level, T=batch.shape[-1],
                     bias_kl=bias_kl)
    theirs, metrics = _trl_loss(stub, batch, lp_t, adv)
    lp_o = batch.logp.clone().requires_grad_()
    ours = cispo_loss(lp_o, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **TRL,
                      ratio_max=eps_high, level=level, loss_agg_mode="token-mean", normalizer=n_tok,
                      beta=beta, kl_kind="k3_is" if bias_kl else "k3")
    torch.testing.assert_close(theirs, ours.loss, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(_grad(theirs, lp_t), _grad(ours.loss, lp_o), rtol=1e-10, atol=1e-12)
    if batch.shape[-1] > 1 and level == "token":  # TRL's metric helper ignores the mask for [B, 1] tensors
        assert metrics["cispo_clip_ratio"][0] == pytest.approx(ours.metrics["clip_frac_high"], abs=1e-12)
    if beta and batch.shape[-1] > 1:
        assert metrics["kl"][0] == pytest.approx(ours.metrics["kl"], rel=1e-10, abs=1e-12)


@given(batch=token_batches(spread=(0.0, 1.5)), beta=st.sampled_from([0.0, 0.04]), bias_kl=st.booleans(),
       taus=st.sampled_from([(1.0, 1.05), (0.5, 2.0)]), level=st.sampled_from(["token", "sequence"]))
def test_trl_sapo_equals_sapo_loss(batch, beta, bias_kl, taus, level):
    adv = group_advantages(batch.rewards, **TRL)
    lp_t = batch.logp.clone().requires_grad_()
    stub = _trl_stub("sapo", beta=beta, eps_low=0.2, eps_high=0.2, level=level, T=batch.shape[-1],
                     bias_kl=bias_kl, tau_pos=taus[0], tau_neg=taus[1])
    theirs, _ = _trl_loss(stub, batch, lp_t, adv)
    lp_o = batch.logp.clone().requires_grad_()
    # TRL builds the temperatures with torch.where on Python floats, i.e. in float32 (1.05 becomes
    # 1.0499999523, a relative 5e-8 on the loss): we pass the same float32-rounded numbers.
    t32 = [float(torch.tensor(t, dtype=torch.float32)) for t in taus]
    # TRL aggregates sapo like grpo: per-sequence token mean, empty rows counted as 0
    ours = sapo_loss(lp_o, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **TRL,
                     tau_pos=t32[0], tau_neg=t32[1], level=level, loss_agg_mode="seq-mean-token-mean",
                     empty_rows="count", beta=beta, kl_kind="k3_is" if bias_kl else "k3")
    torch.testing.assert_close(theirs, ours.loss, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(_grad(theirs, lp_t), _grad(ours.loss, lp_o), rtol=1e-10, atol=1e-12)


@given(batch=token_batches(spread=(0.0, 1.0)), loss_type=st.sampled_from(["grpo", "dapo"]),
       level=st.sampled_from(["token", "sequence"]))
def test_trl_bias_corrected_kl_equals_k3_is(batch, loss_type, level):
    n_tok = float(batch.mask.sum())
    assume(n_tok > 0)
    adv = group_advantages(batch.rewards, **TRL)
    lp_t = batch.logp.clone().requires_grad_()
    stub = _trl_stub(loss_type, beta=0.04, eps_low=0.2, eps_high=0.28, level=level, T=batch.shape[-1],
                     bias_kl=True)
    theirs, _ = _trl_loss(stub, batch, lp_t, adv)
    lp_o = batch.logp.clone().requires_grad_()
    agg = {"loss_agg_mode": "grpo", "empty_rows": "count"} if loss_type == "grpo" else {
        "loss_agg_mode": "dapo", "normalizer": n_tok}
    ours = grpo_loss(lp_o, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **TRL,
                     clip_low=0.2, clip_high=0.28, level=level, beta=0.04, kl_kind="k3_is", **agg)
    torch.testing.assert_close(theirs, ours.loss, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(_grad(theirs, lp_t), _grad(ours.loss, lp_o), rtol=1e-10, atol=1e-12)
    # and plain k3 differs from it off-policy (the correction is not a no-op)
    plain = grpo_loss(batch.logp, batch.old_logp, batch.rewards, batch.mask, ref_logp=batch.ref_logp, **TRL,
                      clip_low=0.2, clip_high=0.28, level=level, beta=0.04, kl_kind="k3", **agg)
    if float(((batch.logp - batch.old_logp).abs() * batch.mask).max()) > 1e-3:
        assert float(plain.loss) != float(ours.loss.detach())


# -------------------------------------------------------------------------------------------- verl


def _actor_config(clip_low=0.2, clip_high=0.2, tau_pos=1.0, tau_neg=1.05, mode="token-mean"):
    return ActorConfig(strategy="fsdp", rollout_n=2, ppo_micro_batch_size_per_gpu=1, clip_ratio=clip_low,
                       clip_ratio_low=clip_low, clip_ratio_high=clip_high, tau_pos=tau_pos, tau_neg=tau_neg,
                       loss_agg_mode=mode)


def _verl(name, batch, logp, adv, mode, cfg):
    adv_tok = adv.unsqueeze(-1).expand(batch.shape) * batch.mask  # verl broadcasts A over the response
    fn = core_algos.get_policy_loss_fn(name)
    return fn(_flat(batch.old_logp), _flat(logp), _flat(adv_tok), _flat(batch.mask), loss_agg_mode=mode,
              config=cfg)


VERL_MODES = st.sampled_from(["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "token-sum"])


def _tol(mode):
    # verl's seq-mean-token-mean divides each sequence by n + 1e-8: every term is off by up to 1e-8
    # relative, which is an absolute ~1e-8 x |term| where sequences cancel
    return {"rtol": 2e-8, "atol": 5e-8} if mode == "seq-mean-token-mean" else {"rtol": 1e-12, "atol": 1e-12}


@given(batch=token_batches(spread=(0.0, 0.5)), mode=VERL_MODES,
       clip=st.sampled_from([(3e-4, 4e-4), (0.2, 0.28), (0.01, 0.01)]))
def test_verl_gspo_equals_gspo_loss(batch, mode, clip):
    assume(float(batch.mask.sum()) > 0)
    adv = group_advantages(batch.rewards, **VERL)
    lp_v = batch.logp.clone().requires_grad_()
    theirs, metrics = _verl("gspo", batch, lp_v, adv, mode, _actor_config(*clip, mode=mode))
    lp_o = batch.logp.clone().requires_grad_()
    ours = gspo_loss(lp_o, batch.old_logp, batch.rewards, batch.mask, **VERL, clip_low=clip[0],
                     clip_high=clip[1], log_ratio_max=10.0, loss_agg_mode=mode, empty_rows="skip")
    torch.testing.assert_close(theirs, ours.loss, **_tol(mode))
    torch.testing.assert_close(_grad(theirs, lp_v), _grad(ours.loss, lp_o), **_tol(mode))
    assert metrics["actor/pg_clipfrac"] == pytest.approx(ours.metrics["clip_frac"], rel=1e-7, abs=1e-12)


@given(batch=token_batches(spread=(0.0, 1.0)), clip=st.sampled_from([(0.4, 0.4), (0.2, 0.2), (0.1, 0.3)]))
def test_verl_geo_mean_equals_gmpo_loss(batch, clip):
    adv = group_advantages(batch.rewards, **VERL)
    lp_v = batch.logp.clone().requires_grad_()
    theirs, metrics = _verl("geo_mean", batch, lp_v, adv, "token-mean", _actor_config(*clip))
    lp_o = batch.logp.clone().requires_grad_()
    ours = gmpo_loss(lp_o, batch.old_logp, batch.rewards, batch.mask, **VERL, clip_low=clip[0],
                     clip_high=clip[1], empty_rows="count")
    # verl's token means divide by n + 1e-8 (in the exponent and in the advantage): each sequence term is
    # off by up to 1e-8 |A| relative, which survives as an absolute 1e-8 |A| where terms cancel
    torch.testing.assert_close(theirs, ours.loss, rtol=5e-8, atol=5e-8)
    torch.testing.assert_close(_grad(theirs, lp_v), _grad(ours.loss, lp_o), rtol=5e-8, atol=5e-8)
    assert metrics["actor/pg_clipfrac"] == pytest.approx(ours.metrics["clip_frac_high"], rel=1e-7, abs=1e-12)
    assert metrics["actor/pg_clipfrac_lower"] == pytest.approx(ours.metrics["clip_frac_low"], rel=1e-7,
                                                               abs=1e-12)


@given(batch=token_batches(spread=(0.0, 1.5)), mode=VERL_MODES,
       clip=st.sampled_from([(0.2, 0.2), (0.2, 0.28)]))
def test_verl_cispo_equals_two_sided_cispo_loss(batch, mode, clip):
    assume(float(batch.mask.sum()) > 0)
    adv = group_advantages(batch.rewards, **VERL)
    lp_v = batch.logp.clone().requires_grad_()
    theirs, metrics = _verl("cispo", batch, lp_v, adv, mode, _actor_config(*clip, mode=mode))
    lp_o = batch.logp.clone().requires_grad_()
    ours = cispo_loss(lp_o, batch.old_logp, batch.rewards, batch.mask, **VERL, ratio_min=1 - clip[0],
                      ratio_max=1 + clip[1], log_ratio_clamp=20.0, loss_agg_mode=mode, empty_rows="skip")
    torch.testing.assert_close(theirs, ours.loss, **_tol(mode))
    torch.testing.assert_close(_grad(theirs, lp_v), _grad(ours.loss, lp_o), **_tol(mode))
    assert metrics["actor/pg_clipfrac"] == pytest.approx(ours.metrics["clip_frac"], rel=1e-7, abs=1e-12)


@given(batch=token_batches(spread=(0.0, 1.5)), taus=st.sampled_from([(1.0, 1.05), (0.5, 2.0)]))
def test_verl_sapo_equals_sapo_loss(batch, taus):
    assume(float(batch.mask.sum()) > 0)
    adv = group_advantages(batch.rewards, **VERL)
    lp_v = batch.logp.clone().requires_grad_()
    # verl ignores the mode it is given and always aggregates seq-mean-token-mean, skipping empty rows
    theirs, _ = _verl("sapo", batch, lp_v, adv, "token-mean", _actor_config(tau_pos=taus[0], tau_neg=taus[1]))
    lp_o = batch.logp.clone().requires_grad_()
    ours = sapo_loss(lp_o, batch.old_logp, batch.rewards, batch.mask, **VERL, tau_pos=taus[0],
                     tau_neg=taus[1], log_ratio_clamp=20.0, loss_agg_mode="seq-mean-token-mean",
                     empty_rows="skip")
    torch.testing.assert_close(theirs, ours.loss, **_tol("seq-mean-token-mean"))
    torch.testing.assert_close(_grad(theirs, lp_v), _grad(ours.loss, lp_o), **_tol("seq-mean-token-mean"))


@given(batch=token_batches(empty_rows=False, P=(1, 4)))
def test_prompt_mean_token_mean_is_the_mean_of_verl_token_means_per_prompt(batch):
    x = batch.logp.clone().requires_grad_()
    theirs = torch.stack([core_algos.agg_loss(_flat(x[p]), _flat(batch.mask[p]), "token-mean")
                          for p in range(batch.shape[0])]).mean()
    ours = aggregate(x, batch.mask, "prompt-mean-token-mean")
    torch.testing.assert_close(theirs, ours, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(_grad(theirs, x), _grad(ours, x), rtol=1e-12, atol=1e-12)


def test_verl_token_mean_is_batch_wide_and_differs_when_lengths_differ():
    # Prompt 1 has 4 valid tokens (loss 1 each), prompt 2 has 1 (loss 3): per prompt (1 + 3)/2 = 2,
    # batch-wide (4 + 3)/5 = 1.4.
    x = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[3.0, 0.0], [0.0, 0.0]]], dtype=F64)
    m = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]], dtype=F64)
    verl_batch = float(core_algos.agg_loss(_flat(x), _flat(m), "token-mean"))
    assert math.isclose(verl_batch, 1.4, rel_tol=1e-15)
    assert float(aggregate(x, m, "prompt-mean-token-mean")) == 2.0
    assert float(aggregate(x, m, "token-mean")) == verl_batch
