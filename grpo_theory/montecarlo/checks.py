r"""One Monte Carlo check per result R1-R13 where a distribution is involved (all but R14).

``MC_CHECKS[rid](n_samples, seed) -> McResult``. Each check draws from the fixed toy policies of
:mod:`.fixtures` (or from a reward distribution), computes advantages and estimators through
:mod:`grpo_theory.losses`, and compares with an exact value computed independently (exact
enumeration in :mod:`.exact`, :mod:`.variance`, :mod:`.toy_policy`, or a closed form). A check
made of several comparisons reports the worst one (largest |z|) and lists all of them in
``detail``; vector comparisons use projections on fixed directions with a Bonferroni-equivalent z.

Deterministic identities (R1-R4, the inequality of R12 and the bound in R13) are checked on random draws; their
``stderr`` is a float64 tolerance and ``z`` the largest deviation in tolerances.

``n_samples`` is the number of Monte Carlo replicates (groups per prompt, pairs, or draws);
:data:`QUICK_SAMPLES` keeps all checks together within a few seconds on 2 cores.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from grpo_theory.losses import ADVANTAGE_PRESETS, contrastive_form, group_advantages, rloo_advantages
from grpo_theory.montecarlo import exact
from grpo_theory.montecarlo.estimators import group_gradients, sample_group_gradients, sample_groups
from grpo_theory.montecarlo.fixtures import check_bandit, check_directions, check_tabular, generator
from grpo_theory.montecarlo.stats import (
    McResult,
    batch_means,
    bonferroni_z,
    covariance_trace,
    identity_result,
    mean_stderr,
    projected_z,
    result,
    variance_trace,
    worst,
)
from grpo_theory.montecarlo.threads import single_threaded
from grpo_theory.montecarlo.toy_policy import (
    ToyPolicy,
    conditional_moments,
    exact_grad_p,
    gather_prompts,
    sample_indices,
)
from grpo_theory.montecarlo.variance import group_moments, minibatch_variance, pair_moments, sample_pairs

Tensor = torch.Tensor
F64 = torch.float64

QUICK_SAMPLES = 8_000
FULL_SAMPLES = 100_000

#: Float64 tolerance for identities checked draw by draw.
IDENTITY_TOL = 1e-10


def _bernoulli(p: Tensor | float, shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    return (torch.rand(shape, generator=gen, dtype=F64) < p).to(F64)


def _family(estimator: str) -> dict:
    return {"family": "rloo"} if estimator == "rloo" else exact.family_of_preset(ADVANTAGE_PRESETS[estimator])


# --------------------------------------------------------------------------------------------- R1
def check_r1(n: int, seed: int) -> McResult:
    """R1: (1/G) Σ A_i X_i = √(p̂(1−p̂))(X̄⁺ − X̄⁻) (GRPO), p̂(1−p̂)(X̄⁺ − X̄⁻) (Dr. GRPO), pairwise form."""
    gen = generator(seed)
    devs: list[tuple[str, float]] = []
    for g in (2, 5, 16):
        p = torch.rand(n, 1, generator=gen, dtype=F64)
        r = _bernoulli(p, (n, g), gen)
        x = torch.randn(n, g, generator=gen, dtype=F64)
        k = r.sum(-1)
        phat = k / g
        mixed = (k > 0) & (k < g)
        xp = (x * r).sum(-1) / k.clamp(min=1)
        xm = (x * (1 - r)).sum(-1) / (g - k).clamp(min=1)
        diff = torch.where(mixed, xp - xm, torch.zeros_like(xp))
        lhs = (group_advantages(r, **ADVANTAGE_PRESETS["paper"]) * x).mean(-1)
        devs.append((f"GRPO G={g}", float((lhs - (phat * (1 - phat)).sqrt() * diff).abs().max())))
        lhs_dr = (group_advantages(r, scale="none") * x).mean(-1)
        devs.append((f"Dr.GRPO G={g}", float((lhs_dr - phat * (1 - phat) * diff).abs().max())))
        # The library's contrastive form, with X a ratio exp(logp - old_logp) and clipping disabled.
        ratio_logp = 0.3 * torch.randn(n, g, 1, generator=gen, dtype=F64)
        terms = contrastive_form(ratio_logp, torch.zeros_like(ratio_logp), r, torch.ones_like(ratio_logp),
                                 clip_low=0.999, clip_high=1e6)
        xr = ratio_logp.squeeze(-1).exp()
        lhs_ratio = (group_advantages(r, **ADVANTAGE_PRESETS["paper"]) * xr).mean(-1)
        devs.append((f"contrastive_form G={g}", float((terms.objective - lhs_ratio).abs().max())))
        # Real rewards: (1/G) Σ (r_i − r̄) X_i = (1/G²) Σ_{i<j} (r_i − r_j)(X_i − X_j).
        rr = torch.randn(n, g, generator=gen, dtype=F64)
        i, j = torch.triu_indices(g, g, 1)
        pair = ((rr[:, i] - rr[:, j]) * (x[:, i] - x[:, j])).sum(-1) / g**2
        lhs_real = (group_advantages(rr, scale="none") * x).mean(-1)
        devs.append((f"pairwise G={g}", float((lhs_real - pair).abs().max())))
    name, dev = max(devs, key=lambda d: d[1])
    res = identity_result(dev, IDENTITY_TOL, n, f"R1 contrastive identities ({len(devs)} forms, worst {name})")
    return _with_detail(res, "; ".join(f"{a}: {b:.2g}" for a, b in devs))


def _with_detail(res: McResult, extra: str) -> McResult:
    return McResult(res.estimate, res.exact, res.stderr, res.z, res.passed, f"{res.detail}; {extra}")


# --------------------------------------------------------------------------------------------- R2
def check_r2(n: int, seed: int) -> McResult:
    """R2: G = 2 advantages are ±1/(1+2ε) (ddof 0), ±1/√2 (ddof 1), sign(r_i − r_j) for real rewards."""
    gen = generator(seed)
    r = _bernoulli(0.5, (n, 2), gen)
    diff = r - r.flip(-1)  # r_i - r_j
    devs = []
    for eps in (0.0, 0.1, 1e-6):
        a = group_advantages(r, scale="group", std_ddof=0, eps=eps)
        devs.append((f"ddof0 eps={eps}", a, diff / (1 + 2 * eps)))
    devs.append(("ddof1 eps=0", group_advantages(r, scale="group", std_ddof=1, eps=0.0), diff / math.sqrt(2)))
    for name, rr in (
        ("gaussian", torch.randn(n, 2, generator=gen, dtype=F64)),
        ("cauchy", torch.tan(math.pi * (torch.rand(n, 2, generator=gen, dtype=F64) - 0.5))),
        ("ties", torch.randint(0, 3, (n, 2), generator=gen).to(F64)),
    ):
        devs.append((f"sign, {name} rewards", group_advantages(rr, **ADVANTAGE_PRESETS["paper"]),
                     torch.sign(rr - rr.flip(-1))))
    worst_name, worst_dev = "", -1.0
    parts = []
    for name, a, want in devs:
        d = float((a - want).abs().max())
        parts.append(f"{name}: max dev {d:.2g}, exact-equal rate {float((a == want).to(F64).mean()):.4f}")
        if d > worst_dev:
            worst_name, worst_dev = name, d
    res = identity_result(worst_dev, IDENTITY_TOL, n, f"R2 G=2 advantages (worst {worst_name})")
    return _with_detail(res, "; ".join(parts))


# --------------------------------------------------------------------------------------------- R3
def check_r3(n: int, seed: int) -> McResult:
    """R3: 2-GRPO = RLOO(G=2) = 2 × Dr. GRPO(G=2) for binary rewards, as advantages and as gradients."""
    gen = generator(seed)
    r = _bernoulli(torch.rand(n, 1, generator=gen, dtype=F64), (n, 2), gen)
    a_2grpo = group_advantages(r, **ADVANTAGE_PRESETS["paper"])
    a_rloo, a_dr = rloo_advantages(r), group_advantages(r, **ADVANTAGE_PRESETS["dr_grpo"])
    pol = check_tabular()
    idx = sample_groups(pol, max(n // 8, 2), 2, gen)
    g2, gr, gd = (group_gradients(pol, idx, e) for e in ("paper", "rloo", "dr_grpo"))
    devs = {
        "A: 2-GRPO vs RLOO": float((a_2grpo - a_rloo).abs().max()),
        "A: 2-GRPO vs 2 Dr.GRPO": float((a_2grpo - 2 * a_dr).abs().max()),
        "grad: 2-GRPO vs RLOO": float((g2 - gr).abs().max()),
        "grad: 2-GRPO vs 2 Dr.GRPO": float((g2 - 2 * gd).abs().max()),
    }
    name = max(devs, key=devs.__getitem__)
    res = identity_result(devs[name], IDENTITY_TOL, n, f"R3 (worst {name})")
    return _with_detail(res, "; ".join(f"{k}: {v:.2g}" for k, v in devs.items()))


# --------------------------------------------------------------------------------------------- R4
R4_BETA = 0.1


def pair_gradients(
    policy: ToyPolicy, prompts: Tensor, ip: Tensor, im: Tensor, *, beta: float, loss_agg_mode: str,
    ref_theta: Tensor | None = None,
) -> dict[str, Tensor]:
    """Per-token gradients of the library's 2-GRPO and DPO losses on given (o⁺, o⁻) pairs, at ratio 1.

    Each pair is one 2-rollout group ``[P, 2, T]`` (rollout 0 = o⁺, reward 1; rollout 1 = o⁻,
    reward 0), T = the longest response. Only sequence log-probs enter DPO and, at ratio 1, the
    2-GRPO gradient does not depend on the per-token values, so each sequence's log-prob is spread
    evenly over its tokens. ``ref_theta`` (default: the policy's own θ, i.e. π = π_ref) gives the
    DPO reference.

    Returns:
        dict with ``two_grpo`` and ``dpo`` ``[P, 2, T]`` gradients w.r.t. the per-token log-probs
        (times P, so they are O(1)), ``mask`` ``[P, 2, T]``, ``lengths`` ``[P, 2]`` and ``delta``
        ``[P]`` (:math:`\\Delta = \\hat r(o^-) - \\hat r(o^+)`).
    """
    from grpo_theory.losses import dpo_loss, sequence_logps, two_grpo_loss

    idx = torch.stack([ip, im], 1)  # (P, 2)
    lengths = policy.lengths[prompts.unsqueeze(-1), idx]
    t = int(policy.lengths.max())
    mask = (torch.arange(t, dtype=F64) < lengths.unsqueeze(-1)).to(F64)  # (P, 2, T)
    seq = policy.log_prob_fn(policy.theta)[prompts.unsqueeze(-1), idx]
    ref_theta = policy.theta if ref_theta is None else ref_theta
    ref = policy.log_prob_fn(ref_theta)[prompts.unsqueeze(-1), idx]
    logp = ((seq / lengths).unsqueeze(-1) * mask).requires_grad_(True)
    rewards = torch.tensor([1.0, 0.0], dtype=F64).expand(len(prompts), 2)
    out = two_grpo_loss(logp, logp.detach(), rewards, mask, loss_agg_mode=loss_agg_mode)
    (g2,) = torch.autograd.grad(out.loss, logp)
    s = sequence_logps(logp, mask)
    d = dpo_loss(s[:, 0], s[:, 1], ref[:, 0], ref[:, 1], beta=beta).mean()
    (gd,) = torch.autograd.grad(d, logp)
    n = len(prompts)
    delta = beta * ((ref[:, 0] - seq[:, 0]) - (ref[:, 1] - seq[:, 1]))  # r̂(o⁻) − r̂(o⁺)
    return {"two_grpo": g2 * n, "dpo": gd * n, "mask": mask, "lengths": lengths, "delta": delta.detach()}


def check_r4(n: int, seed: int) -> McResult:
    """R4: ∇L_2GRPO = ∇L_DPO / (2Lβσ(Δ)) per pair on sampled (o⁺, o⁻); 1/(βL) at π = π_ref.

    Cases, each checked token by token on sampled pairs: sum aggregation at π = π_ref (constant
    1/β); token-mean aggregation on equal-length pairs (1/(βL)); sum aggregation with π ≠ π_ref
    (1/(2βσ(Δ)) per pair). Where it breaks: under token-mean, pairs of unequal lengths get two
    different constants; their rate is compared with its exact value by enumeration.
    """
    from grpo_theory.montecarlo.variance import sample_pair_indices

    gen = generator(seed)
    pol = check_tabular()
    m = max(n // 8, 16)
    prompts, ip, im = sample_pair_indices(pol, m, gen)
    beta = R4_BETA
    devs = {}
    a = pair_gradients(pol, prompts, ip, im, beta=beta, loss_agg_mode="seq-mean-token-sum")
    devs["sum agg, pi=pi_ref, 1/beta"] = float((a["two_grpo"] - a["dpo"] / beta).abs().max())
    b = pair_gradients(pol, prompts, ip, im, beta=beta, loss_agg_mode="seq-mean-token-mean")
    equal = b["lengths"][:, 0] == b["lengths"][:, 1]
    k = 1.0 / (beta * b["lengths"][:, :1].unsqueeze(-1))  # 1/(βL), L = |o⁺|
    devs["token-mean, equal lengths, 1/(beta L)"] = float((b["two_grpo"] - k * b["dpo"])[equal].abs().max())
    ref_theta = pol.theta + 0.5 * torch.randn(pol.theta.shape, generator=gen, dtype=F64)
    c = pair_gradients(pol, prompts, ip, im, beta=beta, loss_agg_mode="seq-mean-token-sum", ref_theta=ref_theta)
    kc = (1.0 / (2 * beta * torch.sigmoid(c["delta"]))).view(-1, 1, 1)
    devs["sum agg, pi!=pi_ref, 1/(2 beta sigma(Delta))"] = float((c["two_grpo"] - kc * c["dpo"]).abs().max())
    name = max(devs, key=devs.__getitem__)
    ident = identity_result(devs[name], IDENTITY_TOL, m, f"R4 gradient relation (worst {name})")
    ident = _with_detail(ident, "; ".join(f"{k_}: {v:.2g}" for k_, v in devs.items()))
    # break rate: P(|o⁺| ≠ |o⁻|) for a uniform prompt and o± ~ π±(·|q), exactly by enumeration
    pi_p = pol.probs * pol.rewards / pol.success_prob().unsqueeze(-1)
    pi_m = pol.probs * (1 - pol.rewards) / (1 - pol.success_prob()).unsqueeze(-1)
    differ = (pol.lengths.unsqueeze(-1) != pol.lengths.unsqueeze(-2)).to(F64)  # (Q, N, N)
    rate = float(torch.einsum("qa,qb,qab->", pi_p, pi_m, differ)) / pol.num_prompts
    freq = float((~equal).to(F64).mean())
    broken = float(((b["two_grpo"] - k * b["dpo"]).abs().amax((1, 2)) > 1e-9)[~equal].to(F64).mean())
    brk = result(freq, rate, math.sqrt(rate * (1 - rate) / m),
                 f"token-mean: rate of unequal-length pairs (no single constant; broken in {broken:.0%} of them)")
    return worst([("identities", ident), ("token-mean break rate", brk)])


# --------------------------------------------------------------------------------------------- R5
R5_CASES = ((2, 0, 0.0, 0.3), (2, 0, 0.1, 0.3), (2, 1, 0.0, 0.3), (16, 0, 0.0, 0.1), (16, 1, 0.0, 0.1), (16, 0, 0.0, 0.5))


def check_r5(n: int, seed: int) -> McResult:
    """R5: E[A | r] from sampled groups vs (r − p)/(1+2ε) (G = 2) and the exact finite-G sum."""
    gen = generator(seed)
    subs = []
    for g, ddof, eps, p in R5_CASES:
        r = _bernoulli(p, (n, g), gen)
        a = group_advantages(r, scale="group", std_ddof=ddof, eps=eps)
        for x in (0, 1):
            sel = a[:, 0][r[:, 0] == x]  # first rollout only: i.i.d. across groups
            m, se = mean_stderr(sel)
            ex = exact.expected_advantage(g, p, x, family="grpo", std_ddof=ddof, eps=eps)
            note = ""
            if g == 2 and ddof == 0:
                closed = (x - p) / (1 + 2 * eps)
                note = f"closed form {(closed):.6g}"
                ex = closed
            subs.append((f"G={g} ddof={ddof} eps={eps} p={p} r={x}", result(float(m), ex, float(se), note)))
    return worst(subs)


# --------------------------------------------------------------------------------------------- R6
R6_CASES = (("bandit", 2, "paper"), ("bandit", 3, "paper"), ("bandit", 16, "paper"), ("tabular", 2, "paper"),
            ("tabular", 3, "paper"), ("tabular", 16, "paper"), ("tabular", 2, "verl"), ("tabular", 4, "rloo"))


def _policy(name: str) -> ToyPolicy:
    return check_bandit() if name == "bandit" else check_tabular()


def pooled_lambda(samples: Tensor, grad_p: Tensor) -> tuple[float, float]:
    """:math:`\\hat\\lambda = \\sum_q\\langle\\bar g_q, \\nabla p_q\\rangle / \\sum_q\\|\\nabla p_q\\|^2` and its stderr.

    Args:
        samples: ``[R, Q, D]`` per-prompt estimates.
        grad_p: ``[Q, D]`` exact gradients.
    """
    per = torch.einsum("rqd,qd->r", samples, grad_p) / (grad_p * grad_p).sum()
    m, se = mean_stderr(per)
    return float(m), float(se)


def lambda_case(policy: ToyPolicy, group_size: int, estimator: str, n: int, gen: torch.Generator,
                lam_claimed: Tensor | None = None) -> tuple[McResult, McResult]:
    """E[ĝ_G | q] vs λ_G(p_q) ∇p_q on one policy: (pooled-λ result, projection result).

    ``lam_claimed`` ``[Q]`` replaces the exact λ (to show that a wrong λ is rejected).
    """
    fam = _family(estimator)
    p = policy.success_prob()
    lam = torch.tensor([exact.gradient_scale(group_size, float(x), **fam) for x in p], dtype=F64)
    if lam_claimed is not None:
        lam = lam_claimed
    grad_p = exact_grad_p(policy)
    want = lam.unsqueeze(-1) * grad_p
    x = sample_group_gradients(policy, group_size, n, gen, estimator)
    unit = grad_p / grad_p.norm(dim=-1, keepdim=True)
    dirs = torch.cat([unit.unsqueeze(1), check_directions(policy.num_prompts, policy.dim)], 1)
    zeq, zmax, m = bonferroni_z(projected_z(x, want, dirs))
    lam_hat, lam_se = pooled_lambda(x, grad_p)
    lam_pooled = float((lam * (grad_p * grad_p).sum(-1)).sum() / (grad_p * grad_p).sum())
    pooled = result(lam_hat, lam_pooled, lam_se, "pooled λ = Σ<ḡ_q,∇p_q>/Σ|∇p_q|²")
    proj = McResult(zmax, 0.0, 1.0, zeq, zeq <= 4.0,
                    f"{m} projections (∇p_q and 3 random directions per prompt): raw max|z|={zmax:.2f}, "
                    f"Bonferroni-equivalent z={zeq:.2f}")
    return pooled, proj


def check_r6(n: int, seed: int) -> McResult:
    """R6: E[ĝ_G | q] = λ_G(p) ∇p for G = 2, 3, 16 on both toy policies (λ_2 ≡ 1, λ_3 ≡ √2)."""
    gen = generator(seed)
    subs = []
    for pol_name, g, est in R6_CASES:
        pooled, proj = lambda_case(_policy(pol_name), g, est, n, gen)
        subs.append((f"{pol_name} G={g} {est} pooled-λ", pooled))
        subs.append((f"{pol_name} G={g} {est} projections", proj))
    return worst(subs)


# --------------------------------------------------------------------------------------------- R7
def check_r7(n: int, seed: int) -> McResult:
    """R7: frequency of all-zero advantages vs p^G + (1−p)^G, and the Jensen gap E_q P0(p_q) − P0(p̄)."""
    gen = generator(seed)
    pol = check_bandit()
    p = pol.success_prob()
    pbar = float(p.mean())
    subs = []
    for g in (2, 4, 16):
        idx = sample_groups(pol, n, g, gen)
        a = group_advantages(gather_prompts(pol.rewards, idx).reshape(-1, g), **ADVANTAGE_PRESETS["paper"])
        zero = (a == 0).all(-1).reshape(n, pol.num_prompts).to(F64)  # (R, Q)
        freq = zero.mean(0)
        p0 = torch.tensor([exact.zero_signal_probability(g, float(x)) for x in p], dtype=F64)
        se_q = (p0 * (1 - p0) / n).sqrt()  # binomial stderr under the exact rate (rare events at G=16)
        for q in (0, 2):
            subs.append((f"G={g} p={float(p[q]):.2f}", result(float(freq[q]), float(p0[q]), float(se_q[q]))))
        pooled, se = float(freq.mean()), float((se_q**2).sum().sqrt() / pol.num_prompts)
        gap_exact = float(p0.mean()) - exact.zero_signal_probability(g, pbar)
        subs.append((f"G={g} Jensen gap", result(pooled - exact.zero_signal_probability(g, pbar), gap_exact, se,
                                                 f"E_q P0={float(p0.mean()):.4f} ≥ P0(p̄)="
                                                 f"{exact.zero_signal_probability(g, pbar):.4f}; informative "
                                                 f"prompts per batch of {pol.num_prompts}: sampled "
                                                 f"{pol.num_prompts * (1 - pooled):.3f}, exact "
                                                 f"{pol.num_prompts * (1 - float(p0.mean())):.3f}")))
    return worst(subs)


# --------------------------------------------------------------------------------------------- R8
def variance_of_difference(gp: Tensor, gm: Tensor, c: float) -> tuple[float, float]:
    """Unbiased trace variance of :math:`g^+ - c g^-` from pairs ``[n, D]``, with its stderr."""
    return variance_trace(gp - c * gm)


def check_r8(n: int, seed: int) -> McResult:
    """R8: Var(g⁺ − c g⁻) vs Var(g⁺) + c² Var(g⁻) − 2c Cov at c ∈ {0, 1, c*, 2c*} (traces)."""
    gen = generator(seed)
    pol = check_tabular()
    subs = []
    for kind in ("sum", "token_mean"):
        mom = pair_moments(pol, kind)
        _, gp, gm = sample_pairs(pol, n, gen, kind)
        cs = {"0": 0.0, "1 (GRPO)": 1.0, "c*": mom["c_star"], "2c*": 2 * mom["c_star"]}
        for label, c in cs.items():
            ex = mom["var_plus"] + c * c * mom["var_minus"] - 2 * c * mom["cov"]
            est, se = variance_of_difference(gp, gm, c)
            subs.append((f"{kind} c={label}", result(est, ex, se, f"c={c:.4g}, ratio to Var(g+)={ex / mom['var_plus']:.4f}")))
        reduce = mom["cov"] >= mom["var_minus"] / 2
        subs.append((f"{kind} summary", result(0.0, 0.0, 1.0,
                                               f"Cov={mom['cov']:.4g}, Var(g-)/2={mom['var_minus'] / 2:.4g}, "
                                               f"rho={mom['rho']:.4f}, c*={mom['c_star']:.4g}, "
                                               f"c=1 reduces variance: {reduce}")))
    return worst(subs)


# --------------------------------------------------------------------------------------------- R9
def check_r9(n: int, seed: int) -> McResult:
    """R9: m⁻ = −p/(1−p) m⁺; within-prompt Cov(g⁺, g⁻ | q) = 0; cross-prompt covariance measured."""
    gen = generator(seed)
    subs = []
    for pol_name in ("bandit", "tabular"):
        pol = _policy(pol_name)
        mom = conditional_moments(pol, "sum")
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
    for kind in ("sum", "token_mean"):
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
        subs.append((f"{kind}: cross-prompt Cov(g⁺,g⁻)", result(mv, pm["cov"], sv,
                                                               f"measured sign {'+' if pm['cov'] > 0 else '-'} "
                                                               f"(exact {pm['cov']:.4g}, rho={pm['rho']:.3f})")))
    return worst(subs)


# -------------------------------------------------------------------------------------------- R10
def product_variance_rhs(r: Tensor, g: Tensor) -> float:
    """Plug-in :math:`\\mathrm{tr}\\mathrm{Var}(g)[\\mathrm{Var}(r)+(\\mathbb Er)^2] + \\mathrm{Cov}(r^2,\\|g\\|^2) - \\|\\mathrm{Cov}(r,g)\\|^2`."""
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
        subs.append((f"{reward_name}: plug-in RHS vs exact Var(rg)", result(est, lhs, se, "batch means, 40 batches")))
        dm, ds = variance_trace(rs.unsqueeze(-1) * gs)
        subs.append((f"{reward_name}: sample Var(rg) vs exact", result(dm, lhs, ds)))
    return worst(subs)


# -------------------------------------------------------------------------------------------- R11
R11_BUDGET = 16
R11_CASES = (("rloo", 2), ("rloo", 4), ("rloo", 16), ("paper", 2), ("paper", 8), ("paper", 16))


def check_r11(n: int, seed: int) -> McResult:
    """R11: mini-batch variance at fixed budget B = QG vs its exact decomposition; GRPO's coupling measured."""
    from grpo_theory.montecarlo.estimators import minibatch_gradients

    gen = generator(seed)
    pol = check_tabular()
    subs = []
    for est, g in R11_CASES:
        q = R11_BUDGET // g
        fam = _family(est)
        mv = minibatch_variance(pol, q, g, fam)
        mean = group_moments(pol, g, fam)["mean"].mean(0)
        x = minibatch_gradients(pol, q, g, n, gen, est)
        u = ((x - mean) ** 2).sum(-1)
        m, se = mean_stderr(u)
        subs.append((f"{est} G={g} Q={q}", result(float(m), mv["total"], float(se),
                                                  f"prompt term {mv['prompt_term']:.4g}, within {mv['within_term']:.4g}, "
                                                  f"hierarchical (uncoupled) {mv['hierarchical']:.4g}, "
                                                  f"coupling ratio {mv['total'] / mv['hierarchical']:.4f}")))
    return worst(subs)


# -------------------------------------------------------------------------------------------- R12
def check_r12(n: int, seed: int, rounds: int = 5) -> McResult:
    """R12: 1 − Π(1−p_i)² ≥ 1 − (1−p_0)^{2m} on sampled increasing sequences; the success rate simulated."""
    gen = generator(seed)
    p0 = 0.5 * torch.rand(n, 1, generator=gen, dtype=F64)
    steps = torch.rand(n, rounds - 1, generator=gen, dtype=F64) * 0.2
    seq = [p0]
    for i in range(rounds - 1):
        seq.append(seq[-1] + steps[:, i : i + 1] * (1 - seq[-1]))
    p = torch.cat(seq, 1)  # (n, m), nondecreasing
    p_rounds = 1 - ((1 - p) ** 2).prod(-1)
    p_fixed = 1 - (1 - p[:, 0]) ** (2 * rounds)
    margin = float((p_rounds - p_fixed).min())
    hits = (torch.rand(n, rounds, 2, generator=gen, dtype=F64) < p.unsqueeze(-1)).any(-1).any(-1).to(F64)
    est, ex = float(hits.mean()), float(p_rounds.mean())
    se = float((p_rounds * (1 - p_rounds)).sum().sqrt()) / n
    pq = 0.05
    budget = (f"budget caveat at p={pq}: P(a mixed group within 10 epochs) 2-GRPO "
              f"{1 - (1 - 2 * pq * (1 - pq)) ** 10:.3f} vs 16-GRPO {1 - exact.zero_signal_probability(16, pq) ** 10:.3f}")
    sim = result(est, ex, se, f"simulated P(at least one success in {rounds}x2 rollouts); {budget}")
    ineq = identity_result(max(-margin, 0.0), IDENTITY_TOL, n, f"inequality, min margin {margin:.3g}")
    return worst([("simulation", sim), ("inequality", ineq)])


# -------------------------------------------------------------------------------------------- R13
def check_r13(n: int, seed: int) -> McResult:
    """R13: the G = 2 normalized advantage is in {−1, 0, 1} for any rewards; the n = 2 t statistic is Cauchy."""
    gen = generator(seed)
    draws = {
        "gaussian": torch.randn(n, 2, generator=gen, dtype=F64),
        "cauchy": torch.tan(math.pi * (torch.rand(n, 2, generator=gen, dtype=F64) - 0.5)),
        "lognormal": torch.randn(n, 2, generator=gen, dtype=F64).exp(),
    }
    dev = 0.0
    for x in draws.values():
        a = group_advantages(x, **ADVANTAGE_PRESETS["paper"])
        dev = max(dev, float((a - a.round()).abs().max()), float((a.abs() - 1).clamp(min=0).max()))
    bound = identity_result(dev, IDENTITY_TOL, 3 * n, "G=2 advantages in {-1,0,1} (gaussian, cauchy, lognormal)")
    x = draws["gaussian"]
    t = x.mean(-1) / (x.std(-1, correction=1) / math.sqrt(2))
    c = 10.0
    freq = float((t.abs() > c).to(F64).mean())
    tail = 1 - 2 / math.pi * math.atan(c)
    se = math.sqrt(tail * (1 - tail) / n)
    a_var = float(group_advantages(x, **ADVANTAGE_PRESETS["paper"]).var())
    student = result(freq, tail, se, f"P(|t|>{c}) for the n=2 t statistic vs Cauchy tail; sample Var(A)={a_var:.4f} ≤ 1")
    return worst([("bound", bound), ("student-t", student)])


MC_CHECKS: dict[str, Callable[[int, int], McResult]] = {
    rid: single_threaded(fn)
    for rid, fn in {
        "R1": check_r1,
        "R2": check_r2,
        "R3": check_r3,
        "R4": check_r4,
        "R5": check_r5,
        "R6": check_r6,
        "R7": check_r7,
        "R8": check_r8,
        "R9": check_r9,
        "R10": check_r10,
        "R11": check_r11,
        "R12": check_r12,
        "R13": check_r13,
    }.items()
}
