r"""R4 on a real model: the 2-GRPO gradient and the DPO gradient of the same pairs.

Take P pairs :math:`(o^+_i, o^-_i)` of one prompt each (one correct, one incorrect rollout),
:math:`v_i = \nabla\log\pi(o^+_i) - \nabla\log\pi(o^-_i)` (sequence log-probs, sums over tokens) and
the DPO reference :math:`\pi_{\rm ref}` = a frozen copy of the start policy. On-policy (ratio 1, no
clipping active), without KL, with population-std advantages (:math:`A^\pm=\pm1`):

.. math::

    -\nabla\mathcal L_{\rm DPO} = \frac{\beta}{P}\sum_i \sigma(\Delta_i)\,v_i ,\qquad
    \Delta_i = \beta\big[(\log\pi-\log\pi_{\rm ref})(o^-_i) - (\log\pi-\log\pi_{\rm ref})(o^+_i)\big],

and, by aggregation mode of the 2-GRPO loss (S = 2P sequences, N tokens in all, C the padded width),
:math:`-\nabla\mathcal L_{\rm 2\text{-}GRPO}` and its ratio to the DPO gradient at π = π_ref:

* ``seq-mean-token-mean``: :math:`\frac1{2P}\sum_i(\nabla^+_i/L^+_i - \nabla^-_i/L^-_i)`, ratio
  :math:`1/(\beta L)` iff all lengths equal L;
* ``seq-mean-token-sum``: :math:`\frac1{2P}\sum_i v_i`, ratio :math:`1/\beta`;
* ``seq-mean-token-sum-norm``: :math:`\frac1{2PC}\sum_i v_i`, ratio :math:`1/(\beta C)`;
* ``token-mean``: :math:`\frac1{N}\sum_i v_i`, ratio :math:`2P/(\beta N)` (any lengths);
* ``token-sum``: :math:`\sum_i v_i`, ratio :math:`2P/\beta`.

At :math:`\pi=\pi_{\rm ref}` every :math:`\sigma(\Delta_i)=\tfrac12`, so the gradients are parallel.
Away from it they are parallel pair by pair (one pair, seq-mean-token-mean, equal lengths:
ratio :math:`1/(2L\beta\sigma(\Delta_i))`) but the batch sums weight the pairs differently
(constant vs :math:`\sigma(\Delta_i)`), so the batch cosine drops below 1. Note that global
``token-mean`` keeps the direction for unequal lengths (its 1/N is one constant per batch); it is
*per-sequence* length normalization (``seq-mean-token-mean``) with unequal lengths that breaks it,
and DPO on length-normalized log-probs restores it (ratio :math:`1/\beta`).

The experiment: sample pairs at the start policy, measure all of the above at π = π_ref (with the
real, nearly equal answer lengths, and with the masks randomly truncated to make lengths unequal),
then train with 2-GRPO (the project's trainer) and re-measure on the same pairs after k steps.
Every gradient is autograd through :func:`grpo_theory.losses.two_grpo_loss` and
:func:`grpo_theory.losses.online_dpo_loss` / :func:`grpo_theory.losses.dpo_loss`.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import torch

from grpo_theory.configfields import option
from grpo_theory.llm.tasks import TASKS
from grpo_theory.realcheck._common import (
    cosine,
    env_snapshot,
    load,
    out_dir,
    train_in_steps,
    trainable_params,
    write_csv,
    write_json,
)
from grpo_theory.realcheck.config import CheckConfig
from grpo_theory.realcheck.mixed_pairs import (
    REWARDS,
    LastNumberReward,
    Pairs,
    dpo_grad,
    grpo_grad,
    margins,
    pair_logps,
    sample_pairs,
    truncate_mask,
)
from grpo_theory.vocab import AGG_MODES

Tensor = torch.Tensor
NAME = "gradient_equivalence"



@dataclass(frozen=True)
class GradEquivConfig(CheckConfig):
    """R4 experiment configuration."""

    task: str = option("addition", "Task that labels the pairs (reward 1 / 0)",
                       choices=tuple(TASKS))
    n_digits: int = option(0, "Digits per operand for the addition task (0 = the task default, 3)", minimum=0)
    reward: str = option("exact", "'exact' (the task's exact-match reward) or 'last_number' (1 iff the last "
                         "integer in the completion equals the target: a lenient verifier for chat models "
                         "that answer in prose)")
    prompt_template: str = option("", "If set, addition prompts are rewritten as "
                                  "prompt_template.format(a=..., b=...) (e.g. a question for a chat model); "
                                  "empty = the task's own prompt.")
    temperature: float = option(1.0, "Sampling temperature of the pairs (the identity is about gradients at "
                                "given pairs, so any sampler works; chat models answer sensibly only below "
                                "1)", above=0)
    n_pairs: int = option(32, "Mixed pairs (one correct, one incorrect rollout of the same prompt)",
                          minimum=1)
    betas: tuple[float, ...] = option((0.1, 1.0), "DPO inverse temperatures to compare with", above=0)
    modes: tuple[str, ...] = option(AGG_MODES, "2-GRPO aggregation modes measured at π = π_ref",
                                    choices=AGG_MODES)
    dtype: str = option("float64", "Weights dtype ('float64' or 'float32')")
    steps: tuple[int, ...] = option((0, 1, 2, 4, 8, 16, 32, 64), "Optimizer steps of 2-GRPO training after "
                                    "which the pairs are re-measured (0 = at π_ref)", minimum=0)
    train_prompts: int = option(64, "Prompts per 2-GRPO optimizer step of the drift (128 rollouts)",
                                minimum=1)
    train_lr: float = option(1e-4, "AdamW learning rate of the drift (small, so that π leaves π_ref "
                             "gradually: at 1e-3 one step already moves the answer tokens' log-probs by "
                             "about 1.6 nats each)", above=0)
    train_agg: str = option("token-mean", "Aggregation of the drift's 2-GRPO loss")
    max_prompts: int = option(4096, "Give up if this many prompts do not yield n_pairs mixed pairs",
                              minimum=1)
    max_new_tokens: int = option(0, "Completion cap; 0 = the task's own", minimum=0)
    truncation_seed: int = option(1, "Seed of the random truncation that makes lengths unequal", minimum=0)

    def __post_init__(self) -> None:
        chat_setup = self.n_digits or self.reward != "exact" or self.prompt_template
        if max(self.steps, default=0) > 0 and chat_setup:
            raise ValueError("the drift trains with the trainer's task, prompts and reward: use n_digits=0, "
                             "reward='exact' and no prompt_template, or steps=(0,)")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")


#: Reduced settings for SmolLM2-135M-Instruct on 2 CPU cores: 1-digit sums asked as a question (the raw
#: "3+5=" prompt at temperature 1 gives prose with ~0% accuracy), sampled at temperature 0.7, the lenient
#: last-number verifier, float32, 8 pairs, no drift.
SMOLLM2_OVERRIDES: dict[str, Any] = {
    "n_pairs": 8, "n_digits": 1, "reward": "last_number", "dtype": "float32", "steps": (0,),
    "prompt_template": "What is {a} + {b}? Reply with the number only.", "temperature": 0.7,
    "max_new_tokens": 16, "max_prompts": 100,
}


# ---------------------------------------------------------------------------------------------- pairs


def make_labelled_task(cfg: GradEquivConfig):
    """The task of ``cfg`` (with ``n_digits``) and its reward (``cfg.reward``)."""
    from grpo_theory.llm.tasks import make_task

    if cfg.reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {cfg.reward!r}")
    task = make_task(cfg.task, **({"n_digits": cfg.n_digits} if cfg.n_digits else {}))
    return task, (task if cfg.reward == "exact" else LastNumberReward(task))


# ---------------------------------------------------------------------------------------------- ratios


def predicted_batch_ratio(mode: str, beta: float, lengths: Tensor, horizon: int, dpo_logps: str = "summed",
                          sigma: float | None = None) -> float | None:
    """‖∇L_2GRPO‖/‖∇L_DPO‖ for ``lengths`` ``[P, 2]`` (π = π_ref unless ``sigma`` = σ(Δ) is given); None
    where the gradients are not parallel. The constant is
    :func:`grpo_theory.theory.dpo_link.two_grpo_dpo_factor`."""
    from grpo_theory.theory import dpo_link

    k = dpo_link.two_grpo_dpo_factor(mode, beta, lengths.tolist(), horizon=horizon, dpo_logps=dpo_logps,
                                     sigma=sigma)
    return None if k is None else float(k)


def batch_comparison(policy, ref_model, pairs: Pairs, cfg: GradEquivConfig, mask: Tensor, *,
                     modes: tuple[str, ...], label: str) -> list[dict[str, Any]]:
    """One row per (mode, beta): cosine and norm ratio of the batch gradients, and the prediction at π_ref."""
    params = trainable_params(policy.model)
    logp, ref = pair_logps(policy, ref_model, pairs.rollouts)
    lengths = mask.sum(-1)
    horizon = mask.shape[-1]
    rows = []
    # beta-outer so that at most three flat gradients are alive at once (they are large for big models)
    for b in cfg.betas:
        g_dpo = dpo_grad(logp, ref, pairs.rewards, mask, b, params)
        g_dpo_ln = dpo_grad(logp, ref, pairs.rewards, mask, b, params, length_normalize=True)
        for mode in modes:
            g = grpo_grad(logp, pairs.rewards, mask, mode, params)
            for dpo_kind, gd in (("summed", g_dpo), ("length-normalized", g_dpo_ln)):
                if dpo_kind == "length-normalized" and mode != "seq-mean-token-mean":
                    continue
                ratio = float(g.norm() / gd.norm())
                pred = predicted_batch_ratio(mode, b, lengths, horizon, dpo_kind)
                cos = cosine(g, gd)
                rows.append({
                    "condition": label, "mode": mode, "beta": b, "dpo_logps": dpo_kind,
                    "cosine": cos, "one_minus_cosine": 1.0 - cos,
                    "norm_ratio": ratio, "predicted_ratio": pred,
                    "ratio_rel_err": None if pred is None else abs(ratio / pred - 1.0),
                    "lengths_equal": bool(len(lengths.unique()) == 1),
                    "mean_length": float(lengths.float().mean()),
                })
            del g
        del g_dpo, g_dpo_ln
    return rows


def pair_comparison(policy, ref_model, pairs: Pairs, cfg: GradEquivConfig,
                    k: int) -> tuple[list[dict], list[dict]]:
    """Per pair: 2-GRPO vs DPO gradient of that pair alone, vs 1/(2Lβσ(Δ_i)); and the batch comparison.

    Returns (per-pair rows, per-(beta, mode) batch rows) at the policy's current weights.
    """
    params = trainable_params(policy.model)
    mask = pairs.mask
    logp_all, ref_all = pair_logps(policy, ref_model, pairs.rollouts)
    rows = []
    P = pairs.rewards.shape[0]
    for i in range(P):
        sub = pairs.rollouts.select([2 * i, 2 * i + 1])
        logp, ref = pair_logps(policy, ref_model, sub)
        m, rw = mask[i:i + 1], pairs.rewards[i:i + 1]
        L = m.sum(-1)[0]
        g_mean = grpo_grad(logp, rw, m, "seq-mean-token-mean", params)
        g_sum = grpo_grad(logp, rw, m, "seq-mean-token-sum", params)
        for b in cfg.betas:
            gd = dpo_grad(logp, ref, rw, m, b, params)
            sig = float(torch.sigmoid(margins(logp, ref, rw, m, b))[0])
            eq = bool(L[0] == L[1])
            # None for unequal lengths (no constant)
            pred_mean = predicted_batch_ratio("seq-mean-token-mean", b, L.view(1, 2), 0, sigma=sig)
            pred_sum = predicted_batch_ratio("seq-mean-token-sum", b, L.view(1, 2), 0, sigma=sig)
            assert pred_sum is not None  # seq-mean-token-sum has a constant for any lengths
            r_mean, r_sum = float(g_mean.norm() / gd.norm()), float(g_sum.norm() / gd.norm())
            rows.append({
                "k": k, "pair": i, "beta": b, "sigma_delta": sig, "len_pos_neg_equal": eq,
                "length": float(L.max()),
                "cosine_seq_mean_token_mean": cosine(g_mean, gd), "ratio_seq_mean_token_mean": r_mean,
                "predicted_seq_mean_token_mean": pred_mean,
                "rel_err_seq_mean_token_mean": None if pred_mean is None else abs(r_mean / pred_mean - 1),
                "cosine_seq_mean_token_sum": cosine(g_sum, gd), "ratio_seq_mean_token_sum": r_sum,
                "predicted_seq_mean_token_sum": pred_sum,
                "rel_err_seq_mean_token_sum": abs(r_sum / pred_sum - 1),
            })
    batch = []
    for mode in ("seq-mean-token-mean", "seq-mean-token-sum"):
        g = grpo_grad(logp_all, pairs.rewards, mask, mode, params)
        for b in cfg.betas:
            gd = dpo_grad(logp_all, ref_all, pairs.rewards, mask, b, params)
            sigs = torch.sigmoid(margins(logp_all, ref_all, pairs.rewards, mask, b))
            batch.append({
                "k": k, "mode": mode, "beta": b, "batch_cosine": cosine(g, gd),
                "batch_norm_ratio": float(g.norm() / gd.norm()),
                "sigma_min": float(sigs.min()), "sigma_max": float(sigs.max()), "sigma_sd": float(sigs.std()),
                "mean_abs_logratio_per_token": float(((logp_all.detach() - ref_all).abs() * mask).sum()
                                                     / mask.sum()),
            })
    return rows, batch


# ---------------------------------------------------------------------------------------------- run


def _train_config(cfg: GradEquivConfig, tmp: str):
    from grpo_theory.llm.config import TrainConfig

    n = max(cfg.steps)
    return TrainConfig(
        policy=cfg.model, task=cfg.task, name="2-GRPO drift", loss="two_grpo", group_size=2,
        prompts_per_step=cfg.train_prompts, train_size=cfg.train_prompts * max(n, 1), epochs=1,
        lr=cfg.train_lr, std_ddof=0, eps=0.0, agg=cfg.train_agg, kl_coef=0.0,
        eval_size=0, eval_at_start=False, seed=cfg.seed, data_seed=cfg.seed, threads=cfg.threads,
        max_new_tokens=cfg.max_new_tokens, out_dir=tmp,
    )


def run_experiment(cfg: GradEquivConfig, *, policy=None, progress: bool = True) -> dict[str, Any]:
    """Run R4 (see the module docstring); returns the result dict (nothing written)."""
    from grpo_theory.llm.tasks import train_problems

    t0 = time.time()
    dtype = {"float64": torch.float64, "float32": torch.float32}[cfg.dtype]
    if policy is None:
        policy = load(cfg.model, dtype=dtype, threads=cfg.threads)
    else:
        policy.model.to(dtype)
    task, labeller = make_labelled_task(cfg)
    if cfg.task == "addition" and cfg.n_digits == 1:  # only 100 problems: take them all
        problems = [task.make(a, b) for a in range(10) for b in range(10)][:cfg.max_prompts]
    else:
        problems = train_problems(task, cfg.max_prompts, seed=10_000 + cfg.seed)
    random.Random(cfg.seed).shuffle(problems)
    if cfg.prompt_template:
        problems = [dataclasses.replace(p, prompt=cfg.prompt_template.format(a=p.numbers[0], b=p.numbers[1]))
                    for p in problems]
    pairs = sample_pairs(policy, labeller, problems, cfg.n_pairs, seed=cfg.seed,
                         max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, progress=progress)
    ref_model = policy.frozen_copy()

    at_ref = batch_comparison(policy, ref_model, pairs, cfg, pairs.mask, modes=cfg.modes,
                              label="sampled lengths")
    trunc = truncate_mask(pairs.mask, cfg.truncation_seed)
    at_ref += batch_comparison(policy, ref_model, pairs, cfg, trunc, modes=cfg.modes,
                               label="truncated (unequal) lengths")

    per_pair: list[dict] = []
    drift: list[dict] = []

    def measure(k: int, pol) -> None:
        rows, batch = pair_comparison(pol, ref_model, pairs, cfg, k)
        per_pair.extend(rows)
        drift.extend(batch)

    with tempfile.TemporaryDirectory(prefix="realcheck-drift-") as tmp:
        train_in_steps(_train_config(cfg, tmp), policy, cfg.steps, measure, progress=progress,
                       desc="R4: k steps of 2-GRPO")
    lengths = pairs.mask.sum(-1)
    summary = _summarize(at_ref, per_pair, drift)
    return {
        "experiment": NAME, "result": "R4", "config": cfg, "env": env_snapshot(),
        "pairs": {"n": pairs.rewards.shape[0], "prompts_tried": pairs.prompts_tried,
                  "lengths": lengths.tolist(), "all_lengths_equal": bool(len(lengths.unique()) == 1),
                  "truncated_lengths": trunc.sum(-1).tolist(), "prompts": [p.prompt for p in pairs.problems]},
        "at_reference": at_ref, "drift": drift, "per_pair": per_pair, "summary": summary,
        "seconds": time.time() - t0,
    }


def _summarize(at_ref: list[dict], per_pair: list[dict], drift: list[dict]) -> dict[str, Any]:
    def worst(rows, key):
        vals = [r[key] for r in rows if r.get(key) is not None]
        return max(vals) if vals else None

    parallel = [r for r in at_ref if r["predicted_ratio"] is not None]
    broken = [r for r in at_ref if r["predicted_ratio"] is None]
    at0 = [r for r in per_pair if r["k"] == 0]
    later = [r for r in per_pair if r["k"] > 0]
    return {
        "at_reference_max_one_minus_cosine_where_predicted_parallel": worst(parallel, "one_minus_cosine"),
        "at_reference_max_ratio_rel_err": worst(parallel, "ratio_rel_err"),
        "at_reference_not_parallel_cases": [
            {k: r[k] for k in ("condition", "mode", "beta", "cosine")} for r in broken],
        "per_pair_max_rel_err_seq_mean_token_sum_k0": worst(at0, "rel_err_seq_mean_token_sum"),
        "per_pair_max_rel_err_seq_mean_token_sum_k_gt_0": worst(later, "rel_err_seq_mean_token_sum"),
        "per_pair_max_rel_err_seq_mean_token_mean_all_k": worst(per_pair, "rel_err_seq_mean_token_mean"),
        "per_pair_min_cosine_seq_mean_token_sum_all_k": min(
            (r["cosine_seq_mean_token_sum"] for r in per_pair), default=None),
        "batch_cosine_by_k": {f"{r['mode']}|beta={r['beta']}|k={r['k']}": r["batch_cosine"] for r in drift},
    }


def verdict(res: dict[str, Any]) -> dict[str, Any]:
    """Pass/fail of each prediction, with the tolerances used (float64: 1e-6 cosine, 1e-5 ratio)."""
    s = res["summary"]
    cfg = res["config"]
    dtype = cfg["dtype"] if isinstance(cfg, dict) else cfg.dtype
    tol_cos, tol_ratio = (1e-6, 1e-5) if dtype == "float64" else (1e-4, 1e-3)
    k_max = max(r["k"] for r in res["drift"])
    final = ([r for r in res["drift"] if r["k"] == k_max and r["mode"] == "seq-mean-token-sum"]
             if k_max else [])
    return {
        "parallel_at_reference": s["at_reference_max_one_minus_cosine_where_predicted_parallel"] < tol_cos,
        "constant_at_reference": s["at_reference_max_ratio_rel_err"] < tol_ratio,
        "per_pair_factor_holds_away_from_reference": None if not k_max
        else s["per_pair_max_rel_err_seq_mean_token_sum_k_gt_0"] < tol_ratio,
        "batch_cosine_at_k_max": {str(r["beta"]): r["batch_cosine"] for r in final} or None,
        "k_max": k_max,
        "tolerances": {"one_minus_cosine": tol_cos, "ratio_rel_err": tol_ratio},
    }


def write(res: dict[str, Any], out: str | None = None) -> list[str]:
    """Write ``result.json``, ``at_reference.csv``, ``drift.csv`` and ``per_pair.csv``; returns the paths."""
    d = out_dir(NAME, out)
    res = dict(res, verdict=verdict(res))
    per_pair = res.pop("per_pair", None)
    paths = [write_json(d / "result.json", res), write_csv(d / "at_reference.csv", res["at_reference"]),
             write_csv(d / "drift.csv", res["drift"])]
    if per_pair is not None:
        paths.append(write_csv(d / "per_pair.csv", per_pair))
    return [str(p) for p in paths]


def run(cfg: GradEquivConfig, *, out: str | None = None, policy=None,
        progress: bool = True) -> dict[str, Any]:
    """Run and write the results; returns the result dict (with its verdict)."""
    res = run_experiment(cfg, policy=policy, progress=progress)
    res["files"] = write(res, out)
    res["verdict"] = verdict(res)
    return res


__all__ = ["GradEquivConfig", "Pairs", "predicted_batch_ratio", "run", "run_experiment", "sample_pairs",
           "truncate_mask", "verdict"]
