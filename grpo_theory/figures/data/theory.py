r"""Data for the theory figures F1-F4: exact values from :mod:`grpo_theory.theory` and Monte Carlo
estimates from :mod:`grpo_theory.montecarlo`, whose estimators take their advantages from
:mod:`grpo_theory.losses`.

Every function takes a config dict (seed, sample sizes, grids) and returns lists of floats. Monte
Carlo points come as ``mean`` and ``se`` (standard error over independent replicates).
Axis legend: R replicates, Q prompts, G rollouts per prompt, N responses, D parameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from grpo_theory.figures.configs import F1_CONFIG, F2_CONFIG, F3_CONFIG, F4_CONFIG  # noqa: F401 (re-exported)
from grpo_theory.losses import group_advantages
from grpo_theory.montecarlo.bandit import bandit_with_success_probs
from grpo_theory.montecarlo.estimators import minibatch_gradients, sample_group_gradients
from grpo_theory.montecarlo.exact import advantage_given_count
from grpo_theory.montecarlo.tabular import random_tabular_policy
from grpo_theory.montecarlo.toy_policy import ToyPolicy, conditional_moments, conditional_probs, exact_grad_p
from grpo_theory.theory import gradient_scale, zero_signal_probability
from grpo_theory.vocab import ScoreKind

Tensor = torch.Tensor


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _g_value(G: Any) -> int | float:
    return math.inf if G == "inf" else int(G)


# ------------------------------------------------------------------------------------------------ F1




def lambda_g(cfg: dict[str, Any]) -> dict[str, Any]:
    r"""F1: the gradient scale :math:`\lambda_G(p)`, exact and by Monte Carlo.

    Theory: :func:`grpo_theory.theory.gradient_scale` on a grid of p. Monte Carlo: a softmax bandit
    with one prompt per ``p_mc`` value; the per-prompt GRPO estimate :math:`\hat g_G` is projected
    on :math:`\nabla p` (exact), :math:`\hat\lambda = \langle\hat g_G,\nabla p\rangle/\|\nabla p\|^2`,
    and averaged over replicates. Also returns the cosine between the mean estimate and
    :math:`\nabla p` (direction invariance across G, R6).
    """
    p_line = np.linspace(0.0, 1.0, cfg["p_line"] + 2)[1:-1]
    policy = bandit_with_success_probs(
        torch.tensor(cfg["p_mc"], dtype=torch.float64), cfg["responses"], _gen(cfg["seed"])
    )
    grad_p = exact_grad_p(policy)  # (Q, D)
    norm2 = (grad_p * grad_p).sum(-1)
    out: dict[str, Any] = {"p_line": p_line, "p_mc": policy.success_prob(), "theory": {}, "mc": {}}
    gen = _gen(cfg["seed"] + 1)
    for d in cfg["ddofs"]:
        out["theory"][str(d)] = {str(G): gradient_scale(_g_value(G), p_line, std_ddof=d)
                                 for G in cfg["groups"]}
        out["mc"][str(d)] = {}
        for G in cfg["mc_groups"]:
            est = {"scale": "group", "std_ddof": d, "eps": 0.0}
            g_hat = sample_group_gradients(policy, G, cfg["replicates"], gen, est)  # (R, Q, D)
            lam = (g_hat * grad_p).sum(-1) / norm2  # (R, Q)
            mean_g = g_hat.mean(0)
            cos = (mean_g * grad_p).sum(-1) / (mean_g.norm(dim=-1) * grad_p.norm(dim=-1))
            out["mc"][str(d)][str(G)] = {
                "mean": lam.mean(0),
                "se": lam.std(0) / math.sqrt(lam.shape[0]),
                "cos": cos,
                "exact": [gradient_scale(G, float(p), std_ddof=d) for p in policy.success_prob()],
            }
    return out


# ------------------------------------------------------------------------------------------------ F2




def _population_label(kind: str, a: float) -> str:
    if kind == "point":
        return f"p = {a:g}"
    if kind == "uniform":
        return "p ~ U(0, 1)"
    return f"p ~ Beta({a:g}, {a:g})"


def _moment_pG(kind: str, a: float, G: int) -> float:
    """E[p^G] under the population (exact): point mass, U(0,1) or Beta(a, a)."""
    if kind == "point":
        return a**G
    if kind == "uniform":
        return 1.0 / (G + 1)
    return math.prod((a + j) / (2 * a + j) for j in range(G))


def _sample_population(kind: str, a: float, n: tuple[int, ...], gen: torch.Generator) -> Tensor:
    if kind == "point":
        return torch.full(n, a, dtype=torch.float64)
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    if kind == "uniform":
        return u
    # Beta(a, a) by the inverse of its CDF is not in torch; use the ratio of Gammas.
    x = torch.distributions.Gamma(torch.tensor(a, dtype=torch.float64),
                                  torch.tensor(1.0, dtype=torch.float64))
    torch.manual_seed(int(gen.initial_seed()))
    g1, g2 = x.sample(n), x.sample(n)
    return g1 / (g1 + g2)


def zero_signal(cfg: dict[str, Any]) -> dict[str, Any]:
    r"""F2: :math:`P_0(G, p) = p^G + (1-p)^G`, and informative prompts in a batch of B rollouts.

    With Q = B / G prompts per batch, the expected number of prompts whose group is not tied is
    :math:`(B/G)\,(1 - \mathbb E_q[p_q^G] - \mathbb E_q[(1-p_q)^G])` (exact moments of each
    population). Monte Carlo: ``batches`` batches of Q prompts drawn from the population, G Bernoulli
    rewards each; a prompt counts as informative when the loss library gives its group a nonzero
    advantage.
    """
    p_line = np.linspace(0.0, 1.0, cfg["p_line"])
    gen = _gen(cfg["seed"])
    out: dict[str, Any] = {
        "p_line": p_line,
        "p0": {str(G): zero_signal_probability(G, p_line) for G in cfg["groups_p0"]},
        "budget": cfg["budget"],
        "groups_batch": cfg["groups_batch"],
        "populations": [],
    }
    for kind, a in cfg["populations"]:
        exact, mean, se = [], [], []
        for G in cfg["groups_batch"]:
            q = cfg["budget"] // G
            # E[(1-p)^G] = E[p^G] for the symmetric populations; not for a point mass.
            e_pg = _moment_pG(kind, a, G)
            e_qg = (1 - a) ** G if kind == "point" else e_pg
            exact.append(q * (1.0 - e_pg - e_qg))
            p = _sample_population(kind, a, (cfg["batches"], q), gen)  # (R, Q)
            rewards = (torch.rand(cfg["batches"], q, G, generator=gen, dtype=torch.float64) < p.unsqueeze(-1))
            adv = group_advantages(rewards.to(torch.float64).reshape(-1, G)).reshape(cfg["batches"], q, G)
            informative = (adv != 0).any(-1).sum(-1).to(torch.float64)  # (R,)
            mean.append(informative.mean())
            se.append(informative.std() / math.sqrt(cfg["batches"]))
        out["populations"].append(
            {"label": _population_label(kind, a), "exact": exact, "mc_mean": mean, "mc_se": se}
        )
    return out


# ------------------------------------------------------------------------------------------------ F3




def _family(estimator: str) -> dict[str, Any]:
    return {"family": "rloo"} if estimator == "rloo" else {"family": "grpo", "std_ddof": 0, "eps": 0.0}


def group_moments(policy: ToyPolicy, G: int, family: dict[str, Any],
                  kind: ScoreKind = "summed") -> tuple[Tensor, Tensor]:
    r"""Exact per-prompt mean ``[Q, D]`` and trace variance ``[Q]`` of
    :math:`\hat g_G(q) = \frac1G\sum_i A_i g_i`.

    Given k correct rollouts, the positives are i.i.d. from :math:`\pi^+` and the negatives from
    :math:`\pi^-`; with :math:`A^\pm(k)` the advantages of the family and
    :math:`S^\pm = \mathbb E_{\pi^\pm}\|g\|^2`,

    .. math::

        G^2\,\mathbb E[\|\hat g\|^2\mid k] = A^{+2}(kS^+ + k(k-1)\|m^+\|^2)
        + A^{-2}((G-k)S^- + (G-k)(G-k-1)\|m^-\|^2) + 2A^+A^-k(G-k)\langle m^+, m^-\rangle,

    averaged over :math:`k\sim\mathrm{Bin}(G, p_q)`.
    """
    mom = conditional_moments(policy, kind)
    mp, mm, p = mom["m_plus"], mom["m_minus"], mom["p"]
    sp_, sm = mom["var_plus"] + (mp * mp).sum(-1), mom["var_minus"] + (mm * mm).sum(-1)
    mean = torch.zeros_like(mp)
    second = torch.zeros_like(p)
    for k in range(1, G):
        w = math.comb(G, k) * p**k * (1 - p) ** (G - k)  # (Q,)
        a_p = advantage_given_count(1, k, G, **family)
        a_m = advantage_given_count(0, k, G, **family)
        mean = mean + w.unsqueeze(-1) * (k * a_p * mp + (G - k) * a_m * mm) / G
        sq = (
            a_p**2 * (k * sp_ + k * (k - 1) * (mp * mp).sum(-1))
            + a_m**2 * ((G - k) * sm + (G - k) * (G - k - 1) * (mm * mm).sum(-1))
            + 2 * a_p * a_m * k * (G - k) * (mp * mm).sum(-1)
        )
        second = second + w * sq / G**2
    return mean, second - (mean * mean).sum(-1)


def population_policy(spec: dict[str, Any], seed: int) -> ToyPolicy:
    """The heterogeneous prompt population of F3/F4: a tabular policy with parameters shared by all
    prompts."""
    return random_tabular_policy(
        spec["prompts"],
        _gen(seed),
        vocab=spec["vocab"],
        max_len=spec["max_len"],
        offset_scale=spec["offset_scale"],
        p_low=spec["p_low"],
        p_high=spec["p_high"],
    )


def variance_budget(cfg: dict[str, Any]) -> dict[str, Any]:
    r"""F3: variance of the mini-batch gradient at a fixed rollout budget B = QG (R11).

    Prompts are drawn uniformly with replacement from the population, so exactly

    .. math::

        \mathrm{Var}(\hat g_B) = \frac{\mathrm{Var}_q(\mathbb E[\hat g_G\mid q])}{Q}
        + \frac{\mathbb E_q\mathrm{Var}(\hat g_G\mid q)}{Q},\qquad Q = B/G.

    For per-rollout terms that are i.i.d. given q the second term would be
    :math:`\mathbb E_q\mathrm{Var}(g\mid q)/(QG)`, constant at fixed B; GRPO's within-group coupling
    makes :math:`G\,\mathbb E_q\mathrm{Var}(\hat g_G\mid q)` depend on G. Values are reported as
    they are and relative to :math:`\|\mathbb E\hat g_B\|^2` (the estimator's own scale, since
    :math:`\lambda_G` rescales GRPO's mean with G). Monte Carlo: ``replicates`` mini-batches.
    """
    policy = population_policy(cfg["population"], cfg["seed"])
    gen = _gen(cfg["seed"] + 1)
    B = cfg["budget"]
    out: dict[str, Any] = {"budget": B, "groups": cfg["groups"], "p": policy.success_prob(), "estimators": {}}
    for name in cfg["estimators"]:
        rows: dict[str, list[float]] = {k: [] for k in ("prompt", "within", "total", "mc", "mc_se",
                                                        "mean_norm2")}
        for G in cfg["groups"]:
            Q = B // G
            mean_q, var_q = group_moments(policy, G, _family(name))  # (Qpop, D), (Qpop,)
            mu = mean_q.mean(0)
            prompt = ((mean_q - mu) ** 2).sum(-1).mean() / Q
            within = var_q.mean() / Q
            g = minibatch_gradients(policy, Q, G, cfg["replicates"], gen, name)  # (R, D)
            dev = ((g - mu) ** 2).sum(-1)
            rows["prompt"].append(float(prompt))
            rows["within"].append(float(within))
            rows["total"].append(float(prompt + within))
            rows["mc"].append(float(dev.mean()))
            rows["mc_se"].append(float(dev.std() / math.sqrt(dev.shape[0])))
            rows["mean_norm2"].append(float((mu * mu).sum()))
        out["estimators"][name] = rows
    return out


# ------------------------------------------------------------------------------------------------ F4




def control_variate(cfg: dict[str, Any]) -> dict[str, Any]:
    r"""F4: :math:`\mathrm{Var}(g^+ - c\,g^-)/\mathrm{Var}(g^+)` vs c (Prop. 4.1, R8).

    The v3 App. B.8 setting: draw a prompt q uniformly from the population, then one positive
    :math:`o^+\sim\pi^+_q` and one negative :math:`o^-\sim\pi^-_q` independently. Exact moments
    (law of total covariance; the within-prompt covariance is 0):
    :math:`\mathrm{Var}(g^\pm) = \mathbb E_q S^\pm_q - \|\mathbb E_q m^\pm_q\|^2`,
    :math:`\mathrm{Cov} = \mathbb E_q\langle m^+_q, m^-_q\rangle
    - \langle\mathbb E m^+, \mathbb E m^-\rangle`,
    and the ratio is :math:`1 + c^2 V^-/V^+ - 2c\,\mathrm{Cov}/V^+`. Monte Carlo: the same ratio
    from ``pairs`` sampled pairs, standard errors by batch means.
    """
    from grpo_theory.montecarlo.stats import batch_means

    policy = population_policy(cfg["population"], cfg["seed"])
    gen = _gen(cfg["seed"] + 1)
    c = np.asarray(cfg["c"], dtype=float)
    pi_p, pi_m = conditional_probs(policy)
    out: dict[str, Any] = {"c": c, "c_mc": cfg["c_mc"], "kinds": {}}
    R = cfg["pairs"]
    q_idx = torch.randint(policy.num_prompts, (R,), generator=gen)
    i_p = torch.multinomial(pi_p[q_idx], 1, generator=gen).squeeze(-1)
    i_m = torch.multinomial(pi_m[q_idx], 1, generator=gen).squeeze(-1)
    for kind in cfg["kinds"]:
        mom = conditional_moments(policy, kind)
        mp, mm = mom["m_plus"], mom["m_minus"]
        s_p = (mom["var_plus"] + (mp * mp).sum(-1)).mean()
        s_m = (mom["var_minus"] + (mm * mm).sum(-1)).mean()
        e_p, e_m = mp.mean(0), mm.mean(0)
        v_p = float(s_p - (e_p * e_p).sum())
        v_m = float(s_m - (e_m * e_m).sum())
        cov = float((mp * mm).sum(-1).mean() - (e_p * e_m).sum())
        score = policy.score(kind)
        g_p, g_m = score[q_idx, i_p], score[q_idx, i_m]  # (R, D)

        def ratio_at(cc: float):
            def stat(gp: Tensor, gm: Tensor) -> float:
                x = gp - cc * gm
                return float(((x - x.mean(0)) ** 2).sum(-1).mean() / ((gp - gp.mean(0)) ** 2).sum(-1).mean())

            return stat

        mc = [batch_means(ratio_at(cc), (g_p, g_m), n_batches=40) for cc in cfg["c_mc"]]
        out["kinds"][kind] = {
            "var_plus": v_p,
            "var_minus": v_m,
            "cov": cov,
            "rho": cov / math.sqrt(v_p * v_m),
            "c_star": cov / v_m,
            "c_max": 2 * cov / v_m,
            "ratio": 1 + c**2 * v_m / v_p - 2 * c * cov / v_p,
            "mc_mean": [m for m, _ in mc],
            "mc_se": [s for _, s in mc],
        }
    return out


def control_variate_with_real(cfg: dict[str, Any]) -> dict[str, Any]:
    """F4 data: :func:`control_variate` on the toy, plus the real-model moments of
    ``grpo-theory realcheck covariance``."""
    import json

    from grpo_theory.figures.paths import REPO_ROOT

    out = control_variate(cfg)
    out["real"] = []
    for rel in cfg.get("real_files", []):
        res = json.loads((REPO_ROOT / rel).read_text())
        model = str(res.get("config", {}).get("model", rel)).rstrip("/").split("/")[-1]
        for kind, st in res.get("statistics", {}).items():
            tot = st.get("total") or {}
            if not tot.get("var_pos") or not tot.get("var_neg"):
                continue
            vp, vm, cov = float(tot["var_pos"]), float(tot["var_neg"]), float(tot["cov_pos_neg"])
            out["real"].append({
                "model": model, "kind": kind, "var_plus": vp, "var_minus": vm, "cov": cov,
                "rho": cov / math.sqrt(vp * vm), "c_star": cov / vm,
                "permuted_mean": (st.get("across_prompts") or {}).get("permuted_mean"),
                "prompts": st.get("mixed_prompts"),
                "ratio": 1 + np.asarray(cfg["c"]) ** 2 * vm / vp - 2 * np.asarray(cfg["c"]) * cov / vp,
            })
    return out


# --------------------------------------------------------------------------------------------- F11 (R16)
def group_size_budget(cfg: dict[str, Any]) -> dict[str, Any]:
    """F11 (R16): exact per-step errors vs G at a fixed budget N = BG for three targets, both toys; fits;
    MC points.

    Exact: :func:`grpo_theory.theory.group_size.budget_errors`; fit: :func:`fit_budget_constants` on the
    bias-free parts; Monte Carlo: sampled steps through the loss library's advantages
    (:func:`grpo_theory.montecarlo.checks_real_rewards.step_gradients`).
    """
    from grpo_theory.montecarlo.checks_real_rewards import step_gradients
    from grpo_theory.theory.group_size import (
        TARGETS,
        budget_errors,
        fit_budget_constants,
        toy_features,
        toy_prompts,
    )

    N, Gs = int(cfg["budget"]), [int(g) for g in cfg["groups"]]
    gen = _gen(int(cfg["seed"]))
    out: dict[str, Any] = {"budget": N, "groups": Gs, "targets": list(TARGETS), "toys": {}}
    for kind in ("binary", "real"):
        prompts = toy_prompts(kind)
        phi = toy_features(len(prompts))
        e = budget_errors(prompts, N, Gs)
        toy: dict[str, Any] = {"exact": {t: e[t].tolist() for t in TARGETS},
                               "bias": {t: e[f"{t}_bias"].tolist() for t in ("grad", "direction")}, "fit": {},
                               "mc": {}}
        for t in TARGETS:
            part = e[t] if t == "own" else e[f"{t}_var"]
            fit = fit_budget_constants(e["B"], e["G"], part)
            toy["fit"][t] = {"c": fit.c.tolist(), "c_ci": fit.c_ci.tolist(), "g_star": fit.g_star,
                             "g_star_ci": list(fit.g_star_ci), "ratio": fit.ratio,
                             "g2_optimal": fit.g2_optimal,
                             "rel_residual": fit.rel_residual}
        mcg = [int(g) for g in cfg["mc_groups"]]
        rows: dict[str, list[list[float]]] = {t: [] for t in TARGETS}
        for g in mcg:
            ex = budget_errors(prompts, N, [g])
            mu, tgt = torch.tensor(ex["mean"][0]), torch.tensor(ex["target"])
            x = step_gradients(prompts, phi, N // g, g, int(cfg["replicates"]), gen)
            u = tgt / tgt.norm()
            per = {"own": ((x - mu) ** 2).sum((1, 2)) / (mu * mu).sum(),
                   "grad": ((x - tgt) ** 2).sum((1, 2)) / (tgt * tgt).sum(),
                   "direction": ((x - (x * u).sum((1, 2), keepdim=True) * u) ** 2).sum((1, 2))
                   / float((u * mu).sum()) ** 2}
            for t, v in per.items():
                rows[t].append([float(v.mean()), float(v.std() / math.sqrt(len(v)))])
        toy["mc"] = {"groups": mcg, **rows}
        out["toys"][kind] = toy
    return out
