r"""Exact means and variances of the group estimators on a toy policy, by enumeration.

For an advantage that is a symmetric function of the group's binary rewards, the rollouts are
independent given their rewards (:math:`g_i\sim\pi^{r_i}`), so with :math:`m^1 = m^+`,
:math:`m^0 = m^-`, :math:`s_x = \mathbb E[\|g\|^2\mid r=x]`, :math:`P(1) = p`, and the advantage
moments :math:`a_x, a^{(2)}_x, a_{xy}` of :func:`~grpo_theory.montecarlo.exact.advantage_moments`:

.. math::

    \mathbb E[\hat g_G\mid q] = \sum_x P(x)\,a_x\,m^x,\qquad
    \mathbb E\|\hat g_G\|^2 = \frac1G\sum_x P(x)\,a^{(2)}_x s_x
    + \frac{G-1}{G}\sum_{x,y}P(x)P(y)\,a_{xy}\langle m^x, m^y\rangle .

For the sequence score, :math:`\sum_x P(x)a_x m^x = (a_1 - a_0)\nabla p = \lambda_G(p)\nabla p`.

A mini-batch draws Q prompts uniformly with replacement from the policy's prompts and G rollouts
for each, so (law of total variance, traces):

.. math::

    \mathrm{Var}\Big(\frac1Q\sum_j\hat g_G(q_j)\Big) = \frac{\mathrm{Var}_q(\mathbb E[\hat g_G\mid q])}{Q}
    + \frac{\mathbb E_q\mathrm{Var}(\hat g_G\mid q)}{Q}.

If the G per-rollout terms :math:`A_ig_i` were i.i.d. given q, the second term would be
:math:`\mathbb E_q\mathrm{Var}(A_1g_1\mid q)/(QG)` (the "hierarchical" form); the difference is the
within-group coupling :math:`\frac{G-1}{G}\mathrm{Cov}(A_1g_1, A_2g_2\mid q)/Q`.
"""

from __future__ import annotations

import torch

from grpo_theory.montecarlo.exact import advantage_moments
from grpo_theory.montecarlo.toy_policy import ToyPolicy, conditional_probs, require_shared_parameters
from grpo_theory.vocab import ScoreKind

Tensor = torch.Tensor


def _class_moments(policy: ToyPolicy, kind: ScoreKind) -> tuple[Tensor, Tensor]:
    """``m [Q, 2, D]`` (index x = reward) and ``s [Q, 2]`` second moments E[||g||^2 | r=x]."""
    g = policy.score(kind)
    pi_p, pi_m = conditional_probs(policy)
    pis = torch.stack([pi_m, pi_p], 1).nan_to_num(0.0)  # (Q, 2, N): x = 0, 1
    m = torch.einsum("qxn,qnd->qxd", pis, g)
    s = torch.einsum("qxn,qn->qx", pis, (g * g).sum(-1))
    return m, s


def group_moments(
    policy: ToyPolicy, group_size: int, family: dict, kind: ScoreKind = "summed"
) -> dict[str, Tensor]:
    """Exact per-prompt mean ``[Q, D]`` and variance trace ``[Q]`` of :math:`\\hat g_G(q)`.

    Args:
        policy: the toy policy.
        group_size: G.
        family: closed-form advantage keywords for :func:`~grpo_theory.montecarlo.exact.advantage_moments`
            (e.g. ``{"family": "grpo", "std_ddof": 0, "eps": 0.0}``, ``{"family": "rloo"}``).
        kind: score function.

    Returns:
        dict with ``mean`` ``[Q, D]``, ``var`` ``[Q]`` (trace of Var(ĝ_G | q)), ``var_single`` ``[Q]``
        (trace of Var(A_1 g_1 | q)) and ``lam`` ``[Q]`` (:math:`a_1 - a_0`).
    """
    g = group_size
    m, s = _class_moments(policy, kind)
    p = policy.success_prob()
    mean, var, var1, lam = [], [], [], []
    for q in range(policy.num_prompts):
        pq = float(p[q])
        mom = advantage_moments(g, pq, **family)
        px = torch.tensor([1 - pq, pq], dtype=m.dtype)
        a = torch.tensor(mom["a"], dtype=m.dtype)
        a2 = torch.tensor(mom["a2"], dtype=m.dtype)
        a12 = torch.tensor(mom["a12"], dtype=m.dtype)
        mu = torch.einsum("x,x,xd->d", px, a, m[q])
        single = (px * a2 * s[q]).sum()
        gram = m[q] @ m[q].T  # (2, 2) <m^x, m^y>
        cross = torch.einsum("x,y,xy,xy->", px, px, a12, gram)
        second = single / g + (g - 1) / g * cross
        mean.append(mu)
        var.append(second - mu @ mu)
        # Var(A_1 g_1) = E||A_1 g_1||^2 - ||E A_1 g_1||^2, and E A_1 g_1 = E ĝ_G.
        var1.append(single - mu @ mu)
        lam.append(a[1] - a[0])
    return {"mean": torch.stack(mean), "var": torch.stack(var), "var_single": torch.stack(var1),
            "lam": torch.stack(lam)}


def minibatch_variance(
    policy: ToyPolicy, num_prompts: int, group_size: int, family: dict, kind: ScoreKind = "summed"
) -> dict[str, float]:
    """Exact variance trace of the mini-batch estimator, split into its two terms.

    Returns:
        dict with ``total``, ``prompt_term`` (:math:`\\mathrm{Var}_q(\\mathbb E[\\hat g\\mid q])/Q`),
        ``within_term`` (:math:`\\mathbb E_q\\mathrm{Var}(\\hat g\\mid q)/Q`), ``iid_within_term``
        (:math:`\\mathbb E_q\\mathrm{Var}(A_1g_1\\mid q)/(QG)`, the value if rollouts were
        uncoupled), ``hierarchical`` (= prompt_term + iid_within_term) and ``mean_norm2``
        (:math:`\\|\\mathbb E\\hat g\\|^2`).
    """
    require_shared_parameters(policy, "minibatch_variance")
    mom = group_moments(policy, group_size, family, kind)
    mu = mom["mean"]
    pop_mean = mu.mean(0)
    var_q = float((mu * mu).sum(-1).mean() - pop_mean @ pop_mean)
    prompt = var_q / num_prompts
    within = float(mom["var"].mean()) / num_prompts
    iid = float(mom["var_single"].mean()) / (num_prompts * group_size)
    return {
        "total": prompt + within,
        "prompt_term": prompt,
        "within_term": within,
        "iid_within_term": iid,
        "hierarchical": prompt + iid,
        "mean_norm2": float(pop_mean @ pop_mean),
    }


def pair_moments(
    policy: ToyPolicy, kind: ScoreKind = "summed", weights: Tensor | None = None
) -> dict[str, float]:
    """Exact traces for a pair :math:`(g^+, g^-)`: prompt :math:`q\\sim w`, then
    :math:`o^\\pm\\sim\\pi^\\pm(\\cdot\\mid q)` independently.

    By the law of total covariance, :math:`\\mathrm{Cov}(g^+, g^-) = \\mathrm{Cov}_q(m^+_q, m^-_q)`
    (the within-prompt term is 0 for independent draws).

    Args:
        policy: the toy policy; only prompts with :math:`0<p_q<1` may have positive weight.
        kind: score function.
        weights: ``[Q]`` prompt probabilities (default uniform).

    Returns:
        dict with ``var_plus``, ``var_minus``, ``cov``, ``rho`` (= cov / sqrt(var_plus var_minus)),
        ``c_star`` (= cov / var_minus), ``mean_plus_norm2`` and ``mean_minus_norm2``.
    """
    require_shared_parameters(policy, "pair_moments")
    m, s = _class_moments(policy, kind)
    w = torch.full((policy.num_prompts,), 1.0 / policy.num_prompts,
                   dtype=m.dtype) if weights is None else weights
    mean_m, mean_p = torch.einsum("q,qd->d", w, m[:, 0]), torch.einsum("q,qd->d", w, m[:, 1])
    var_p = float((w * s[:, 1]).sum() - mean_p @ mean_p)
    var_m = float((w * s[:, 0]).sum() - mean_m @ mean_m)
    cov = float((w * (m[:, 1] * m[:, 0]).sum(-1)).sum() - mean_p @ mean_m)
    return {
        "var_plus": var_p,
        "var_minus": var_m,
        "cov": cov,
        "rho": cov / (var_p * var_m) ** 0.5,
        "c_star": cov / var_m,
        "mean_plus_norm2": float(mean_p @ mean_p),
        "mean_minus_norm2": float(mean_m @ mean_m),
    }


def sample_pair_indices(
    policy: ToyPolicy, num_pairs: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Draws ``num_pairs`` triples: prompt :math:`q\\sim U\\{1..Q\\}`, :math:`o^+\\sim\\pi^+_q`,
    :math:`o^-\\sim\\pi^-_q`.

    Returns:
        ``(prompts [n], idx_plus [n], idx_minus [n])`` (response indices).
    """
    pi_p, pi_m = conditional_probs(policy)
    prompts = torch.randint(policy.num_prompts, (num_pairs,), generator=generator)
    out = []
    for pi in (pi_p, pi_m):
        cdf = pi.cumsum(-1)[prompts]  # (n, N)
        u = torch.rand(num_pairs, 1, generator=generator, dtype=cdf.dtype) * cdf[:, -1:]
        out.append(torch.searchsorted(cdf, u, right=True).clamp_(max=policy.num_responses - 1).squeeze(-1))
    return prompts, out[0], out[1]


def sample_pairs(
    policy: ToyPolicy, num_pairs: int, generator: torch.Generator, kind: ScoreKind = "summed"
) -> tuple[Tensor, Tensor, Tensor]:
    """Scores of the pairs of :func:`sample_pair_indices`.

    Returns:
        ``(prompts [n], g_plus [n, D], g_minus [n, D])``.
    """
    prompts, ip, im = sample_pair_indices(policy, num_pairs, generator)
    score = policy.score(kind)
    return prompts, score[prompts, ip], score[prompts, im]


def product_variance_terms(policy: ToyPolicy, rewards: Tensor | None = None,
                           kind: ScoreKind = "summed") -> dict[str, float]:
    """Exact terms of the variance-of-a-product identity (v2 Eq. 7) for (r, g), q uniform, o ~ π(·|q).

    .. math::

        \\mathrm{Var}(rg) = \\underbrace{\\mathrm{Var}(g)[\\mathrm{Var}(r) + (\\mathbb E r)^2]}_{\\rm main}
        + \\underbrace{\\mathrm{Cov}(r^2, \\|g\\|^2) - \\|\\mathrm{Cov}(r, g)\\|^2}_{\\rm interaction}
        \\quad\\text{if } \\mathbb E g = 0 \\text{ (traces)}.

    Args:
        policy: the toy policy.
        rewards: ``[Q, N]`` rewards (default: the policy's binary rewards).
        kind: score function; ``"length-normalized"`` has :math:`\\mathbb E g \\ne 0` and the identity fails.

    Returns:
        dict with ``lhs`` (exact Var(rg)), ``main``, ``interaction``, ``rhs`` (= main + interaction)
        and ``mean_g_norm2`` (:math:`\\|\\mathbb E g\\|^2`).
    """
    require_shared_parameters(policy, "product_variance_terms")
    r = policy.rewards if rewards is None else rewards
    g = policy.score(kind)
    w = policy.probs / policy.num_prompts  # (Q, N) joint weights of (q, o)
    sq = (g * g).sum(-1)
    e_r, e_r2 = float((w * r).sum()), float((w * r * r).sum())
    e_g = torch.einsum("qn,qnd->d", w, g)
    e_rg = torch.einsum("qn,qn,qnd->d", w, r, g)
    var_g = float((w * sq).sum() - e_g @ e_g)
    lhs = float((w * r * r * sq).sum() - e_rg @ e_rg)
    main = var_g * ((e_r2 - e_r**2) + e_r**2)
    cov_r2_g2 = float((w * r * r * sq).sum()) - e_r2 * float((w * sq).sum())
    cov_rg = e_rg - e_r * e_g
    inter = cov_r2_g2 - float(cov_rg @ cov_rg)
    return {"lhs": lhs, "main": main, "interaction": inter, "rhs": main + inter,
            "mean_g_norm2": float(e_g @ e_g)}
