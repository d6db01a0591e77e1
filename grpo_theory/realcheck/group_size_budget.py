r"""R16 on the tiny LM: which group size G estimates the gradient best at a fixed rollout budget N = BG.

One step of G-GRPO draws B prompts (i.i.d. from the task's training distribution), G rollouts each
(temperature 1), and its ascent direction is :math:`\hat g=-\nabla\mathcal L` of
:func:`grpo_theory.losses.grpo_loss` (population std, ε = 0, ratio 1, ``seq-mean-token-sum``, so
:math:`\hat g=\frac1B\sum_b\frac1G\sum_i A_{bi}\nabla\log\pi(o_{bi}\mid q_b)` with exact sequence scores). For
every cell (N, G) of the grid, R independent steps give replicates :math:`v_1..v_R` of :math:`\hat g`, for a
binary reward (exact match) and a real-valued one (``digits``: the fraction of answer positions right,
:func:`digit_fraction_reward`), computed on the same rollouts.

Targets (the definitions of :func:`grpo_theory.theory.group_size.budget_errors`, so the tiny LM and the
exact toys are comparable): with :math:`\mu_G=\mathbb E\hat g`, step covariance Σ,
:math:`t=\nabla_\theta\mathbb E_q\mathbb E_o[r]`, :math:`u=t/\|t\|`, :math:`P_\perp=I-uu^\top`,

* ``own``: :math:`\mathbb E\|\hat g-\mu_G\|^2/\|\mu_G\|^2=\mathrm{tr}\,\Sigma/\|\mu_G\|^2` (each G against
  its own population gradient; no bias);
* ``grad``: :math:`\mathbb E\|\hat g-t\|^2/\|t\|^2` = ``grad_bias`` :math:`\|\mu_G-t\|^2/\|t\|^2` +
  ``grad_var`` :math:`\mathrm{tr}\,\Sigma/\|t\|^2` (against ∇E[r], scale included);
* ``direction``: :math:`\mathbb E\|P_\perp\hat g\|^2/(u^\top\mu_G)^2` = ``direction_bias``
  :math:`\|P_\perp\mu_G\|^2/(u^\top\mu_G)^2` + ``direction_var``
  :math:`(\mathrm{tr}\,\Sigma-u^\top\Sigma u)/(u^\top\mu_G)^2` (scale-free).

The population gradient t is estimated by RLOO (:func:`grpo_theory.losses.rloo_loss`, unbiased for
:math:`\mathbb E_q\nabla p_q`) on ``ref_prompts`` × ``ref_group`` rollouts, as two independent halves
:math:`\hat t_1,\hat t_2`; every target is a ratio of unbiased U-statistics of the replicates and the two
halves, with delete-one-replicate jackknife 95% intervals (:mod:`grpo_theory.realcheck.budget_statistics`).

Everything is computed twice: on the exact flat gradient (1.05M parameters) and on a stated random
projection, the count sketch :class:`grpo_theory.realcheck._common.Sketch` (``sketch_dim``, seeded), whose
inner products are unbiased. The fit is :func:`grpo_theory.theory.group_size.fit_budget_constants` of the
bias-free parts (``own``, ``grad_var``, ``direction_var``) with the jackknife SEs as weights, giving c1, c2,
c3 with CIs, G* = √(c3/c1) and whether G = 2 is optimal (c3/c1 ≤ 6); the measured best G per budget is
reported for every target, bias included.

Binary-reward check built in: λ_2 ≡ 1, so :math:`\mu_2=t` and ``grad_bias`` at G = 2 must be ≈ 0.

The sufficient statistics of one G (Gram matrix and inner products with the reference, all small) are
cached when that G finishes; a rerun with the same config samples only the missing G.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from grpo_theory.configfields import option
from grpo_theory.llm.tasks import TASKS
from grpo_theory.losses import grpo_loss, rloo_loss
from grpo_theory.realcheck._common import (
    Sketch,
    env_snapshot,
    flat_grad,
    jsonable,
    load,
    out_dir,
    trainable_params,
    write_csv,
    write_json,
)
from grpo_theory.realcheck.budget_statistics import (
    TARGETS,
    best_by_budget,
    fit_cells,
    group_statistics,
    sufficient,
)
from grpo_theory.realcheck.config import CheckConfig

Tensor = torch.Tensor
NAME = "group_size_budget"
REWARDS = ("binary", "digits")
AGG = "seq-mean-token-sum"
CACHE_FORMAT = 1
"""Version of the cached sufficient statistics (a rerun ignores a cache of another version)."""


@dataclass(frozen=True)
class BudgetConfig(CheckConfig):
    """R16 tiny-LM experiment configuration."""

    model: str = option("tiny", "Policy: 'tiny' or a checkpoint directory (character tokenizer tasks)")
    task: str = option("addition", "Task; the binary reward is its exact match, the real-valued one the "
                       "digit fraction",
                       choices=tuple(TASKS))
    budgets: tuple[int, ...] = option((64, 256), "Rollout budgets N = B·G per step", minimum=2)
    group_sizes: tuple[int, ...] = option((2, 8, 32, 4, 16, 64), "Group sizes G (each cell needs G | N), "
                                          "measured in this order (each G is cached when done, so a run cut "
                                          "short already spans the range)", minimum=2)
    replicates: int = option(32, "R: independent steps per cell", minimum=3)
    ref_prompts: int = option(1024, "Prompts per half of the RLOO reference estimate of ∇E[r]", minimum=1)
    ref_group: int = option(8, "Rollouts per prompt of the reference", minimum=2)
    ref_chunk: int = option(256, "Prompts per backward pass of the reference (memory)", minimum=1)
    sketch_dim: int = option(2048, "Count-sketch size of the projected statistics", minimum=1)

    def __post_init__(self) -> None:
        if self.replicates < 3:
            raise ValueError(f"replicates must be >= 3 (jackknife of U-statistics), got {self.replicates}")
        if not self.budgets or not self.group_sizes or min(self.group_sizes) < 2:
            raise ValueError("need at least one budget and group sizes >= 2")
        if not any(n % g == 0 for n in self.budgets for g in self.group_sizes):
            raise ValueError(f"no group size in {self.group_sizes} divides a budget in {self.budgets}")
        if self.ref_group < 2 or self.ref_prompts < 1 or self.ref_chunk < 1 or self.sketch_dim < 1:
            raise ValueError("ref_group must be >= 2; ref_prompts, ref_chunk and sketch_dim >= 1")

    def cells(self) -> list[tuple[int, int]]:
        """(N, G) for every budget and every group size that divides it."""
        return [(n, g) for n in self.budgets for g in self.group_sizes if n % g == 0]


# ---------------------------------------------------------------------------------------------- rewards


def digit_fraction_reward(answer: str, completion: str) -> float:
    """Real-valued reward: matching positions / max(len(answer), len(completion)), after stripping spaces.

    In [0, 1], equal to 1 iff the completion is exactly the answer; ``"0589"`` for ``"0579"`` gets 0.75.
    """
    c = completion.strip()
    if not answer:
        raise ValueError("answer is empty")
    hits = sum(a == b for a, b in zip(answer, c))
    return hits / max(len(answer), len(c))


def rewards_of(task, problems, texts: list[str], G: int) -> dict[str, Tensor]:
    """``{"binary": [B, G], "digits": [B, G]}`` float64 rewards of prompt-major completions."""
    rb = [task.reward(problems[i // G], t) for i, t in enumerate(texts)]
    rd = [digit_fraction_reward(problems[i // G].answer, t) for i, t in enumerate(texts)]
    B = len(problems)
    return {"binary": torch.tensor(rb, dtype=torch.float64).view(B, G),
            "digits": torch.tensor(rd, dtype=torch.float64).view(B, G)}


# ---------------------------------------------------------------------------------------------- gradients


def step_gradients(policy, task, problems, G: int, *, seed: int, loss: str = "grpo") -> dict[str, Tensor]:
    """Ascent directions ``{reward: [D]}`` (float64) of one step on ``problems`` with G rollouts each.

    ``loss="grpo"``: −∇ :func:`grpo_loss` (population std, ε = 0, ratio 1, sequence sums);
    ``loss="rloo"``: −∇ :func:`rloo_loss` (unbiased for E_q ∇p_q).
    """
    r = policy.generate([p.prompt for p in problems], G, temperature=1.0, top_p=1.0,
                        max_new_tokens=task.max_new_tokens, seed=seed, batch_size=4096)
    rw = rewards_of(task, problems, r.texts, G)
    params = trainable_params(policy.model)
    logp = policy.token_logprobs(r)
    B, T = len(problems), logp.shape[1]
    lp, mask = logp.view(B, G, T), r.completion_mask.bool().view(B, G, T)
    out = {}
    for j, name in enumerate(REWARDS):
        rew = rw[name].to(lp.dtype)
        if loss == "grpo":
            res = grpo_loss(lp, lp.detach(), rew, mask, loss_agg_mode=AGG, std_ddof=0, eps=0.0, beta=0.0)
        elif loss == "rloo":
            res = rloo_loss(lp, lp.detach(), rew, mask, loss_agg_mode=AGG)
        else:
            raise ValueError(f"loss must be 'grpo' or 'rloo', got {loss!r}")
        out[name] = -flat_grad(res.loss, params, retain_graph=j < len(REWARDS) - 1)
    return out


def draw_problems(task, n: int, seed_text: str) -> list:
    """``n`` i.i.d. prompts from the task's distribution (a seeded stream per cell and replicate)."""
    return task.sample(random.Random(seed_text), n)


def reference_gradient(policy, task, cfg: BudgetConfig, half: int, *,
                       progress: bool = True) -> dict[str, Tensor]:
    """One half of the RLOO estimate of t = ∇E[r] per reward (mean of ``ref_prompts/ref_chunk`` chunks)."""
    acc: dict[str, Tensor] = {}
    chunks = list(range(0, cfg.ref_prompts, cfg.ref_chunk))
    for c in tqdm(chunks, desc=f"reference half {half + 1}", disable=not progress, leave=False):
        n = min(cfg.ref_chunk, cfg.ref_prompts - c)
        probs = draw_problems(task, n, f"{NAME}/ref/{cfg.seed}/{half}/{c}")
        g = step_gradients(policy, task, probs, cfg.ref_group,
                           seed=cfg.seed * 1_000_003 + 7 * half + 13 * c + 1, loss="rloo")
        for k, v in g.items():
            acc[k] = acc.get(k, 0) + v * (n / cfg.ref_prompts)
    return acc


# ---------------------------------------------------------------------------------------------- run


def _save(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def cache_key(cfg: BudgetConfig, what: str) -> dict[str, Any]:
    """The config fields a cached file depends on: a G's statistics do not depend on the other group
    sizes, the reference depends on neither the grid nor the replicates."""
    d = jsonable(cfg)
    d.pop("group_sizes")
    d.pop("threads")  # results do not depend on the thread count beyond float rounding
    if what == "reference":
        for k in ("budgets", "replicates"):
            d.pop(k)
    return {"what": what, "format": CACHE_FORMAT, **d}


def _load(path: Path, key: dict[str, Any]) -> Any:
    """The cached payload at ``path`` if its key is ``key``, else None."""
    if not path.is_file():
        return None
    try:
        data = torch.load(path, weights_only=False)
    except (OSError, RuntimeError, EOFError):
        return None
    return data["payload"] if data.get("key") == key else None


def _group_sufficient(policy, task, cfg: BudgetConfig, g: int, t_ref: list[dict[str, Tensor]], sketch: Sketch,
                      progress: bool) -> dict[str, Any]:
    """Sample ``replicates`` steps of G-GRPO at every budget that G divides; their sufficient statistics
    (exact and sketched, per reward) against the reference halves ``t_ref``."""
    budgets = [n for n in cfg.budgets if n % g == 0]
    vecs: dict[int, dict[str, list[Tensor]]] = {n: {k: [] for k in REWARDS} for n in budgets}
    for n in budgets:
        for rep in tqdm(range(cfg.replicates), desc=f"G={g} N={n}", disable=not progress, leave=False):
            probs = draw_problems(task, n // g, f"{NAME}/cell/{cfg.seed}/{n}/{g}/{rep}")
            v = step_gradients(policy, task, probs, g,
                               seed=cfg.seed * 1_000_003 + 100_000 * g + 1000 * n + rep + 17)
            for k in REWARDS:
                vecs[n][k].append(v[k].to(torch.float32))  # float32 storage; Gram in float64
    suff = {"exact": {k: sufficient({n: torch.stack(vecs[n][k]) for n in budgets}, t_ref[0][k],
                                    t_ref[1][k])
                      for k in REWARDS},
            "sketch": {k: sufficient({n: torch.stack([sketch(x.to(torch.float64)) for x in vecs[n][k]])
                                      for n in budgets}, sketch(t_ref[0][k]), sketch(t_ref[1][k]))
                       for k in REWARDS}}
    return suff


def run(cfg: BudgetConfig, *, out: str | None = None, policy=None, progress: bool = True,
        cache_dir: str | None = None) -> dict[str, Any]:
    """Measure every G whose sufficient statistics are not yet cached, fit, and write ``result.json``,
    ``cells.csv`` and ``summary.json`` to ``out``; returns the result dict (with ``files``).

    The cache (default ``runs/realcheck/group_size_budget/cache/``, not committed) holds the reference
    halves and the Gram matrices etc. of each G (written when that G finishes), keyed by the config fields
    they depend on, so a rerun samples only the missing G, and a smaller ``group_sizes`` reuses them."""
    t0 = time.time()
    d = out_dir(NAME, out)
    cache = Path(cache_dir) if cache_dir else out_dir(NAME, None) / "cache"
    grams: dict[int, dict] = {}
    for g in dict.fromkeys(g for _, g in cfg.cells()):
        got = _load(cache / f"G{g}.pt", cache_key(cfg, f"G={g}"))
        if got is not None:
            grams[g] = got
    todo = [g for g in dict.fromkeys(g for _, g in cfg.cells()) if g not in grams]
    if policy is None:
        policy = load(cfg.model, threads=cfg.threads)
    from grpo_theory.llm.tasks import make_task

    task = make_task(cfg.task)
    params = trainable_params(policy.model)
    n_params = sum(p.numel() for p in params)
    sketch = Sketch(n_params, cfg.sketch_dim, seed=cfg.seed)
    t_ref = None
    if todo:
        ref_key = cache_key(cfg, "reference")
        t_ref = _load(cache / "reference.pt", ref_key)
        if t_ref is None:
            t_ref = [reference_gradient(policy, task, cfg, h, progress=progress) for h in (0, 1)]
            _save(cache / "reference.pt", {"key": ref_key, "payload": t_ref})
    for g in tqdm(todo, desc="R16 group sizes", disable=not progress):
        assert t_ref is not None
        suff = _group_sufficient(policy, task, cfg, g, t_ref, sketch, progress)
        _save(cache / f"G{g}.pt", {"key": cache_key(cfg, f"G={g}"), "payload": suff})
        grams[g] = suff
    cells = []
    for g in sorted(grams):
        stats = {sp: {k: group_statistics(grams[g][sp][k]) for k in REWARDS} for sp in ("exact", "sketch")}
        for n in sorted(stats["exact"][REWARDS[0]]):
            cells.append({"N": n, "G": g, "B": n // g,
                          **{sp: {k: stats[sp][k][n] for k in REWARDS} for sp in ("exact", "sketch")}})
    cells.sort(key=lambda c: (c["N"], c["G"]))
    fits = {s: {k: fit_cells(cells, s, k) for k in REWARDS} for s in ("exact", "sketch")}
    best = {s: {k: best_by_budget(cells, s, k) for k in REWARDS} for s in ("exact", "sketch")}
    summary = _summary(cells, fits, best)
    res = {"experiment": NAME, "result": "R16", "config": cfg, "env": env_snapshot(), "n_params": n_params,
           "projection": sketch.describe(), "targets": {"own": "tr Σ / ‖μ_G‖²", "grad": "E‖ĝ − t‖²/‖t‖²",
                                                         "direction": "E‖P⊥ĝ‖²/(uᵀμ_G)²"},
           "cells": cells, "fits": fits, "best_by_budget": best, "summary": summary,
           "seconds": time.time() - t0}
    res["files"] = write(res, d)
    return res


def _summary(cells: list[dict], fits: dict, best: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in REWARDS:
        f = fits["exact"][k]
        g2 = [c["exact"][k] for c in cells if c["G"] == 2]
        out[k] = {
            t: {"G_star": f[t].get("G_star"), "G_star_ci95": f[t].get("G_star_ci95"),
                "c3_over_c1": f[t].get("c3_over_c1"), "c3_over_c1_ci95": f[t].get("c3_over_c1_ci95"),
                "c": f[t].get("c"), "c_ci95": f[t].get("c_ci95"), "G2_optimal_fit": f[t].get("G2_optimal"),
                "measured_best_G_by_budget": {n: v.get(t, {}).get("best_G")
                                              for n, v in best["exact"][k].items()},
                "sketch_G_star": fits["sketch"][k][t].get("G_star")}
            for t in TARGETS
        }
        out[k]["G2_grad_bias"] = [{"N": c["N"], "grad_bias": s.get("grad_bias_bc"),
                                   "ci95": s.get("grad_bias_ci95"), "cos_mu_t": s.get("cos_mu_t_bc"),
                                   "scale_along_t": s.get("scale_along_t_bc")}
                                  for c, s in zip([c for c in cells if c["G"] == 2], g2)]
    return out


def write(res: dict[str, Any], d: Path) -> list[str]:
    """``result.json`` (everything), ``cells.csv`` (one row per cell, space and reward), ``summary.json``."""
    rows = []
    for c in res["cells"]:
        for space in ("exact", "sketch"):
            for k in REWARDS:
                s = c[space][k]
                rows.append({"N": c["N"], "G": c["G"], "B": c["B"], "space": space, "reward": k,
                             **{key: v for key, v in s.items() if not key.endswith("_ci95")},
                             **{f"{key}_lo": v[0] for key, v in s.items() if key.endswith("_ci95") and v},
                             **{f"{key}_hi": v[1] for key, v in s.items() if key.endswith("_ci95") and v}})
    return [str(write_json(d / "result.json", res)), str(write_csv(d / "cells.csv", rows)),
            str(write_json(d / "summary.json", {"config": res["config"], "summary": res["summary"],
                                                "projection": res["projection"]}))]


__all__ = ["BudgetConfig", "digit_fraction_reward", "fit_cells", "group_statistics", "run", "step_gradients",
           "sufficient"]
