r"""Monte Carlo checks of the variance results: R8-R12.

Pairs and mini-batches drawn from the fixed tabular policy, compared with exact moments by
enumeration (:mod:`.variance`, :mod:`.toy_policy`); R12 simulates rollouts on sampled success
probability sequences.
"""

from __future__ import annotations

import math

import torch

from grpo_theory.montecarlo import exact
from grpo_theory.montecarlo.estimators import exact_family, minibatch_gradients, sample_groups
from grpo_theory.montecarlo.fixtures import check_directions, check_tabular, fixture_policy, generator
from grpo_theory.montecarlo.stats import (
    IDENTITY_TOL,
    McResult,
    batch_means,
    bonferroni_z,
    covariance_trace,
    identity_result,
    mean_stderr,
    result,
    variance_trace,
    with_detail,
    worst,
)
from grpo_theory.montecarlo.toy_policy import conditional_moments, gather_prompts, sample_indices
from grpo_theory.montecarlo.variance import (
    group_moments,
    minibatch_variance,
    pair_moments,
    product_variance_terms,
    sample_pairs,
)
from grpo_theory.vocab import SCORE_KINDS

Tensor = torch.Tensor
F64 = torch.float64


# --------------------------------------------------------------------------------------------- R8
def variance_of_difference(gp: Tensor, gm: Tensor, c: float) -> tuple[float, float]:
    """Unbiased trace variance of :math:`g^+ - c g^-` from pairs ``[n, D]``, with its stderr."""
    return variance_trace(gp - c * gm)


def check_r8(n: int, seed: int) -> McResult:
    """R8: Var(g⁺ − c g⁻) vs Var(g⁺) + c² Var(g⁻) − 2c Cov at c ∈ {0, 1, c*, 2c*} (traces)."""
    gen = generator(seed)
    pol = check_tabular()
    subs, notes = [], []
    for kind in SCORE_KINDS:
        mom = pair_moments(pol, kind)
        _, gp, gm = sample_pairs(pol, n, gen, kind)
        cs = {"0": 0.0, "1 (GRPO)": 1.0, "c*": mom["c_star"], "2c*": 2 * mom["c_star"]}
        for label, c in cs.items():
            ex = mom["var_plus"] + c * c * mom["var_minus"] - 2 * c * mom["cov"]
            est, se = variance_of_difference(gp, gm, c)
            subs.append((f"{kind} c={label}",
                         result(est, ex, se, f"c={c:.4g}, ratio to Var(g+)={ex / mom['var_plus']:.4f}")))
        # exact moments, not a comparison: reported in the detail only
        notes.append(f"{kind} (exact): Cov={mom['cov']:.4g}, Var(g-)/2={mom['var_minus'] / 2:.4g}, "
                     f"rho={mom['rho']:.4f}, "
                     f"c*={mom['c_star']:.4g}, c=1 reduces variance: {mom['cov'] >= mom['var_minus'] / 2}")
    return with_detail(worst(subs), "; ".join(notes))


# --------------------------------------------------------------------------------------------- R9
def check_r9(n: int, seed: int) -> McResult:
    """R9: m⁻ = −p/(1−p) m⁺; within-prompt Cov(g⁺, g⁻ | q) = 0; cross-prompt covariance measured."""
    gen = generator(seed)
    subs = []
    for pol_name in ("bandit", "tabular"):
        pol = fixture_policy(pol_name)
        mom = conditional_moments(pol, "summed")
        p = mom["p"].unsqueeze(-1)
        claim_minus = -p / (1 - p) * mom["m_plus"]  # the identity's prediction for m⁻, from exact m⁺
        idx = sample_indices(pol.probs, (n, 1), gen).squeeze(-1)  # (R, Q) on-policy rollouts
        r = torch.gather(pol.rewards, 1, idx.T).T  # (R, Q)
        g = pol.scores[torch.arange(pol.num_prompts), idx]  # (R, Q, D)
        dirs = torch.cat([(claim_minus / claim_minus.norm(dim=-1, keepdim=True)).unsqueeze(1),
                          check_directions(pol.num_prompts, pol.dim)], 1)
        zs = []
        for q in range(pol.num_prompts):
            neg = g[r[:, q] == 0, q]  # draws from π⁻(·|q)
            proj = neg @ dirs[q].T
            m_, se_ = mean_stderr(proj)
            zs.append((m_ - dirs[q] @ claim_minus[q]) / se_)
        zeq, zmax, m = bonferroni_z(torch.stack(zs))
        subs.append((f"{pol_name}: sample m⁻ vs −p/(1−p) m⁺", McResult(zmax, 0.0, 1.0, zeq, zeq <= 4.0,
                     f"{m} projections: raw max|z|={zmax:.2f}, Bonferroni-equivalent z={zeq:.2f}")))
    pol = check_tabular()
    for kind in SCORE_KINDS:
        mom = conditional_moments(pol, kind)
        idx = sample_groups(pol, max(n // 4, 2), 8, gen)
        r = gather_prompts(pol.rewards, idx)  # (R, Q, G)
        mixed = (r.sum(-1) > 0) & (r.sum(-1) < 8)
        first_pos, first_neg = r.argmax(-1), (1 - r).argmax(-1)
        score = pol.score(kind)
        qs = torch.arange(pol.num_prompts).expand_as(first_pos)
        gp = score[qs, torch.gather(idx, 2, first_pos.unsqueeze(-1)).squeeze(-1)]
        gm = score[qs, torch.gather(idx, 2, first_neg.unsqueeze(-1)).squeeze(-1)]
        u = ((gp - mom["m_plus"]) * (gm - mom["m_minus"])).sum(-1)[mixed]
        mu, se = mean_stderr(u)
        subs.append((f"{kind}: within-prompt Cov(g⁺,g⁻|q)", result(float(mu), 0.0, float(se),
                                                                  f"{int(mixed.sum())} mixed groups of 8")))
        pm = pair_moments(pol, kind)
        _, gp2, gm2 = sample_pairs(pol, n, gen, kind)
        mv, sv = covariance_trace(gp2, gm2)
        sign = "+" if pm["cov"] > 0 else "-"
        note = f"measured sign {sign} (exact {pm['cov']:.4g}, rho={pm['rho']:.3f})"
        subs.append((f"{kind}: cross-prompt Cov(g⁺,g⁻)", result(mv, pm["cov"], sv, note)))
    return worst(subs)


# -------------------------------------------------------------------------------------------- R10
def product_variance_rhs(r: Tensor, g: Tensor) -> float:
    """Plug-in :math:`\\mathrm{tr}\\mathrm{Var}(g)[\\mathrm{Var}(r)+(\\mathbb Er)^2] +
    \\mathrm{Cov}(r^2,\\|g\\|^2) - \\|\\mathrm{Cov}(r,g)\\|^2`."""
    gc = g - g.mean(0)
    var_g = float((gc * gc).sum(-1).mean())
    var_r = float(r.var(correction=0))
    cov_r2_g2 = float(((r * r - (r * r).mean()) * ((g * g).sum(-1) - (g * g).sum(-1).mean())).mean())
    cov_rg = ((r - r.mean()).unsqueeze(-1) * gc).mean(0)
    return var_g * (var_r + float(r.mean()) ** 2) + cov_r2_g2 - float(cov_rg @ cov_rg)


def check_r10(n: int, seed: int) -> McResult:
    """R10: Var(r g) = Var(g)[Var(r) + (E r)²] + Cov(r², g²) − Cov(r, g)² when E g = 0 (traces)."""
    gen = generator(seed)
    pol = check_tabular()
    subs = []
    for reward_name in ("binary", "graded"):
        # graded reward: r + length/L, to show the identity is not specific to binary r.
        rew = pol.rewards if reward_name == "binary" else pol.rewards + pol.lengths / pol.lengths.max()
        w = pol.probs / pol.num_prompts  # uniform prompt mixture, (Q, N) joint weights
        g = pol.scores
        erg = torch.einsum("qn,qn,qnd->d", w, rew, g)
        lhs = float((w * rew * rew * (g * g).sum(-1)).sum() - erg @ erg)
        prompts = torch.randint(pol.num_prompts, (n,), generator=gen)
        cdf = pol.probs.cumsum(-1)[prompts]
        u = torch.rand(n, 1, generator=gen, dtype=F64) * cdf[:, -1:]
        idx = torch.searchsorted(cdf, u, right=True).clamp_(max=pol.num_responses - 1).squeeze(-1)
        rs, gs = rew[prompts, idx], g[prompts, idx]
        est, se = batch_means(product_variance_rhs, (rs, gs))
        subs.append((f"{reward_name}: plug-in RHS vs exact Var(rg)",
                     result(est, lhs, se, "batch means, 40 batches")))
        dm, ds = variance_trace(rs.unsqueeze(-1) * gs)
        terms = product_variance_terms(pol, rew)
        tm = product_variance_terms(pol, rew, "length-normalized")
        subs.append((f"{reward_name}: sample Var(rg) vs exact", result(dm, lhs, ds,
                     f"exact: main {terms['main']:.4g}, interaction {terms['interaction']:.4g} "
                     f"({terms['interaction'] / terms['lhs']:.1%} of Var(rg)); token-mean g (E g ≠ 0): "
                     f"Var(rg)={tm['lhs']:.4g} vs RHS {tm['rhs']:.4g}")))
    return worst(subs)


# -------------------------------------------------------------------------------------------- R11
R11_BUDGET = 16
R11_CASES = (("rloo", 2), ("rloo", 4), ("rloo", 16), ("paper", 2), ("paper", 8), ("paper", 16))


def check_r11(n: int, seed: int) -> McResult:
    """R11: mini-batch variance at fixed budget B = QG vs its exact decomposition; GRPO's coupling
    measured."""
    gen = generator(seed)
    pol = check_tabular()
    subs = []
    for est, g in R11_CASES:
        q = R11_BUDGET // g
        fam = exact_family(est)
        mv = minibatch_variance(pol, q, g, fam)
        mean = group_moments(pol, g, fam)["mean"].mean(0)
        x = minibatch_gradients(pol, q, g, n, gen, est)
        u = ((x - mean) ** 2).sum(-1)
        m, se = mean_stderr(u)
        subs.append((f"{est} G={g} Q={q}", result(float(m), mv["total"], float(se),
                                                  f"prompt term {mv['prompt_term']:.4g}, within "
                                                  f"{mv['within_term']:.4g}, "
                                                  f"hierarchical (uncoupled) {mv['hierarchical']:.4g}, "
                                                  f"coupling ratio {mv['total'] / mv['hierarchical']:.4f}")))
    return worst(subs)


# -------------------------------------------------------------------------------------------- R12
def check_r12(n: int, seed: int, rounds: int = 5) -> McResult:
    """R12: the inequality holds on every draw where the premise p_i ≥ p_0 holds, fails only where it does
    not.

    Success-rate sequences: p_0 ~ U(0, ½), p_i = p_0 + s_i (1 − p_0) for s_i > 0 and p_0 + s_i p_0 for s_i <
    0, with s_i ~ U(0, 0.2) on half the draws and U(−0.2, 0.2) on the other half, so the premise fails on
    about half of the draws (sometimes with the conclusion still true). Checked: (a) no draw with the premise
    violates the conclusion (an identity: min margin ≥ 0);
    (b) draws that violate the conclusion exist and all violate the premise (the premise is needed);
    (c) the success probability 1 − Π(1−p_i)² against simulated rollouts (a Monte Carlo comparison).
    """
    gen = generator(seed)
    p0 = 0.5 * torch.rand(n, 1, generator=gen, dtype=F64)
    # half the draws may move down (signed steps), half only up, so both cases are well represented
    signed = torch.rand(n, 1, generator=gen, dtype=F64) < 0.5
    u = torch.rand(n, rounds - 1, generator=gen, dtype=F64)
    steps = torch.where(signed, (u - 0.5) * 0.4, u * 0.2)
    p = torch.cat([p0, (p0 + steps * torch.where(steps > 0, 1 - p0, p0)).clamp(0.0, 1.0)], 1)  # (n, m)
    p_rounds = 1 - ((1 - p) ** 2).prod(-1)
    p_fixed = 1 - (1 - p[:, 0]) ** (2 * rounds)
    margin = p_rounds - p_fixed
    premise = (p[:, 1:] >= p[:, :1]).all(-1)
    fails = margin < -1e-12
    held = float(margin[premise].min()) if bool(premise.any()) else 0.0
    ineq = identity_result(max(-held, 0.0), IDENTITY_TOL, int(premise.sum()),
                           f"premise holds on {float(premise.to(F64).mean()):.1%} of draws, min margin there "
                           f"{held:.3g}")
    needed = McResult(float(fails.sum()), 0.0, 1.0, math.nan,
                      bool(fails.any()) and not bool((fails & premise).any()),
                      f"conclusion fails on {int(fails.sum())} of {n} draws, all with the premise violated "
                      f"({int((fails & premise).sum())} with it); premise violated on "
                      f"{int((~premise).sum())} draws, "
                      f"conclusion still true on {int((~premise & ~fails).sum())} of them", "exact", 0.0)
    hits = (torch.rand(n, rounds, 2, generator=gen, dtype=F64) < p.unsqueeze(-1)).any(-1).any(-1).to(F64)
    est, ex = float(hits.mean()), float(p_rounds.mean())
    se = float((p_rounds * (1 - p_rounds)).sum().sqrt()) / n
    pq = 0.05
    budget = (f"budget caveat at p={pq}: P(a mixed group within 10 epochs) 2-GRPO "
              f"{1 - (1 - 2 * pq * (1 - pq)) ** 10:.3f} vs 16-GRPO "
              f"{1 - exact.zero_signal_probability(16, pq) ** 10:.3f}")
    sim = result(est, ex, se, f"simulated P(at least one success in {rounds}x2 rollouts); {budget}")
    return worst([("simulation", sim), ("inequality under the premise", ineq), ("premise needed", needed)])
