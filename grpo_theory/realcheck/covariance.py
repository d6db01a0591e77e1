r"""R8/R9 on a real model: how positive and negative score gradients co-vary (v3 Table 2 analog).

Q prompts, n sampled responses each (temperature 1), per-response score gradients
:math:`g=\nabla s(o\mid q)` for two score functions: ``summed`` (:math:`s=\log\pi(o\mid q)`, exact) and
``length-normalized`` (:math:`s=\frac1{|o|}\sum_t\log\pi(o_t\mid\cdot)`). For prompt q with k correct
responses, :math:`\hat m^\pm_q` are the means of the positive / negative gradients. "Var" and "Cov" of
vectors are traces (sums over coordinates), as in Prop. 4.1.

Quantities (all estimators stated; "mixed" prompts have 1 ≤ k ≤ n−1):

* **across prompts** (the paper's Table 2 term, law of total covariance):
  :math:`\widehat{\mathrm{Cov}}_q(m^+,m^-)
  =\frac1{Q_m-1}\sum_q\langle\hat m^+_q-\bar m^+,\hat m^-_q-\bar m^-\rangle`.
  Unbiased: within a prompt the positive and negative sample means are independent given k.
  **Permuted baseline**: the same with :math:`\hat m^-_{\pi(q)}` for random permutations π (mean, sd,
  and the fraction of permutations at least as large as the observed value).
* **within prompts**: :math:`V^\pm_q` = unbiased trace variance of the positives / negatives (needs ≥ 2);
  the within-prompt cross-covariance from the first min(k, n−k) (positive, negative) pairs in sampling
  order (its population value is 0 for independent rollouts).
* **totals**: :math:`\mathrm{Var}(g^\pm)=\overline{V^\pm}+\mathrm{Var}_q(m^\pm)` with the across-prompt
  variance debiased by :math:`\overline{V^\pm}\cdot\overline{1/n^\pm_q}`; :math:`\mathrm{Cov}(g^+,g^-)` =
  the across-prompt term (+ the within term, reported separately); ρ; and **Prop. 4.1's premise for
  GRPO's c = 1**: :math:`\mathrm{Cov}\ge\mathrm{Var}(g^-)/2`, i.e.
  :math:`\mathrm{Var}(g^+-g^-)\le\mathrm{Var}(g^+)`.
* **R9, score identity** :math:`\mathbb E[g\mid q]=0` (equivalently :math:`m^-=-\frac p{1-p}m^+`): per
  prompt the U-statistic
  :math:`\widehat{\|\mathbb E[g\mid q]\|^2}=\frac{\|\sum_i g_i\|^2-\sum_i\|g_i\|^2}{n(n-1)}` (unbiased),
  averaged over prompts with a z-score against 0; and the mean of
  :math:`\langle\hat m^+_q,\hat m^-_q\rangle` over mixed prompts (unbiased for
  :math:`\langle m^+,m^-\rangle`, predicted < 0: anti-aligned).

All of it comes from Gram matrices of per-prompt means, so the gradients are kept exact for small
models (``exact=True``) or count-sketched (``sketch_dim``) for large ones.
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
from grpo_theory.realcheck._common import (
    Sketch,
    env_snapshot,
    load,
    out_dir,
    per_sample_scores,
    trainable_params,
    write_csv,
    write_json,
)
from grpo_theory.realcheck.config import CheckConfig
from grpo_theory.vocab import SCORE_KINDS

Tensor = torch.Tensor
NAME = "covariance"


@dataclass(frozen=True)
class CovarianceConfig(CheckConfig):
    """R8/R9 experiment configuration."""

    n_prompts: int = option(100, "Q: prompts (training problems, not filtered by difficulty)", minimum=1)
    n_responses: int = option(10, "n: responses per prompt", minimum=2)
    kinds: tuple[str, ...] = option(SCORE_KINDS, "Score functions to measure", choices=SCORE_KINDS)
    exact: bool = option(True, "Exact gradients (False: count sketch of size sketch_dim)")
    sketch_dim: int = option(4096, "Sketch size when exact is False", minimum=1)
    n_permutations: int = option(2000, "Random permutations for the baseline", minimum=1)
    max_new_tokens: int = option(0, "Completion cap; 0 = the task's own", minimum=0)


@dataclass
class _PromptSums:
    """Per-prompt sufficient statistics of one score kind."""

    k: int
    n: int
    sq_norm_sum: float  # Σ_i ||g_i||²
    mean_all_sq_u: float  # U-statistic of ||E[g|q]||²
    v_pos: float | None
    v_neg: float | None
    within_cov: float | None
    pos_neg_inner: float | None  # <m+, m->


def prompt_sums(G: Tensor, r: Tensor) -> tuple[_PromptSums, Tensor | None, Tensor | None]:
    """Statistics of one prompt from its per-response gradients ``G`` ``[n, d]`` and rewards ``r`` ``[n]``."""
    n = G.shape[0]
    pos, neg = G[r > 0.5], G[r <= 0.5]
    k = pos.shape[0]
    sq = (G * G).sum(1)
    tot = G.sum(0)
    u = float((tot @ tot - sq.sum()) / (n * (n - 1)))

    def tvar(X: Tensor) -> float | None:
        if X.shape[0] < 2:
            return None
        c = X - X.mean(0)
        return float((c * c).sum() / (X.shape[0] - 1))

    within = None
    m = min(k, n - k)
    if m >= 2:
        a, b = pos[:m] - pos[:m].mean(0), neg[:m] - neg[:m].mean(0)
        within = float((a * b).sum() / (m - 1))
    mp = pos.mean(0) if k else None
    mn = neg.mean(0) if n - k else None
    inner = float(mp @ mn) if mp is not None and mn is not None else None
    return _PromptSums(k, n, float(sq.sum()), u, tvar(pos), tvar(neg), within, inner), mp, mn


def _mean_se(values: list[float | None]) -> tuple[float | None, float | None]:
    xs = [x for x in values if x is not None]
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1) / len(xs))


def _centered_cross(M: Tensor) -> float:
    """(Σ_q M_qq − ΣM/Q)/(Q−1): the sample covariance (trace) from the cross Gram M_qq' = <x_q, y_q'>."""
    Q = M.shape[0]
    return float((M.diagonal().sum() - M.sum() / Q) / (Q - 1))


def _score_identity(sums: list[_PromptSums]) -> dict[str, float | None]:
    """R9, E[g|q] = 0: the mean unbiased ||E[g|q]||² over prompts, its s.e. and z, and its size relative to
    E||g||²."""
    u_m, u_se = _mean_se([s.mean_all_sq_u for s in sums])
    e_sq = sum(s.sq_norm_sum for s in sums) / sum(s.n for s in sums)
    return {
        "mean_u_sq_norm_E_g_given_q": u_m, "se": u_se, "z": u_m / u_se if u_m is not None and u_se else None,
        "mean_sq_norm_g": e_sq, "relative_to_mean_sq_norm": u_m / e_sq if u_m is not None and e_sq else None,
    }


def _permuted_covariances(Mpn: Tensor, n_perm: int, seed: int) -> list[float]:
    """The across-prompt covariance with the negatives' prompts shuffled (``n_perm`` seeded permutations):
    the null distribution of a covariance that only pairs a prompt's positives with its own negatives."""
    gen = random.Random(seed)
    vals = []
    for _ in range(n_perm):
        idx = list(range(Mpn.shape[0]))
        gen.shuffle(idx)
        vals.append(_centered_cross(Mpn[:, idx]))
    return vals


def kind_statistics(sums: list[_PromptSums], mpos: list[Tensor], mneg: list[Tensor], n_perm: int,
                    seed: int) -> dict[str, Any]:
    """Across-prompt, within-prompt and total statistics for one score kind (see the module docstring)."""
    mixed = [s for s in sums if 0 < s.k < s.n]
    Qm = len(mixed)
    out: dict[str, Any] = {"prompts": len(sums), "mixed_prompts": Qm, "score_identity": _score_identity(sums)}
    inn_m, inn_se = _mean_se([s.pos_neg_inner for s in mixed])
    out["pos_neg_inner_within_prompt"] = {"mean": inn_m, "se": inn_se,
                                          "z": inn_m / inn_se if inn_m is not None and inn_se else None}
    if Qm < 3:
        out["note"] = "fewer than 3 mixed prompts: no across-prompt statistics"
        return out
    P, N = torch.stack(mpos), torch.stack(mneg)
    Mpn, Mpp, Mnn = P @ N.T, P @ P.T, N @ N.T
    cov = _centered_cross(Mpn)
    var_pos_q, var_neg_q = _centered_cross(Mpp), _centered_cross(Mnn)
    perm_vals = _permuted_covariances(Mpn, n_perm, seed)
    pm = sum(perm_vals) / n_perm
    psd = math.sqrt(sum((x - pm) ** 2 for x in perm_vals) / (n_perm - 1))
    vpos, _ = _mean_se([s.v_pos for s in mixed])
    vneg, _ = _mean_se([s.v_neg for s in mixed])
    wcov, wcov_se = _mean_se([s.within_cov for s in mixed])
    inv_npos = sum(1 / s.k for s in mixed) / Qm
    inv_nneg = sum(1 / (s.n - s.k) for s in mixed) / Qm
    var_pos_q_debiased = var_pos_q - (vpos or 0.0) * inv_npos
    var_neg_q_debiased = var_neg_q - (vneg or 0.0) * inv_nneg
    var_pos = (vpos or 0.0) + var_pos_q_debiased
    var_neg = (vneg or 0.0) + var_neg_q_debiased
    rho = cov / math.sqrt(var_pos * var_neg) if var_pos > 0 and var_neg > 0 else None
    out.update({
        "across_prompts": {
            "cov_pos_neg": cov,
            "permuted_mean": pm, "permuted_sd": psd,
            "permuted_frac_ge_observed": sum(x >= cov for x in perm_vals) / n_perm,
            "var_pos_of_means": var_pos_q, "var_neg_of_means": var_neg_q,
            "var_pos_of_means_debiased": var_pos_q_debiased, "var_neg_of_means_debiased": var_neg_q_debiased,
            "corr_of_means": (cov / math.sqrt(var_pos_q * var_neg_q) if var_pos_q > 0 and var_neg_q > 0
                              else None),
        },
        "within_prompts": {
            "mean_var_pos": vpos, "mean_var_neg": vneg, "mean_cov_pos_neg": wcov, "cov_se": wcov_se,
            "prompts_with_2_pos": sum(s.v_pos is not None for s in mixed),
            "prompts_with_2_neg": sum(s.v_neg is not None for s in mixed),
            "prompts_with_2_pairs": sum(s.within_cov is not None for s in mixed),
        },
        "total": {
            "var_pos": var_pos, "var_neg": var_neg, "cov_pos_neg": cov, "rho": rho,
            "half_var_neg": var_neg / 2,
            "premise_cov_ge_half_var_neg": cov >= var_neg / 2,
            "var_pos_minus_neg": var_pos + var_neg - 2 * cov,
            "variance_reduced_by_c1": var_pos + var_neg - 2 * cov <= var_pos,
            "c_star": cov / var_neg if var_neg > 0 else None,
        },
    })
    return out


def run_experiment(cfg: CovarianceConfig, *, policy=None, progress: bool = True) -> dict[str, Any]:
    """Run R8/R9 (see the module docstring); returns the result dict (nothing written)."""
    from grpo_theory.llm.tasks import make_task, train_problems

    t0 = time.time()
    if policy is None:
        policy = load(cfg.model, threads=cfg.threads)
    task = make_task(cfg.task)
    problems = train_problems(task, cfg.n_prompts, seed=30_000 + cfg.seed)
    n_params = sum(p.numel() for p in trainable_params(policy.model))
    sketch = None if cfg.exact else Sketch(n_params, cfg.sketch_dim, seed=cfg.seed)
    sums: dict[str, list[_PromptSums]] = {k: [] for k in cfg.kinds}
    mp: dict[str, list[Tensor]] = {k: [] for k in cfg.kinds}
    mn: dict[str, list[Tensor]] = {k: [] for k in cfg.kinds}
    per_prompt = []
    for j, prob in enumerate(tqdm(problems, desc="R8 prompts", disable=not progress)):
        r = policy.generate([prob.prompt], cfg.n_responses, temperature=1.0, top_p=1.0,
                            max_new_tokens=cfg.max_new_tokens or task.max_new_tokens,
                            seed=cfg.seed * 1_000_003 + j)
        rw = torch.tensor([task.reward(prob, t) for t in r.texts], dtype=torch.float64)
        grads = per_sample_scores(policy, r, kinds=cfg.kinds, project=sketch)
        row: dict[str, Any] = {"prompt": prob.prompt, "k": int(rw.sum()), "n": cfg.n_responses,
                               "mean_length": float(r.completion_mask.sum(1).float().mean())}
        for kind in cfg.kinds:
            s, a, b = prompt_sums(grads[kind], rw)
            sums[kind].append(s)
            if a is not None and b is not None:
                mp[kind].append(a.float())
                mn[kind].append(b.float())
            row[f"{kind}_u_sq_norm_E_g"] = s.mean_all_sq_u
            row[f"{kind}_pos_neg_inner"] = s.pos_neg_inner
        per_prompt.append(row)
        del grads
    stats = {}
    for kind in cfg.kinds:
        P = [x.double() for x in mp[kind]]
        N = [x.double() for x in mn[kind]]
        stats[kind] = kind_statistics(sums[kind], P, N, cfg.n_permutations, cfg.seed)
    return {
        "experiment": NAME, "result": "R8/R9", "config": cfg, "env": env_snapshot(), "n_params": n_params,
        "projection": sketch.describe() if sketch else {"kind": "identity", "dim": n_params},
        "statistics": stats, "per_prompt": per_prompt,
        "paper_table2": {"cov": 0.08705, "cov_permuted": 0.00128, "setting": "Qwen-1.5B, MATH, 100 x 10"},
        "seconds": time.time() - t0,
    }


def write(res: dict[str, Any], out: str | None = None) -> list[str]:
    """Write ``result.json``, ``per_prompt.csv`` and ``summary.csv`` (one row per score kind)."""
    d = out_dir(NAME, out)
    summary = []
    for kind, s in res["statistics"].items():
        row: dict[str, Any] = {"kind": kind, "prompts": s["prompts"], "mixed_prompts": s["mixed_prompts"]}
        for sec in ("across_prompts", "within_prompts", "total"):
            row.update({f"{sec}.{k}": v for k, v in s.get(sec, {}).items()})
        row.update({f"score_identity.{k}": v for k, v in s["score_identity"].items()})
        summary.append(row)
    return [str(write_json(d / "result.json", res)), str(write_csv(d / "per_prompt.csv", res["per_prompt"])),
            str(write_csv(d / "summary.csv", summary))]


def run(cfg: CovarianceConfig, *, out: str | None = None, policy=None,
        progress: bool = True) -> dict[str, Any]:
    """Run and write the results; returns the result dict."""
    res = run_experiment(cfg, policy=policy, progress=progress)
    res["files"] = write(res, out)
    return res


__all__ = ["CovarianceConfig", "kind_statistics", "prompt_sums", "run", "run_experiment"]
