"""grpo_theory.integrations.verl through verl 0.9.1's own lookups, against verl's native grpo / vanilla.

Registration is checked in a fresh interpreter that loads the plugin the way verl workers do
(``VERL_USE_EXTERNAL_MODULES``). Values are compared where the conventions agree: our ``grpo_theory_verl``
estimator = verl ``grpo`` on untied groups (float64: 1e-12; float32 scores: 1e-6), our ``grpo_theory``
loss = ``vanilla`` (dual clip 3, log-ratio clamp 20) for every aggregation mode, with and without the
trainer's ``global_batch_info``, to 1e-12 in float64 (``seq-mean-token-mean``: 2e-8 relative / 5e-8 absolute,
verl adds 1e-8 to each row's token count).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

pytest.importorskip("verl")
from strategies import reward_groups, token_batches
from verl import DataProto
from verl.trainer.ppo import core_algos
from verl.trainer.ppo.ray_trainer import compute_advantage
from verl.workers.config import ActorConfig

import grpo_theory.integrations.verl as plugin
from grpo_theory.losses import ADVANTAGE_PRESETS, group_advantages, rloo_advantages

pytestmark = pytest.mark.crosscheck
F64 = torch.float64


def test_plugin_loads_through_verl_use_external_modules():
    code = ("import verl\nfrom verl.trainer.ppo import core_algos as c\n"
            "print(sorted(k for k in c.ADV_ESTIMATOR_REGISTRY"
            " if k == 'two_grpo' or k.startswith('grpo_theory')))\n"
            "print(c.get_policy_loss_fn('grpo_theory').__module__)\n")
    env = {**os.environ, "VERL_USE_EXTERNAL_MODULES": "grpo_theory.integrations.verl", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    names, module = out.stdout.strip().splitlines()[-2:]
    assert ast.literal_eval(names) == sorted(plugin.ADV_ESTIMATORS)
    assert module == "grpo_theory.integrations.verl"
    assert set(plugin.ADV_ESTIMATORS) >= {"two_grpo", *(f"grpo_theory_{p}" for p in ADVANTAGE_PRESETS)}


def _data(rewards, T=3, dtype=F64, shuffle_seed=None):
    """[P, G] rewards -> a verl DataProto (scores on token 0, uid per prompt), rows optionally shuffled."""
    P, G = rewards.shape
    tlr = torch.zeros(P * G, T, dtype=dtype)
    tlr[:, 0] = rewards.reshape(-1).to(dtype)
    uid = np.array([f"p{i}" for i in range(P) for _ in range(G)], dtype=object)
    order = np.arange(P * G)
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(P * G)
    data = DataProto.from_dict(tensors={"token_level_rewards": tlr[order],
                                        "response_mask": torch.ones(P * G, T, dtype=dtype)},
                               non_tensors={"uid": uid[order]})
    return data, order


def _untied(rewards):
    return bool(((rewards.amax(1) - rewards.amin(1)) > 1e-3).all())


@given(rewards=reward_groups(G=(2, 8), kinds=("binary", "continuous", "integer")), seed=st.integers(0, 2**16))
def test_compute_advantage_with_our_verl_preset_equals_native_grpo(rewards, seed):
    assume(_untied(rewards))  # verl's ties are float residues (see the tie tests), ours exactly 0
    d1, order = _data(rewards, shuffle_seed=seed)
    d2, _ = _data(rewards, shuffle_seed=seed)
    ours = compute_advantage(d1, adv_estimator="grpo_theory_verl").batch["advantages"]
    theirs = compute_advantage(d2, adv_estimator="grpo").batch["advantages"]
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    expected = group_advantages(rewards, **ADVANTAGE_PRESETS["verl"]).reshape(-1)[order]
    # shuffled rows reach the group table in another order, so sums round differently (1 ulp)
    torch.testing.assert_close(ours[:, 0], expected, rtol=1e-15, atol=1e-15)


@given(rewards=reward_groups(G=(2, 8), kinds=("binary", "integer")))
def test_float32_scores_agree_with_native_grpo_to_float32(rewards):
    assume(_untied(rewards))
    d1, _ = _data(rewards, dtype=torch.float32)
    d2, _ = _data(rewards, dtype=torch.float32)
    ours = compute_advantage(d1, adv_estimator="grpo_theory_verl").batch["advantages"]
    theirs = compute_advantage(d2, adv_estimator="grpo").batch["advantages"]
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


@given(rewards=reward_groups(G=(2, 6)))
def test_every_preset_and_rloo_through_get_adv_estimator_fn(rewards):
    tlr = torch.zeros(rewards.numel(), 2, dtype=F64)
    tlr[:, 1] = rewards.reshape(-1)  # verl sums the token-level rewards: any token may carry the score
    mask = torch.ones_like(tlr)
    index = np.repeat(np.arange(rewards.shape[0]), rewards.shape[1])
    for preset, kw in ADVANTAGE_PRESETS.items():
        adv, ret = core_algos.get_adv_estimator_fn(f"grpo_theory_{preset}")(
            token_level_rewards=tlr, response_mask=mask, index=index, config=None)
        torch.testing.assert_close(adv[:, 0], group_advantages(rewards, **kw).reshape(-1), rtol=0, atol=0)
        assert torch.equal(adv, ret)
    adv, _ = core_algos.get_adv_estimator_fn("grpo_theory_rloo")(token_level_rewards=tlr, response_mask=mask,
                                                                  index=index)
    torch.testing.assert_close(adv[:, 0], rloo_advantages(rewards).reshape(-1), rtol=0, atol=0)
    theirs, _ = core_algos.compute_rloo_outcome_advantage(tlr, mask, index)
    torch.testing.assert_close(adv, theirs, rtol=1e-9, atol=1e-9)


def test_two_grpo_is_plus_minus_one_zero_on_ties_and_needs_pairs():
    rewards = torch.tensor([[1.0, 0.0], [0.3, 0.3], [0.2, 0.9]], dtype=F64)
    d, _ = _data(rewards)
    adv = compute_advantage(d, adv_estimator="two_grpo").batch["advantages"][:, 0]
    assert adv.tolist() == [1.0, -1.0, 0.0, 0.0, -1.0, 1.0]
    native = compute_advantage(_data(rewards)[0], adv_estimator="grpo").batch["advantages"][:, 0]
    torch.testing.assert_close(native[[0, 1, 4, 5]], adv[[0, 1, 4, 5]] / (2**0.5 + 2e-6), rtol=1e-6, atol=0)
    d3, _ = _data(torch.tensor([[1.0, 0.0, 0.0]], dtype=F64))
    with pytest.raises(ValueError,
                       match=r"needs exactly 2 responses per uid \(actor_rollout_ref.rollout.n=2\)"):
        compute_advantage(d3, adv_estimator="two_grpo")


def test_unequal_groups_are_masked_and_singletons_get_zero():
    tlr = torch.tensor([[1.0], [0.0], [0.5], [2.0], [0.0], [1.0]], dtype=F64)
    index = np.array(["a", "a", "a", "b", "c", "c"], dtype=object)
    adv, _ = core_algos.get_adv_estimator_fn("grpo_theory_paper")(tlr, torch.ones_like(tlr), index)
    a = group_advantages(torch.tensor([[1.0, 0.0, 0.5]], dtype=F64))[0]
    assert adv[:, 0].tolist() == [*a.tolist(), 0.0, -1.0, 1.0]
    native, _ = core_algos.compute_grpo_outcome_advantage(tlr, torch.ones_like(tlr), index)
    assert float(native[3, 0]) == pytest.approx(2.0 / (1 + 1e-6))  # verl: a group of one keeps A = r/(1+eps)


def test_std_scaled_preset_refuses_norm_adv_by_std_false():
    tlr = torch.tensor([[1.0], [0.0]], dtype=F64)
    with pytest.raises(ValueError, match="norm_adv_by_std_in_grpo=False conflicts"):
        core_algos.get_adv_estimator_fn("grpo_theory_verl")(tlr, torch.ones_like(tlr), np.array(["a", "a"]),
                                                             config={"norm_adv_by_std_in_grpo": False})
    adv, _ = core_algos.get_adv_estimator_fn("grpo_theory_dr_grpo")(
        tlr, torch.ones_like(tlr), np.array(["a", "a"]), config={"norm_adv_by_std_in_grpo": False})
    assert adv[:, 0].tolist() == [0.5, -0.5]


@pytest.mark.parametrize("value, G", [(0.98, 15), (0.97, 8), (0.1, 2)])
def test_tied_float32_group_native_residue_ours_exactly_zero(value, G):
    # verl's grpo works in the scores' dtype; in float32 a tied group keeps a rounding residue / (0 + 1e-6).
    rewards = torch.full((1, G), value, dtype=torch.float32)
    ours = compute_advantage(_data(rewards, dtype=torch.float32)[0], adv_estimator="grpo_theory_verl")
    native = compute_advantage(_data(rewards, dtype=torch.float32)[0], adv_estimator="grpo")
    assert torch.equal(ours.batch["advantages"], torch.zeros_like(ours.batch["advantages"]))
    if (value, G) == (0.98, 15):
        # the largest on the grid of grpo_theory/losses/README.md
        assert float(native.batch["advantages"].abs().max()) > 0.19


# --- policy loss -------------------------------------------------------------------------------------------


def _actor_config(clip, info):
    cfg = ActorConfig(strategy="fsdp", rollout_n=2, ppo_mini_batch_size=4, ppo_micro_batch_size_per_gpu=2,
                      clip_ratio_low=clip[0], clip_ratio_high=clip[1], use_torch_compile=False)
    cfg.global_batch_info.update(info)
    return cfg


MODES = ["token-mean", "token-sum", "seq-mean-token-sum", "seq-mean-token-sum-norm", "seq-mean-token-mean"]


@given(batch=token_batches(spread=(0.0, 2.0), empty_rows=True), mode=st.sampled_from(MODES),
       clip=st.sampled_from([(0.2, 0.2), (0.2, 0.28)]), trainer_info=st.booleans(),
       dp=st.sampled_from([1, 2]))
def test_our_policy_loss_equals_vanilla_through_get_policy_loss_fn(batch, mode, clip, trainer_info, dp):
    assume(float(batch.mask.sum()) > 0)
    rows = batch.mask.shape[0] * batch.mask.shape[1]
    flat = lambda x: x.reshape(rows, -1)  # noqa: E731
    info = {}
    if trainer_info or dp > 1:  # what verl's worker sets: global counts (here: this batch x dp ranks)
        info = {"dp_size": dp, "batch_num_tokens": int(batch.mask.sum()) * dp, "global_batch_size": rows * dp,
                "loss_scale_factor": 7 if mode == "seq-mean-token-sum-norm" else None}
    cfg = _actor_config(clip, info)
    adv = group_advantages(batch.rewards, **ADVANTAGE_PRESETS["verl"])
    adv_tok = flat(adv.unsqueeze(-1).expand(batch.shape) * batch.mask)
    out = {}
    for name in ("vanilla", "grpo_theory"):
        x = flat(batch.logp).clone().requires_grad_()
        loss, metrics = core_algos.get_policy_loss_fn(name)(
            old_log_prob=flat(batch.old_logp), log_prob=x, advantages=adv_tok,
            response_mask=flat(batch.mask).bool(), loss_agg_mode=mode, config=cfg, rollout_is_weights=None)
        (g,) = torch.autograd.grad(loss, x)
        out[name] = (loss, g, metrics)
    tol = {"rtol": 2e-8, "atol": 5e-8} if mode == "seq-mean-token-mean" else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(out["grpo_theory"][0], out["vanilla"][0], **tol)
    torch.testing.assert_close(out["grpo_theory"][1], out["vanilla"][1], **tol)
    for key in ("actor/pg_clipfrac", "actor/pg_clipfrac_lower", "actor/ppo_kl"):
        assert out["grpo_theory"][2][key] == pytest.approx(out["vanilla"][2][key], rel=1e-7, abs=1e-12)


# --- the documented command-line overrides --------------------------------------------------------------


@pytest.mark.parametrize("which", ["two_grpo", "sixteen_grpo"])
def test_recipe_overrides_compose_with_verls_own_config(which):
    from pathlib import Path

    import verl
    from hydra import compose, initialize_config_dir

    from grpo_theory.integrations import recipes

    recipe = recipes.two_grpo(8e-6) if which == "two_grpo" else recipes.sixteen_grpo(1e-6)
    overrides = recipes.verl_overrides(recipe)
    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=overrides)  # an unknown key raises here
    actor = cfg.actor_rollout_ref.actor
    assert cfg.algorithm.adv_estimator == ("two_grpo" if which == "two_grpo" else "grpo_theory_verl")
    assert cfg.actor_rollout_ref.rollout.n * actor.ppo_mini_batch_size == 512  # equal rollouts per step
    assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.optim.lr_warmup_steps) == (0.2, 0.28, 10)
    assert actor.policy_loss.loss_mode == "grpo_theory" and cfg.trainer.total_epochs == 10
    core_algos.get_adv_estimator_fn(cfg.algorithm.adv_estimator)  # both names resolve in verl's registry
    core_algos.get_policy_loss_fn(actor.policy_loss.loss_mode)


def test_the_documented_verl_command_line_composes():
    """examples/engines.md's verl command: every override is a key of verl's config, values as the recipe."""
    from pathlib import Path

    import verl
    from hydra import compose, initialize_config_dir

    from grpo_theory.integrations import recipes

    doc = (Path(__file__).resolve().parents[2] / "examples" / "engines.md").read_text()
    block = doc.split("```bash\n", 1)[1].split("```", 1)[0]
    overrides = [t for t in block.replace("\\\n", " ").split() if "=" in t and not t.startswith("VERL_")]
    assert overrides[:15] == recipes.verl_overrides(recipes.two_grpo(8e-6, generation_prompts=512))
    with initialize_config_dir(config_dir=str(Path(verl.__file__).parent / "trainer" / "config"),
                               version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=overrides)
    assert cfg.actor_rollout_ref.model.path == "Qwen/Qwen2.5-Math-1.5B"
