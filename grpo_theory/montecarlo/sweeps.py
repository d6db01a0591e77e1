r"""Monte Carlo sweeps behind the figures: plain dicts of numpy arrays, exact curve next to MC points.

* :func:`lambda_curve`: :math:`\lambda_G(p)` (R6) for several G and both std conventions.
* :func:`variance_vs_group_size`: mini-batch gradient variance at a fixed rollout budget B = QG over
  a population of heterogeneous prompts, with its exact decomposition (R11).
* :func:`control_variate_curve`: :math:`\mathrm{Var}(g^+ - c\,g^-)/\mathrm{Var}(g^+)` against c (R8).

Nothing here plots; every function takes an explicit seed and returns numbers only, and runs on
one intra-op thread (:mod:`.threads`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from grpo_theory.montecarlo import exact
from grpo_theory.montecarlo.bandit import bandit_with_success_probs
from grpo_theory.montecarlo.checks_variance import variance_of_difference
from grpo_theory.montecarlo.estimators import exact_family, minibatch_gradients, sample_group_gradients
from grpo_theory.montecarlo.fixtures import check_tabular, generator
from grpo_theory.montecarlo.stats import mean_stderr
from grpo_theory.montecarlo.tabular import random_tabular_policy
from grpo_theory.montecarlo.threads import single_threaded
from grpo_theory.montecarlo.toy_policy import ToyPolicy, exact_grad_p
from grpo_theory.montecarlo.variance import group_moments, minibatch_variance, pair_moments, sample_pairs
from grpo_theory.vocab import SCORE_KINDS, ScoreKind

F64 = torch.float64


@single_threaded
def lambda_curve(
    group_sizes: Sequence[int] = (2, 3, 4, 8, 16),
    p_grid: Sequence[float] | np.ndarray | None = None,
    std_ddofs: Sequence[int] = (0, 1),
    *,
    eps: float = 0.0,
    n_samples: int = 20_000,
    seed: int = 0,
    num_responses: int = 6,
) -> dict[str, np.ndarray]:
    """Monte Carlo points :math:`\\hat\\lambda_G(p)` with standard errors, and the exact curve.

    One softmax-bandit prompt per grid value p (exactly that success probability). For each prompt
    :math:`\\hat\\lambda = \\langle\\bar g, \\nabla p\\rangle/\\|\\nabla p\\|^2`, the component of the mean
    GRPO gradient along :math:`\\nabla p` (advantages from ``group_advantages(scale="group",
    std_ddof=d, eps=eps)``).

    Returns:
        dict with ``p`` ``[P]``, ``G`` ``[nG]``, ``std_ddof`` ``[nD]``, and ``mc``, ``se``,
        ``exact`` each ``[nD, nG, P]``.
    """
    p = np.linspace(0.05, 0.95, 19) if p_grid is None else np.asarray(p_grid, dtype=float)
    gen = generator(seed)
    pol = bandit_with_success_probs(torch.tensor(p, dtype=F64), num_responses, gen)
    grad_p = exact_grad_p(pol)
    shape = (len(std_ddofs), len(group_sizes), len(p))
    mc, se, ex = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for a, ddof in enumerate(std_ddofs):
        for b, g in enumerate(group_sizes):
            est = {"scale": "group", "std_ddof": ddof, "eps": eps}
            x = sample_group_gradients(pol, g, n_samples, gen, est)
            proj = torch.einsum("rqd,qd->rq", x, grad_p) / (grad_p * grad_p).sum(-1)
            m, s = mean_stderr(proj)
            mc[a, b], se[a, b] = m.numpy(), s.numpy()
            ex[a, b] = [exact.gradient_scale(g, float(pp), family="grpo", std_ddof=ddof, eps=eps) for pp in p]
    return {"p": p, "G": np.asarray(group_sizes), "std_ddof": np.asarray(std_ddofs), "mc": mc, "se": se,
            "exact": ex}


def population_policy(num_prompts: int = 32, seed: int = 2510) -> ToyPolicy:
    """A tabular policy whose prompts span success probabilities 0.05-0.95 (the variance sweep's
    population)."""
    return random_tabular_policy(num_prompts, generator(seed), offset_scale=0.7, theta_scale=0.3, p_low=0.05,
                                 p_high=0.95)


@single_threaded
def variance_vs_group_size(
    budget: int = 16,
    group_sizes: Sequence[int] = (2, 4, 8, 16),
    estimators: Sequence[str] = ("paper", "rloo"),
    *,
    policy: ToyPolicy | None = None,
    kind: ScoreKind = "summed",
    n_samples: int = 20_000,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Variance (trace) of the mini-batch gradient at a fixed rollout budget B = Q·G.

    Each replicate draws Q = B/G prompts uniformly with replacement from the population
    (:func:`population_policy` by default) and G rollouts per prompt.

    Returns:
        ``{estimator: {...}}`` with arrays over ``G``: ``G``, ``Q``, ``mc`` and ``mc_se`` (Monte Carlo
        variance), ``exact`` (= ``prompt_term`` + ``within_term``), ``prompt_term``
        (:math:`\\mathrm{Var}_q(\\mathbb E[\\hat g|q])/Q`), ``within_term``, ``iid_within_term`` and
        ``hierarchical`` (the uncoupled-rollout prediction :math:`\\mathrm{Var}_q/Q + \\mathbb E_q
        \\mathrm{Var}(A_1g_1|q)/(QG)`), and ``mean_norm2`` (:math:`\\|\\mathbb E\\hat g\\|^2`, to
        normalize across estimators whose means differ).
    """
    pol = population_policy() if policy is None else policy
    gen = generator(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for est in estimators:
        fam = exact_family(est)
        rows: dict[str, list[float]] = {k: [] for k in (
            "G", "Q", "mc", "mc_se", "exact", "prompt_term", "within_term", "iid_within_term", "hierarchical",
            "mean_norm2")}
        for g in group_sizes:
            if budget % g:
                raise ValueError(f"budget {budget} is not a multiple of G={g}")
            q = budget // g
            mv = minibatch_variance(pol, q, g, fam, kind)
            mean = group_moments(pol, g, fam, kind)["mean"].mean(0)
            x = minibatch_gradients(pol, q, g, n_samples, gen, est, kind=kind)
            m, s = mean_stderr(((x - mean) ** 2).sum(-1))
            rows["G"].append(g)
            rows["Q"].append(q)
            rows["mc"].append(float(m))
            rows["mc_se"].append(float(s))
            rows["exact"].append(mv["total"])
            for key in ("prompt_term", "within_term", "iid_within_term", "hierarchical", "mean_norm2"):
                rows[key].append(mv[key])
        out[est] = {k: np.asarray(v) for k, v in rows.items()}
    return out


@single_threaded
def control_variate_curve(
    c_grid: Sequence[float] | np.ndarray | None = None,
    kinds: Sequence[ScoreKind] = SCORE_KINDS,
    *,
    policy: ToyPolicy | None = None,
    mc_points: int = 9,
    n_samples: int = 20_000,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray | float]]:
    """:math:`\\mathrm{Var}(g^+ - c g^-)/\\mathrm{Var}(g^+)` against c: exact curve and MC points.

    Pairs are drawn as in Prop. 4.1: a prompt uniformly, then :math:`o^+\\sim\\pi^+(\\cdot|q)` and
    :math:`o^-\\sim\\pi^-(\\cdot|q)` independently (default policy: the check tabular policy).
    MC points are the sample variance of :math:`g^+ - c g^-` divided by the exact
    :math:`\\mathrm{Var}(g^+)`, at ``mc_points`` values of c spread over the grid.

    Returns:
        ``{kind: {...}}`` with ``c`` (grid), ``exact`` (ratio on the grid), ``mc_c``, ``mc``,
        ``mc_se`` and the scalars ``c_star`` (= Cov/Var(g⁻)), ``c_max`` (= 2 c*), ``rho``,
        ``ratio_at_1`` (GRPO's c = 1) and ``min_ratio`` (= 1 − ρ²).
    """
    pol = check_tabular() if policy is None else policy
    c = np.linspace(-1.0, 3.0, 81) if c_grid is None else np.asarray(c_grid, dtype=float)
    gen = generator(seed)
    out: dict[str, dict[str, np.ndarray | float]] = {}
    for kind in kinds:
        mom = pair_moments(pol, kind)
        vp, vm, cov = mom["var_plus"], mom["var_minus"], mom["cov"]
        curve = (vp + c * c * vm - 2 * c * cov) / vp
        _, gp, gm = sample_pairs(pol, n_samples, gen, kind)
        mc_c = np.linspace(c.min(), c.max(), mc_points)
        mc, se = [], []
        for cc in mc_c:
            m, s = variance_of_difference(gp, gm, float(cc))
            mc.append(m / vp)
            se.append(s / vp)
        out[kind] = {
            "c": c,
            "exact": curve,
            "mc_c": mc_c,
            "mc": np.asarray(mc),
            "mc_se": np.asarray(se),
            "c_star": mom["c_star"],
            "c_max": 2 * mom["c_star"],
            "rho": mom["rho"],
            "ratio_at_1": (vp + vm - 2 * cov) / vp,
            "min_ratio": 1 - mom["rho"] ** 2,
        }
    return out


def cross_prompt_covariance_survey(
    num_policies: int = 50,
    num_prompts: int = 16,
    *,
    seed: int = 0,
    offset_scale: float = 0.7,
) -> dict[str, np.ndarray]:
    """Sign of :math:`\\mathrm{Cov}_q(m^+_q, m^-_q)` (R9, v3 Table 2) over random tabular populations,
    exactly.

    For each of ``num_policies`` random tabular policies (shared parameters, ``num_prompts``
    prompts), the cross-prompt covariance trace of the conditional mean scores is computed by
    enumeration (:func:`~grpo_theory.montecarlo.variance.pair_moments`), for the sequence-sum and
    the token-mean score. No sampling: this measures what the toy family does, it asserts nothing.

    Returns:
        dict with ``cov_<kind>`` and ``rho_<kind>`` ``[num_policies]`` for each kind of ``SCORE_KINDS``.
    """
    gen = generator(seed)
    out: dict[str, list[float]] = {f"{stat}_{kind}": [] for stat in ("cov", "rho") for kind in SCORE_KINDS}
    for _ in range(num_policies):
        pol = random_tabular_policy(num_prompts, gen, offset_scale=offset_scale, theta_scale=0.3, p_low=0.05,
                                    p_high=0.95)
        for kind in SCORE_KINDS:
            m = pair_moments(pol, kind)
            out[f"cov_{kind}"].append(m["cov"])
            out[f"rho_{kind}"].append(m["rho"])
    return {k: np.asarray(v) for k, v in out.items()}
