r"""R6, R7 and R8/R9 on SmolLM2-135M-Instruct, on a prompt family where its success is intermediate.

On the character-level arithmetic prompts a 135M chat model is almost always all-right or all-wrong
per prompt, and then a 2-GRPO pair or a G-group carries no signal. This module therefore first measures
the per-prompt success probability p̂ on candidate question families (part ``prompt_family``), then runs
the three checks of :mod:`grpo_theory.realcheck` on the ``compare`` family of
:mod:`grpo_theory.llm.tasks.chat` (*"Answer with one word, yes or no. Is 57 larger than 38?"*, reward 1 iff
the first yes/no word is right). Sampling is at temperature 1, so the sampling distribution is the model's
own :math:`\pi` whose log-probabilities are differentiated (the premise of R6 and R9; a tempered sampler would
break the score identity).

Parts (each written to ``<out>/<part>/`` by the check's own ``write``; a rerun skips a part whose
``result.json`` has the same config, so an interrupted run resumes at the first unfinished part):

* ``prompt_family``: p̂ = k/n from ``pilot_samples`` rollouts of ``pilot_prompts`` prompts per family;
  histogram, mean, and the fraction inside ``[0.2, 0.8]`` and at 0 or 1.
* ``direction_invariance`` (R6): :func:`grpo_theory.realcheck.direction_invariance.run_experiment` with
  count-sketched gradients only (``exact=False``: a full 135M-dim float64 vector per block would not fit).
* ``covariance`` (R8/R9): :func:`grpo_theory.realcheck.covariance.run_experiment`, sketched.
* ``discard_rate`` (R7): :func:`grpo_theory.realcheck.discard_rate.run_experiment` (the project's trainer,
  on-policy 2-GRPO). It trains the policy in place, so it runs last.

The projection is the count sketch of :class:`grpo_theory.realcheck._common.Sketch` (seeded, stated in each
``result.json``): inner products and squared norms are unbiased over its draw, relative error about
:math:`\sqrt{2/d}` on a squared norm.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from grpo_theory.configfields import option
from grpo_theory.llm.tasks import TASKS
from grpo_theory.realcheck._common import env_snapshot, jsonable, load, out_dir, write_csv, write_json
from grpo_theory.realcheck.config import CheckConfig

NAME = "smollm2"
PARTS = ("prompt_family", "direction_invariance", "covariance", "discard_rate")
FAMILIES = ("compare", "add_question")


@dataclass(frozen=True)
class SmolChecksConfig(CheckConfig):
    """SmolLM2 real-model checks configuration (defaults: the committed run)."""

    model: str = option("smollm2", "Policy: 'smollm2' (or a chat-model checkpoint directory)")
    task: str = option("compare", "Task of the three checks (a name of grpo_theory.llm.tasks.make_task)",
                       choices=tuple(TASKS))
    parts: tuple[str, ...] = option(PARTS, "Parts to run, in this order: prompt_family, "
                                    "direction_invariance, covariance, discard_rate")
    families: tuple[str, ...] = option(FAMILIES, "Prompt families whose p̂ distribution is measured "
                                       "(compare, add_question = 1-digit sums)")
    pilot_prompts: int = option(16, "Prompts per family for the p̂ distribution", minimum=1)
    pilot_samples: int = option(8, "Rollouts per prompt for p̂", minimum=1)
    r6_prompts: int = option(2, "R6: prompts with pilot p̂ in [0.2, 0.8]", minimum=1)
    r6_pilot_samples: int = option(4, "R6: rollouts per candidate prompt in its selection pilot", minimum=1)
    r6_rollouts: int = option(96, "R6: rollouts per selected prompt (a multiple of r6_block, at least 3 "
                              "blocks)", minimum=16)
    r6_block: int = option(32, "R6: rollouts per replicate block (a multiple of 16)", minimum=16)
    r8_prompts: int = option(12, "R8/R9: prompts (not filtered by difficulty)", minimum=1)
    r8_responses: int = option(6, "R8/R9: responses per prompt", minimum=2)
    r7_steps: int = option(3, "R7: on-policy 2-GRPO optimizer steps", minimum=1)
    r7_pairs: int = option(16, "R7: pairs (prompts) per step", minimum=1)
    r7_lr: float = option(1e-5, "R7: AdamW learning rate (small: a 135M model moves far per step at the "
                          "tiny model's 1e-4)", above=0)
    r7_extra_samples: int = option(6, "R7: fresh rollouts per prompt for the per-prompt estimate of P0",
                                   minimum=2)
    sketch_dim: int = option(4096, "Count-sketch size of the gradients (R6, R8/R9)", minimum=1)
    grad_layers: int = option(6, "Differentiate (and, in R7, train) only the last k decoder layers and the "
                              "final norm; 0 = every parameter. A coordinate restriction is a fixed linear "
                              "map of the gradient, so every identity checked here holds for it; it cuts "
                              "the backward pass to about k/30 of the model's depth.", minimum=0)

    def __post_init__(self) -> None:
        bad = [p for p in self.parts if p not in PARTS]
        if bad:
            raise ValueError(f"unknown parts {bad}; choose from {PARTS}")
        badf = [f for f in self.families if f not in FAMILIES]
        if badf:
            raise ValueError(f"unknown families {badf}; choose from {FAMILIES}")
        if self.pilot_samples < 2 or self.pilot_prompts < 1:
            raise ValueError("pilot_samples must be >= 2 and pilot_prompts >= 1")
        if self.grad_layers < 0:
            raise ValueError(f"grad_layers must be >= 0, got {self.grad_layers}")
        if self.sketch_dim < 1:
            raise ValueError(f"sketch_dim must be >= 1 (the gradients are too large to keep exactly), "
                             f"got {self.sketch_dim}")

    def part_configs(self) -> dict[str, Any]:
        """The config object of each check, derived from these fields."""
        from grpo_theory.realcheck.covariance import CovarianceConfig
        from grpo_theory.realcheck.direction_invariance import DirectionConfig
        from grpo_theory.realcheck.discard_rate import DiscardConfig

        common: dict[str, Any] = {"model": self.model, "task": self.task, "seed": self.seed,
                                  "threads": self.threads}
        return {
            "prompt_family": {k: getattr(self, k)
                              for k in ("model", "families", "pilot_prompts", "pilot_samples", "seed")},
            "direction_invariance": DirectionConfig(
                **common, n_prompts=self.r6_prompts, pilot_samples=self.r6_pilot_samples,
                rollouts_per_prompt=self.r6_rollouts, block=self.r6_block, exact=False,
                sketch_dim=self.sketch_dim, max_candidates=8 * self.r6_prompts),
            "covariance": CovarianceConfig(**common, n_prompts=self.r8_prompts, n_responses=self.r8_responses,
                                           exact=False, sketch_dim=self.sketch_dim),
            "discard_rate": DiscardConfig(**common, steps=self.r7_steps, prompts_per_step=self.r7_pairs,
                                          lr=self.r7_lr, extra_samples=self.r7_extra_samples, eval_size=0),
        }


# ---------------------------------------------------------------------------------------------- parameters


def restrict_gradients(model, k: int) -> dict[str, Any]:
    """Leave ``requires_grad`` on only the last ``k`` decoder layers and the final norm (k = 0: all).

    Returns what is differentiated: the layer indices, the parameter count and the total. The tied
    input/output embedding is frozen (it is used by the first layer's input, so its gradient would need
    the full backward pass).
    """
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    total = sum(p.numel() for p in model.parameters())
    if k == 0:
        for p in model.parameters():
            p.requires_grad_(True)
        return {"layers": "all", "trainable": total, "total": total}
    if layers is None or k > len(layers):
        raise ValueError(f"grad_layers={k} needs a decoder with at least {k} layers (model.model.layers)")
    for p in model.parameters():
        p.requires_grad_(False)
    keep = list(range(len(layers) - k, len(layers)))
    for i in keep:
        for p in layers[i].parameters():
            p.requires_grad_(True)
    norm = getattr(inner, "norm", None)
    if norm is not None:
        for p in norm.parameters():
            p.requires_grad_(True)
    return {"layers": keep, "final_norm": norm is not None, "of_layers": len(layers),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad), "total": total}


# ------------------------------------------------------------------------------------ p̂ distribution


def family_problems(family: str, n: int, seed: int) -> list:
    """``n`` problems of a family: training problems of ``compare``; 1-digit ``add_question`` sums
    (only 100 exist, too few for the problem-set split, so they are drawn from the full set)."""
    from grpo_theory.llm.tasks import make_task, train_problems

    task = make_task(family)
    if family == "add_question":
        allp = [task.make(a, b) for a in range(10) for b in range(10)]  # type: ignore[attr-defined]
        random.Random(seed).shuffle(allp)
        return allp[:n]
    return train_problems(task, n, seed=40_000 + seed)


def histogram(p_hat: list[float], n: int) -> dict[str, Any]:
    """Counts of p̂ = k/n per k (exact, no binning), mean, and the share at 0, at 1 and inside [0.2, 0.8]."""
    counts = [0] * (n + 1)
    for p in p_hat:
        counts[round(p * n)] += 1
    m = len(p_hat)
    return {
        "k_over_n": [k / n for k in range(n + 1)], "counts": counts, "prompts": m,
        "mean": sum(p_hat) / m, "frac_zero": counts[0] / m, "frac_one": counts[n] / m,
        "frac_in_0.2_0.8": sum(0.2 <= p <= 0.8 for p in p_hat) / m,
    }


def prompt_family(policy, cfg: SmolChecksConfig, *, progress: bool = True) -> dict[str, Any]:
    """The p̂ distribution of each family in ``cfg.families`` (temperature 1, the family's own length cap)."""
    from grpo_theory.llm.tasks import make_task

    t0 = time.time()
    fams, rows = {}, []
    for j, fam in enumerate(tqdm(cfg.families, desc="p-hat per family", disable=not progress)):
        task = make_task(fam)
        probs = family_problems(fam, cfg.pilot_prompts, cfg.seed)
        n = cfg.pilot_samples
        t1 = time.time()
        r = policy.generate([p.prompt for p in probs], n, temperature=1.0, top_p=1.0,
                            max_new_tokens=task.max_new_tokens, seed=cfg.seed * 7919 + 101 * j,
                            batch_size=256)
        p_hat = []
        for i, p in enumerate(probs):
            texts = r.texts[i * n:(i + 1) * n]
            k = sum(task.reward(p, t) for t in texts)
            p_hat.append(k / n)
            rows.append({"family": fam, "prompt": p.prompt, "answer": p.answer, "k": int(k), "n": n,
                         "p_hat": k / n, "example_reply": texts[0]})
        fams[fam] = {"histogram": histogram(p_hat, n), "max_new_tokens": task.max_new_tokens,
                     "mean_reply_tokens": float(r.completion_mask.sum(1).float().mean()),
                     "seconds": time.time() - t1}
    return {"experiment": "smollm2_prompt_family", "result": "p-hat distribution",
            "config": cfg.part_configs()["prompt_family"], "env": env_snapshot(), "families": fams,
            "prompts": rows, "seconds": time.time() - t0}


# ---------------------------------------------------------------------------------------------- run


def _done(path: Path, config: Any, grads: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result at ``path`` if it was made with ``config`` and the same differentiated parameters."""
    if not path.is_file():
        return None
    try:
        res = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    same = res.get("config") == jsonable(config) and res.get("differentiated") == jsonable(grads)
    return res if same else None


def _part_summary(part: str, res: dict[str, Any]) -> dict[str, Any]:
    if part == "prompt_family":
        return {f: {k: v for k, v in d["histogram"].items() if k != "k_over_n"}
                for f, d in res["families"].items()}
    if part == "covariance":
        return {k: {s: v.get(s) for s in ("mixed_prompts", "score_identity", "pos_neg_inner_within_prompt",
                                           "across_prompts", "total")}
                for k, v in res["statistics"].items()}
    if part == "direction_invariance":
        return {"summary": res["summary"], "p_hat": [p["sketch"]["p_hat"] for p in res["prompts"]]}
    return res.get("summary", {})


#: SmolLM2-135M: 30 decoder layers of 3,540,096 parameters, final norm 576, total 134,515,008.
_SMOLLM2 = {"layers": 30, "per_layer": 3_540_096, "norm": 576, "total": 134_515_008}


def _expected_grads(cfg: SmolChecksConfig) -> dict[str, Any]:
    """What :func:`restrict_gradients` returns for SmolLM2-135M (so a stored part is recognised unloaded)."""
    s = _SMOLLM2
    if cfg.grad_layers == 0:
        return {"layers": "all", "trainable": s["total"], "total": s["total"]}
    keep = list(range(s["layers"] - cfg.grad_layers, s["layers"]))
    return {"layers": keep, "final_norm": True, "of_layers": s["layers"],
            "trainable": cfg.grad_layers * s["per_layer"] + s["norm"], "total": s["total"]}


def run(cfg: SmolChecksConfig, *, out: str | None = None, policy=None,
        progress: bool = True) -> dict[str, Any]:
    """Run the parts of ``cfg`` not yet stored under ``out`` (default ``results/realcheck/smollm2``); write
    each part's files and ``summary.json``; returns ``{"summary", "files", "seconds", "skipped"}``."""
    from grpo_theory.realcheck import covariance, direction_invariance, discard_rate

    t0 = time.time()
    d = out_dir(NAME, out)
    configs = cfg.part_configs()
    modules = {"direction_invariance": direction_invariance, "covariance": covariance,
               "discard_rate": discard_rate}
    files: list[str] = []
    skipped: list[str] = []
    summary: dict[str, Any] = {}
    grads = _expected_grads(cfg)
    for part in cfg.parts:
        pdir = d / part
        res = _done(pdir / "result.json", configs[part], grads)
        if res is not None:
            skipped.append(part)
        else:
            if policy is None:
                policy = load(cfg.model, threads=cfg.threads)
            got = restrict_gradients(policy.model, cfg.grad_layers)
            if jsonable(got) != jsonable(grads):
                grads = got  # another model than the expected SmolLM2 layout: record what was used
            if part == "prompt_family":
                res = prompt_family(policy, cfg, progress=progress)
                res["differentiated"] = grads
                files += [str(write_json(pdir / "result.json", res)),
                          str(write_csv(pdir / "prompts.csv", res["prompts"]))]
            else:
                mod = modules[part]
                try:
                    res = mod.run_experiment(configs[part], policy=policy, progress=progress)
                except RuntimeError as e:  # e.g. too few intermediate prompts: report it, run the other parts
                    summary[part] = {"error": str(e)}
                    continue
                res["differentiated"] = grads
                files += mod.write(res, str(pdir))
            res = json.loads((pdir / "result.json").read_text())
        summary[part] = _part_summary(part, res)
    files.append(str(write_json(d / "summary.json", {"config": asdict(cfg), "summary": summary,
                                                      "env": env_snapshot()})))
    return {"summary": summary, "files": files, "skipped": skipped, "seconds": time.time() - t0}


__all__ = ["FAMILIES", "PARTS", "SmolChecksConfig", "family_problems", "histogram", "prompt_family", "run"]
