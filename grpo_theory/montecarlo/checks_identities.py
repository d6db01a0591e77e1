r"""Monte Carlo checks of the exact identities, on random draws: R1-R4 and R13.

An identity that holds draw by draw is checked on many random draws (rewards, per-rollout values,
sampled pairs) and reported exact: its largest deviation, within 4 × the float64 tolerance
:data:`~grpo_theory.montecarlo.stats.IDENTITY_TOL`, and no z (``kind="exact"``). R4 also estimates the
2-GRPO/DPO constant itself in expectation, and R13 the Cauchy tail of the n = 2 t statistic: those parts
have a genuine z.
"""

from __future__ import annotations

import math

import torch

from grpo_theory.losses import ADVANTAGE_PRESETS, contrastive_form, group_advantages, rloo_advantages
from grpo_theory.montecarlo.estimators import group_gradients, sample_groups
from grpo_theory.montecarlo.fixtures import bernoulli, check_tabular, generator
from grpo_theory.montecarlo.stats import (
    IDENTITY_TOL,
    McResult,
    identity_result,
    mean_stderr,
    result,
    with_detail,
    worst,
)
from grpo_theory.montecarlo.toy_policy import ToyPolicy, conditional_moments
from grpo_theory.montecarlo.variance import sample_pair_indices
from grpo_theory.theory import dpo_link
from grpo_theory.vocab import AnyAggMode

Tensor = torch.Tensor
F64 = torch.float64


# --------------------------------------------------------------------------------------------- R1
def check_r1(n: int, seed: int) -> McResult:
    """R1: (1/G) Σ A_i X_i = √(p̂(1−p̂))(X̄⁺ − X̄⁻) (GRPO), p̂(1−p̂)(X̄⁺ − X̄⁻) (Dr. GRPO), pairwise form."""
    gen = generator(seed)
    devs: list[tuple[str, float]] = []
    for g in (2, 5, 16):
        p = torch.rand(n, 1, generator=gen, dtype=F64)
        r = bernoulli(p, (n, g), gen)
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
    res = identity_result(dev, IDENTITY_TOL, n,
                          f"R1 contrastive identities ({len(devs)} forms, worst {name})")
    return with_detail(res, "; ".join(f"{a}: {b:.2g}" for a, b in devs))


# --------------------------------------------------------------------------------------------- R2
def check_r2(n: int, seed: int) -> McResult:
    """R2: G = 2 advantages are ±1/(1+2ε) (ddof 0), ±1/√2 (ddof 1), sign(r_i − r_j) for real rewards."""
    gen = generator(seed)
    r = bernoulli(0.5, (n, 2), gen)
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
    return with_detail(res, "; ".join(parts))


# --------------------------------------------------------------------------------------------- R3
def check_r3(n: int, seed: int) -> McResult:
    """R3: 2-GRPO = RLOO(G=2) = 2 × Dr. GRPO(G=2) for binary rewards, as advantages and as gradients."""
    gen = generator(seed)
    r = bernoulli(torch.rand(n, 1, generator=gen, dtype=F64), (n, 2), gen)
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
    return with_detail(res, "; ".join(f"{k}: {v:.2g}" for k, v in devs.items()))


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


def _theta_gradient(policy: ToyPolicy, prompts: Tensor, ip: Tensor, im: Tensor, per_token: Tensor) -> Tensor:
    """[P, D] θ-gradients from per-token gradients that are constant along each sequence (even spread, ratio
    1).

    With ∂L/∂logp_{i,t} = c_i for every valid token, ∂L/∂θ = Σ_i c_i ∇_θ log π(o_i) = Σ_i c_i s_i.
    """
    c = per_token[..., 0]  # (P, 2): the first token carries the per-sequence value
    s = policy.scores[prompts.unsqueeze(-1), torch.stack([ip, im], 1)]  # (P, 2, D)
    return (c.unsqueeze(-1) * s).sum(1)


def _r4_identity_deviations(
    pol: ToyPolicy, prompts: Tensor, ip: Tensor, im: Tensor, beta: float, gen: torch.Generator
) -> tuple[dict[str, float], dict[str, Tensor], dict[str, Tensor]]:
    """Largest deviation of each per-pair relation ∇L_2GRPO = κ ∇L_DPO, κ from
    :mod:`grpo_theory.theory.dpo_link`.

    Returns (deviations by relation, the sum-aggregation gradients at π_ref, the batch token-mean gradients).
    """
    factor = dpo_link.two_grpo_dpo_factor

    def per_pair(agg: AnyAggMode, grads: dict[str, Tensor], sigma: Tensor | None = None) -> Tensor:
        """``[P, 1, 1]`` κ of each pair alone (NaN where there is none); pair_gradients scales by P."""
        ks = [factor(agg, beta, [(int(lp), int(lm))], sigma=None if sigma is None else sigma[i])
              for i, (lp, lm) in enumerate(grads["lengths"].tolist())]
        return torch.tensor([math.nan if k is None else float(k) for k in ks], dtype=F64).view(-1, 1, 1)

    devs = {}
    a = pair_gradients(pol, prompts, ip, im, beta=beta, loss_agg_mode="seq-mean-token-sum")
    devs["sum agg, pi=pi_ref, 1/beta"] = float((a["two_grpo"] - per_pair("seq-mean-token-sum", a) * a["dpo"])
                                               .abs().max())
    b = pair_gradients(pol, prompts, ip, im, beta=beta, loss_agg_mode="seq-mean-token-mean")
    k = per_pair("seq-mean-token-mean", b)  # 1/(βL) where |o⁺| = |o⁻| = L, none otherwise
    equal = ~k.view(-1).isnan()
    devs["token-mean, equal lengths, 1/(beta L)"] = float((b["two_grpo"] - k * b["dpo"])[equal].abs().max())
    ref_theta = pol.theta + 0.5 * torch.randn(pol.theta.shape, generator=gen, dtype=F64)
    c = pair_gradients(pol, prompts, ip, im, beta=beta, loss_agg_mode="seq-mean-token-sum",
                       ref_theta=ref_theta)
    kc = per_pair("seq-mean-token-sum", c, torch.sigmoid(c["delta"]))
    devs["sum agg, pi!=pi_ref, 1/(2 beta sigma(Delta))"] = float((c["two_grpo"] - kc * c["dpo"]).abs().max())
    t = pair_gradients(pol, prompts, ip, im, beta=beta, loss_agg_mode="token-mean")
    kt = float(factor("token-mean", beta, t["lengths"].tolist()))  # one κ for the batch: 1/(β mean L)
    devs["batch token-mean, one denominator, 1/(beta mean L)"] = float(
        (t["two_grpo"] - kt * t["dpo"]).abs().max()
    )
    return devs, a, t


def check_r4(n: int, seed: int) -> McResult:
    """R4: the 2-GRPO/DPO constant, by Monte Carlo, and the per-pair relations as exact identities.

    Monte Carlo: on mixed pairs o⁺ ~ π⁺_q, o⁻ ~ π⁻_q at π = π_ref (sum aggregation), the mean of the
    library's 2-GRPO gradient (w.r.t. θ) projected on d_q = E[−∇_θ L_DPO | q] = β σ(0) (m⁺_q − m⁻_q) (exact
    conditional moments by enumeration, not the loss library) estimates the constant κ with
    E[ĝ_2GRPO] = κ E[−∇L_DPO]; κ = 1/β (σ(0) = ½ included; 1/(2β) is rejected).
    Identities, token by token on the same pairs: sum aggregation at π = π_ref (1/β); token-mean on
    equal-length pairs (1/(βL)); sum aggregation with π ≠ π_ref (1/(2βσ(Δ)) per pair); batch token-mean with
    one token denominator over the batch (1/(βL̄), any lengths). Where it breaks (detail only): unequal
    lengths under per-sequence token-mean, and per-micro-batch token denominators (cos to DPO reported).
    """
    gen = generator(seed)
    pol = check_tabular()
    m = max(n // 8, 16)
    prompts, ip, im = sample_pair_indices(pol, m, gen)
    beta = R4_BETA
    devs, a, t = _r4_identity_deviations(pol, prompts, ip, im, beta, gen)
    name = max(devs, key=devs.__getitem__)
    ident = identity_result(devs[name], IDENTITY_TOL, m, f"R4 per-pair relations (worst {name})")
    ident = with_detail(ident, "; ".join(f"{k_}: {v:.2g}" for k_, v in devs.items()))
    # the constant itself: κ̂ = mean_j ⟨ĝ_j, d_q(j)⟩ / E_q ‖d_q‖² → 1/β
    equal = t["lengths"][:, 0] == t["lengths"][:, 1]
    mom = conditional_moments(pol, "summed")
    d = beta * 0.5 * (mom["m_plus"] - mom["m_minus"])  # (Q, D), exact, σ(0) = ½
    g_pair = -_theta_gradient(pol, prompts, ip, im, a["two_grpo"])  # objective gradient of each pair
    proj = (g_pair * d[prompts]).sum(-1) / float((d * d).sum(-1).mean())
    kappa, se = mean_stderr(proj)
    # where it breaks: unequal lengths (per-sequence token-mean); per-micro-batch token denominators
    # micro-batches grouped by length (short pairs first), as a length-bucketing sampler would make them
    order = torch.argsort(t["lengths"].sum(-1), stable=True)
    g_dpo = -_theta_gradient(pol, prompts, ip, im, t["dpo"]).sum(0)
    micro = torch.zeros_like(g_dpo)
    for chunk in (order[: m // 2], order[m // 2 :]):
        part = pair_gradients(pol, prompts[chunk], ip[chunk], im[chunk], beta=beta,
                              loss_agg_mode="token-mean")
        # accumulated mean of micro-batch losses; pair_gradients scales by the micro-batch's pair count
        micro += -_theta_gradient(pol, prompts[chunk], ip[chunk], im[chunk], part["two_grpo"]).sum(0) / m
    cos = float(micro @ g_dpo / (micro.norm() * g_dpo.norm()))
    exact = float(dpo_link.two_grpo_dpo_factor("seq-mean-token-sum", beta, [(1, 1)]))  # 1/β, any lengths
    const = result(float(kappa), exact, float(se),
                   f"κ̂ = E[ĝ_2GRPO]·d / ‖d‖² on {m} mixed pairs at π = π_ref (exact κ = 1/β = {exact:g}); "
                   f"breaks: {float((~equal).to(F64).mean()):.0%} of pairs have unequal lengths (no single "
                   "constant under per-sequence token-mean); two length-grouped micro-batches with their "
                   "own "
                   f"token denominators: cos(∇J, ∇L_DPO) = {cos:.4f}")
    return worst([("constant 1/beta", const), ("identities", ident)])


# -------------------------------------------------------------------------------------------- R13
def check_r13(n: int, seed: int) -> McResult:
    """R13: the G = 2 normalized advantage is in {−1, 0, 1} for any rewards; the n = 2 t statistic is
    Cauchy."""
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
    bound = identity_result(dev, IDENTITY_TOL, 3 * n,
                            "G=2 advantages in {-1,0,1} (gaussian, cauchy, lognormal)")
    x = draws["gaussian"]
    t = x.mean(-1) / (x.std(-1, correction=1) / math.sqrt(2))
    c = 10.0
    freq = float((t.abs() > c).to(F64).mean())
    tail = 1 - 2 / math.pi * math.atan(c)
    se = math.sqrt(tail * (1 - tail) / n)
    a_var = float(group_advantages(x, **ADVANTAGE_PRESETS["paper"]).var())
    student = result(freq, tail, se,
                     f"P(|t|>{c}) for the n=2 t statistic vs Cauchy tail; sample Var(A)={a_var:.4f} ≤ 1")
    return worst([("bound", bound), ("student-t", student)])
