r"""R6 on a real model: 2-GRPO and 16-GRPO estimate the same per-prompt direction.

For one prompt q with success probability p and exact sequence score functions
:math:`g_i=\nabla\log\pi(o_i\mid q)`, the G-GRPO gradient of one group (population std, ε = 0,
ratio 1, sequence sums: ``loss_agg_mode="seq-mean-token-sum"``) is
:math:`\hat g_G=\frac1G\sum_i A_i g_i` and

.. math::

    \mathbb E[\hat g_G\mid q] = \lambda_G(p)\,\nabla_\theta p ,\qquad \lambda_2\equiv1 ,

(:func:`grpo_theory.theory.gradient_scale`). So :math:`\mathbb E[\hat g_{16}]` and
:math:`\mathbb E[\hat g_2]` are parallel with norm ratio :math:`\lambda_{16}(p)/\lambda_2(p)`.

Estimator. For each selected prompt (pilot p̂ inside ``p_range``), N rollouts are cut into R blocks
of ``block`` rollouts; in each block the 16-GRPO loss (``block/16`` groups) and the 2-GRPO loss
(``block/2`` pairs) are differentiated with autograd, giving R i.i.d. replicates :math:`a_r`
(G = 2) and :math:`b_r` (G = 16) of the two expected gradients, computed on the same rollouts.
From the Gram matrix of the 2R vectors:

* plain cosine of the block means over the first n blocks, for n = 1, 2, 4, …, R (it rises towards 1
  as noise averages out);
* unbiased (U-statistic) inner products
  :math:`\widehat{\langle\mu_a,\mu_b\rangle}=\frac1{R(R-1)}\sum_{r\ne s}\langle a_r,b_s\rangle` (same for
  :math:`\|\mu_a\|^2,\|\mu_b\|^2`), the debiased cosine, the norm ratio
  :math:`\sqrt{\|\mu_b\|^2/\|\mu_a\|^2}` and the projection ratio
  :math:`\langle\mu_a,\mu_b\rangle/\|\mu_a\|^2`, each against :math:`\lambda_{16}(\hat p)/\lambda_2(\hat p)`
  with :math:`\hat p` the prompt's fraction of correct rollouts;
* 95% confidence intervals by the delete-one-block jackknife: the jackknife bias-corrected estimate
  (``*_bc``: :math:`R\hat\theta-(R-1)\bar\theta_{(\cdot)}`, because a ratio of unbiased estimates is
  biased at second order) ± 1.96 jackknife SE; p̂ is re-estimated in every replicate, so its noise
  is included.

The same statistics are also computed on count-sketch projections (``sketch_dim``) of the same
gradients, to show what the projection used for large models costs.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from grpo_theory.configfields import option
from grpo_theory.losses import grpo_loss, two_grpo_loss
from grpo_theory.realcheck._common import (
    Sketch,
    env_snapshot,
    flat_grad,
    load,
    out_dir,
    trainable_params,
    write_csv,
    write_json,
)
from grpo_theory.realcheck.config import CheckConfig
from grpo_theory.vocab import AGG_ALIASES, ALL_AGG_MODES

Tensor = torch.Tensor
NAME = "direction_invariance"
Z95 = 1.959963984540054


@dataclass(frozen=True)
class DirectionConfig(CheckConfig):
    """R6 experiment configuration."""

    n_prompts: int = option(8, "Prompts with intermediate p to measure", minimum=1)
    p_range: tuple[float, float] = option((0.2, 0.8), "Pilot p̂ must lie in this closed interval",
                                           length=2, minimum=0, maximum=1)
    pilot_samples: int = option(32, "Rollouts per candidate prompt in the pilot", minimum=1)
    max_candidates: int = option(1024, "Give up if this many candidates do not yield n_prompts intermediate "
                                 "prompts", minimum=1)
    rollouts_per_prompt: int = option(2048, "N: rollouts per selected prompt", minimum=16)
    block: int = option(64, "Rollouts per replicate block (a multiple of 16)", minimum=16)
    large_g: int = option(16, "The large group size compared with G = 2", minimum=2)
    agg: str = option("seq-mean-token-sum", "Aggregation (sequence sums = exact score functions, the "
                      "setting of R6)", choices=ALL_AGG_MODES + tuple(AGG_ALIASES))
    exact: bool = option(True, "Keep the full gradients (Gram matrix exact); False = only the sketch (large "
                         "models)")
    sketch_dim: int = option(2048, "Count-sketch size for the projected statistics (0 = none)", minimum=0)
    max_new_tokens: int = option(0, "Completion cap; 0 = the task's own", minimum=0)

    def __post_init__(self) -> None:
        if self.block % self.large_g or self.block % 2:
            raise ValueError(f"block ({self.block}) must be a multiple of large_g ({self.large_g}) and of 2")
        if self.rollouts_per_prompt % self.block or self.rollouts_per_prompt // self.block < 3:
            raise ValueError("rollouts_per_prompt must be a multiple of block with at least 3 blocks")
        if not self.exact and not self.sketch_dim:
            raise ValueError("need exact=True or sketch_dim > 0")


# ---------------------------------------------------------------------------------------------- statistics


def _u_stats(gram: Tensor, ia: list[int], ib: list[int]) -> tuple[float, float, float]:
    """(⟨μa,μb⟩, ‖μa‖², ‖μb‖²) unbiased from replicate indices ``ia``, ``ib`` (same length R ≥ 2, paired)."""
    R = len(ia)
    A, B = torch.tensor(ia), torch.tensor(ib)
    off = ~torch.eye(R, dtype=torch.bool)
    ab = gram[A][:, B][off].sum() / (R * (R - 1))
    aa = gram[A][:, A][off].sum() / (R * (R - 1))
    bb = gram[B][:, B][off].sum() / (R * (R - 1))
    return float(ab), float(aa), float(bb)


def _derived(ab: float, aa: float, bb: float) -> dict[str, float | None]:
    ok = aa > 0 and bb > 0
    return {
        "cosine_debiased": ab / math.sqrt(aa * bb) if ok else None,
        "norm_ratio": math.sqrt(bb / aa) if ok else None,
        "projection_ratio": ab / aa if aa > 0 else None,
    }


def plain_cosine(gram: Tensor, ia: list[int], ib: list[int]) -> float:
    """Cosine of the two block means (biased towards 0 by noise; → the true cosine as blocks grow)."""
    A, B = torch.tensor(ia), torch.tensor(ib)
    ab, aa, bb = gram[A][:, B].sum(), gram[A][:, A].sum(), gram[B][:, B].sum()
    return float(ab / torch.sqrt(aa * bb))


def prompt_statistics(gram: Tensor, rewards_by_block: Tensor, large_g: int) -> dict[str, Any]:
    """All statistics of one prompt from the ``[2R, 2R]`` Gram matrix (a_1..a_R, then b_1..b_R)."""
    from grpo_theory.theory import gradient_scale

    R = rewards_by_block.shape[0]
    ia, ib = list(range(R)), list(range(R, 2 * R))

    def predicted(p: float) -> float:
        return float(gradient_scale(large_g, p) / gradient_scale(2, p))

    p_hat = float(rewards_by_block.mean())
    full = {**_derived(*_u_stats(gram, ia, ib)), "predicted_ratio": predicted(p_hat)}
    # delete-one-block jackknife
    reps: dict[str, list[float]] = {k: [] for k in full}
    for r in range(R):
        keep = [i for i in range(R) if i != r]
        d = {**_derived(*_u_stats(gram, keep, [R + i for i in keep])),
             "predicted_ratio": predicted(float(rewards_by_block[keep].mean()))}
        for k in reps:
            val = d[k]
            if val is not None:
                reps[k].append(val)
    out: dict[str, Any] = {"p_hat": p_hat, "blocks": R}
    for k, est in full.items():
        v = reps[k]
        if est is None or len(v) < R:
            out[k], out[k + "_bc"], out[k + "_se"], out[k + "_ci95"] = est, None, None, None
            continue
        mean_v = sum(v) / R
        se = math.sqrt((R - 1) / R * sum((x - mean_v) ** 2 for x in v))
        bc = R * est - (R - 1) * mean_v  # jackknife bias correction (ratios of U-statistics are biased)
        out[k], out[k + "_bc"], out[k + "_se"], out[k + "_ci95"] = est, bc, se, [bc - Z95 * se, bc + Z95 * se]
    n, curve = 1, []
    while n <= R:
        curve.append({"blocks": n, "rollouts": None, "plain_cosine": plain_cosine(gram, ia[:n], ib[:n])})
        n *= 2
    out["plain_cosine_curve"] = curve
    return out


# ---------------------------------------------------------------------------------------------- sampling


def select_prompts(policy, task, cfg: DirectionConfig, *, progress: bool = True) -> list[tuple[Any, float]]:
    """Candidates (training problems, shuffled) whose pilot p̂ lies in ``cfg.p_range``: [(problem, p̂)]."""
    from grpo_theory.llm.tasks import train_problems

    cands = train_problems(task, cfg.max_candidates, seed=20_000 + cfg.seed)
    random.Random(cfg.seed).shuffle(cands)
    lo, hi = cfg.p_range
    chosen: list[tuple[Any, float]] = []
    step = 64
    bar = tqdm(total=cfg.n_prompts, desc="pilot: prompts with intermediate p", disable=not progress,
               leave=False)
    for s in range(0, len(cands), step):
        chunk = cands[s:s + step]
        r = policy.generate([p.prompt for p in chunk], cfg.pilot_samples, temperature=1.0, top_p=1.0,
                            max_new_tokens=cfg.max_new_tokens or task.max_new_tokens,
                            seed=cfg.seed * 7919 + s, batch_size=1024)
        n = cfg.pilot_samples
        for i, p in enumerate(chunk):
            ph = sum(task.reward(p, t) for t in r.texts[i * n:(i + 1) * n]) / n
            if lo <= ph <= hi and len(chosen) < cfg.n_prompts:
                chosen.append((p, ph))
                bar.update(1)
        if len(chosen) >= cfg.n_prompts:
            break
    bar.close()
    if len(chosen) < cfg.n_prompts:
        raise RuntimeError(f"only {len(chosen)} of {cfg.n_prompts} prompts with pilot p in {cfg.p_range} "
                           f"among {cfg.max_candidates} candidates")
    return chosen


def block_gradients(policy, task, problem, cfg: DirectionConfig, sketch: Sketch | None, seed: int
                    ) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """(exact vectors or [], sketched vectors or [], rewards [R, block]) for one prompt.

    Vectors are ordered a_1..a_R (G = 2) then b_1..b_R (G = large_g); each is minus the gradient of the
    loss, i.e. the ascent direction that estimates E[ĝ_G | q].
    """
    N, B, G = cfg.rollouts_per_prompt, cfg.block, cfg.large_g
    r = policy.generate([problem.prompt], N, temperature=1.0, top_p=1.0,
                        max_new_tokens=cfg.max_new_tokens or task.max_new_tokens, seed=seed, batch_size=512)
    rewards = torch.tensor([task.reward(problem, t) for t in r.texts], dtype=torch.float32)
    params = trainable_params(policy.model)
    exact: dict[int, list[Tensor]] = {2: [], G: []}
    sk: dict[int, list[Tensor]] = {2: [], G: []}
    for s in range(0, N, B):
        sub = r.select(list(range(s, s + B)))
        logp = policy.token_logprobs(sub)
        mask = sub.completion_mask.bool()
        rw = rewards[s:s + B]
        T = logp.shape[1]
        for g, fn in ((2, two_grpo_loss), (G, grpo_loss)):
            loss = fn(logp.view(B // g, g, T), logp.detach().view(B // g, g, T), rw.view(B // g, g),
                      mask.view(B // g, g, T), loss_agg_mode=cfg.agg, std_ddof=0, eps=0.0, beta=0.0).loss
            v = -flat_grad(loss, params, retain_graph=g == 2)
            if cfg.exact:
                exact[g].append(v)
            if sketch is not None:
                sk[g].append(sketch(v))
    return exact[2] + exact[G], sk[2] + sk[G], rewards.view(N // B, B)


def _gram(vectors: list[Tensor]) -> Tensor:
    V = torch.stack(vectors)
    return V @ V.T


# ---------------------------------------------------------------------------------------------- run


def run_experiment(cfg: DirectionConfig, *, policy=None, progress: bool = True) -> dict[str, Any]:
    """Run R6 (see the module docstring); returns the result dict (nothing written)."""
    from grpo_theory.llm.tasks import make_task

    t0 = time.time()
    if policy is None:
        policy = load(cfg.model, threads=cfg.threads)
    task = make_task(cfg.task)
    chosen = select_prompts(policy, task, cfg, progress=progress)
    n_params = sum(p.numel() for p in trainable_params(policy.model))
    sketch = Sketch(n_params, cfg.sketch_dim, seed=cfg.seed) if cfg.sketch_dim else None
    prompts = []
    for j, (prob, pilot) in enumerate(tqdm(chosen, desc="R6 prompts", disable=not progress)):
        ex, sk, rw = block_gradients(policy, task, prob, cfg, sketch, seed=cfg.seed * 1_000_003 + j)
        row: dict[str, Any] = {"prompt": prob.prompt, "pilot_p": pilot}
        if ex:
            row["exact"] = prompt_statistics(_gram(ex), rw, cfg.large_g)
        if sk:
            row["sketch"] = prompt_statistics(_gram(sk), rw, cfg.large_g)
        for c in row.get("exact", row.get("sketch", {})).get("plain_cosine_curve", []):
            c["rollouts"] = c["blocks"] * cfg.block
        prompts.append(row)
        del ex, sk
    return {
        "experiment": NAME, "result": "R6", "config": cfg, "env": env_snapshot(),
        "projection": sketch.describe() if sketch else None, "n_params": n_params,
        "prompts": prompts, "summary": _summarize(prompts), "seconds": time.time() - t0,
    }


def _summarize(prompts: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("exact", "sketch"):
        rows = [p[kind] for p in prompts if kind in p]
        if not rows:
            continue
        cover = [r["norm_ratio_ci95"][0] <= r["predicted_ratio"] <= r["norm_ratio_ci95"][1]
                 for r in rows if r.get("norm_ratio_ci95")]
        cos_cover = [r["cosine_debiased_ci95"][0] <= 1.0 <= r["cosine_debiased_ci95"][1]
                     for r in rows if r.get("cosine_debiased_ci95")]
        rel = [r["norm_ratio_bc"] / r["predicted_ratio"] for r in rows if r.get("norm_ratio_bc")]
        prel = [r["projection_ratio_bc"] / r["predicted_ratio"] for r in rows if r.get("projection_ratio_bc")]
        out[kind] = {
            "prompts": len(rows),
            "norm_ratio_ci_covers_prediction": f"{sum(cover)}/{len(cover)}",
            "cosine_ci_covers_1": f"{sum(cos_cover)}/{len(cos_cover)}",
            "mean_norm_ratio_over_predicted": sum(rel) / len(rel) if rel else None,
            "mean_projection_ratio_over_predicted": sum(prel) / len(prel) if prel else None,
            "mean_cosine_debiased": _mean([r.get("cosine_debiased") for r in rows]),
            "mean_cosine_debiased_bc": _mean([r.get("cosine_debiased_bc") for r in rows]),
            "mean_plain_cosine_by_blocks": _curve_mean(rows),
        }
    return out


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _curve_mean(rows: list[dict]) -> dict[str, float]:
    acc: dict[int, list[float]] = {}
    for r in rows:
        for c in r["plain_cosine_curve"]:
            acc.setdefault(c["blocks"], []).append(c["plain_cosine"])
    return {str(k): sum(v) / len(v) for k, v in sorted(acc.items())}


def write(res: dict[str, Any], out: str | None = None) -> list[str]:
    """Write ``result.json``, ``prompts.csv`` (one row per prompt and kind) and ``cosine_curve.csv``."""
    d = out_dir(NAME, out)
    rows, curve = [], []
    for i, p in enumerate(res["prompts"]):
        for kind in ("exact", "sketch"):
            if kind not in p:
                continue
            s = p[kind]
            rows.append({"prompt_index": i, "prompt": p["prompt"], "kind": kind, "pilot_p": p["pilot_p"],
                         **{k: v for k, v in s.items()
                            if k != "plain_cosine_curve" and not k.endswith("_ci95")},
                         **{f"{k}_lo": v[0] for k, v in s.items() if k.endswith("_ci95") and v},
                         **{f"{k}_hi": v[1] for k, v in s.items() if k.endswith("_ci95") and v}})
            curve += [{"prompt_index": i, "kind": kind, "p_hat": s["p_hat"], **c}
                      for c in s["plain_cosine_curve"]]
    return [str(write_json(d / "result.json", res)), str(write_csv(d / "prompts.csv", rows)),
            str(write_csv(d / "cosine_curve.csv", curve))]


def run(cfg: DirectionConfig, *, out: str | None = None, policy=None,
        progress: bool = True) -> dict[str, Any]:
    """Run and write the results; returns the result dict."""
    res = run_experiment(cfg, policy=policy, progress=progress)
    res["files"] = write(res, out)
    return res


__all__ = ["DirectionConfig", "plain_cosine", "prompt_statistics", "run", "run_experiment"]
