r"""Monte Carlo checks of R15 (real-valued rewards) and R16 (group size at a fixed budget).

R15: groups sampled from softmax bandits with real rewards, advantages from :mod:`grpo_theory.losses`
(``group_advantages``), per-group estimates ĝ_G = (1/G) Σ A_i (e_{o_i} − π) w.r.t. the logits, compared with
the exact enumeration :func:`grpo_theory.theory.expected_bandit_gradient` component by component
(Bonferroni). One case also takes the gradient of :func:`grpo_theory.losses.two_grpo_loss` by autograd and
checks that it is the mean of the per-group estimates (an identity).

R16: whole steps of B prompts × G rollouts sampled from the R16 toys (shared parameters W, logits W φ_q),
advantages from the loss library, and the per-step errors against the three targets compared with the exact
:func:`grpo_theory.theory.group_size.budget_errors`.
"""

from __future__ import annotations

import numpy as np
import torch

from grpo_theory.losses import group_advantages, two_grpo_loss
from grpo_theory.montecarlo.fixtures import generator
from grpo_theory.montecarlo.stats import (
    IDENTITY_TOL,
    McResult,
    bonferroni_z,
    componentwise_z,
    identity_result,
    mean_stderr,
    result,
    worst,
)
from grpo_theory.theory import expected_bandit_gradient
from grpo_theory.theory.group_size import budget_errors, toy_features, toy_prompts

Tensor = torch.Tensor
F64 = torch.float64

#: (name, probs, rewards, G, std_ddof, eps): distinct rewards, ties, ε > 0, ddof 1, G = 4 and G = 3.
R15_CASES = (
    ("5 arms, distinct, G=2", (0.2, 0.2, 0.2, 0.2, 0.2), (0.0, 0.1, 0.2, 0.5, 1.0), 2, 0, 0.0),
    ("3 arms, a tie, G=2", (0.5, 1 / 3, 1 / 6), (1.0, 1 / 3, 1.0), 2, 0, 0.0),
    ("3 arms, a tie, G=2, eps=0.1", (0.5, 1 / 3, 1 / 6), (1.0, 1 / 3, 1.0), 2, 0, 0.1),
    ("4 arms, G=2, ddof 1", (0.4, 0.3, 0.2, 0.1), (0.9, 0.0, 0.3, 0.3), 2, 1, 0.0),
    ("4 arms, G=4", (0.4, 0.3, 0.2, 0.1), (0.9, 0.0, 0.3, 0.3), 4, 0, 0.0),
    ("5 arms, distinct, G=3", (0.1, 0.3, 0.2, 0.25, 0.15), (0.0, 0.2, 0.25, 0.7, 1.0), 3, 0, 0.0),
)


def _sample(probs: Tensor, shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    """Inverse-CDF categorical draws from ``probs`` [..., K] with leading ``shape`` matching probs' batch
    dims."""
    cdf = probs.cumsum(-1)
    u = torch.rand(*shape, generator=gen, dtype=F64) * cdf[..., -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=probs.shape[-1] - 1)


def group_estimates(probs: Tensor, rewards: Tensor, idx: Tensor, *, std_ddof: int = 0,
                    eps: float = 0.0) -> Tensor:
    """ĝ_G = (1/G) Σ_i A_i (e_{o_i} − π) per group: probs [P, K], rewards [P, K], idx [P, G] → [P, K].

    Advantages from :func:`grpo_theory.losses.group_advantages` (scale "group").
    """
    r = torch.gather(rewards, 1, idx)
    adv = group_advantages(r, scale="group", std_ddof=std_ddof, eps=eps)
    k = probs.shape[-1]
    counts = torch.zeros(idx.shape[0], k, dtype=F64).scatter_add_(1, idx, adv)  # Σ_i A_i e_{o_i}
    return (counts - adv.sum(-1, keepdim=True) * probs) / idx.shape[1]


def check_r15(n: int, seed: int) -> McResult:
    """R15: sampled E[ĝ_G] vs the exact enumeration for real rewards (ties, ε, ddof 1, G = 2, 3, 4)."""
    gen = generator(seed)
    subs = []
    for name, pi, rew, G, ddof, eps in R15_CASES:
        probs = torch.tensor(pi, dtype=F64)
        rewards = torch.tensor(rew, dtype=F64)
        idx = _sample(probs.expand(n, -1), (n, G), gen)
        g = group_estimates(probs.expand(n, -1), rewards.expand(n, -1), idx, std_ddof=ddof, eps=eps)
        exact = torch.tensor(expected_bandit_gradient(np.array(pi), np.array(rew), G, std_ddof=ddof,
                                                      eps=eps), dtype=F64)
        mean_g, se = mean_stderr(g)
        zeq, zmax, k = bonferroni_z(componentwise_z(mean_g, se, exact))
        subs.append((name, McResult(zmax, 0.0, 1.0, zeq, zeq <= 4.0,
                                    f"{k} components: raw max|z|={zmax:.2f}, Bonferroni-equivalent "
                                    f"z={zeq:.2f}")))
    # through the loss: autograd of two_grpo_loss w.r.t. the logits is minus the mean of the group estimates
    name, pi, rew, G, _, _ = R15_CASES[0]
    probs = torch.tensor(pi, dtype=F64)
    theta = probs.log().clone().requires_grad_(True)
    m = max(n // 8, 16)
    idx = _sample(probs.expand(m, -1), (m, 2), gen)
    logp = torch.log_softmax(theta, -1)[idx].unsqueeze(-1)  # [P, 2, 1]: one token per response
    r = torch.tensor(rew, dtype=F64)[idx]
    loss = two_grpo_loss(logp, logp.detach(), r, torch.ones_like(logp)).loss
    (grad,) = torch.autograd.grad(loss, theta)
    mean = group_estimates(probs.expand(m, -1), torch.tensor(rew, dtype=F64).expand(m, -1), idx).mean(0)
    ident = identity_result(float((-grad - mean).abs().max()), IDENTITY_TOL, m,
                            "−∇ two_grpo_loss = mean of (1/2) Σ A_i (e_o − π) on sampled pairs")
    subs.append(("two_grpo_loss autograd", ident))
    return worst(subs)


# --------------------------------------------------------------------------------------------- R16
#: (toy, N, G) cases of the R16 check.
R16_CASES = (("binary", 64, 2), ("binary", 64, 4), ("binary", 64, 16), ("real", 64, 2), ("real", 64, 4))


def step_gradients(prompts, features: np.ndarray, B: int, G: int, n: int, gen: torch.Generator) -> Tensor:
    """n sampled steps of B prompts (uniform, with replacement) × G rollouts: ĝ = (1/B) Σ_b ĝ_G(q_b) φ_bᵀ,
    [n, K, F]."""
    probs = torch.tensor(np.stack([pi for pi, _ in prompts]), dtype=F64)  # [Q, K]
    rewards = torch.tensor(np.stack([r for _, r in prompts]), dtype=F64)
    phi = torch.tensor(features, dtype=F64)
    q = torch.randint(len(prompts), (n * B,), generator=gen)
    idx = _sample(probs[q], (n * B, G), gen)
    g = group_estimates(probs[q], rewards[q], idx)  # [nB, K]
    return (g.unsqueeze(-1) * phi[q].unsqueeze(1)).reshape(n, B, *g.shape[1:], phi.shape[1]).mean(1)


def check_r16(n: int, seed: int) -> McResult:
    """R16: sampled per-step errors (own, ∇E[r], direction) vs their exact values at N = 64."""
    gen = generator(seed)
    subs = []
    reps = max(n // 4, 200)
    for kind, N, G in R16_CASES:
        prompts = toy_prompts(kind)
        phi = toy_features(len(prompts))
        ex = budget_errors(prompts, N, [G])
        mu, t = torch.tensor(ex["mean"][0], dtype=F64), torch.tensor(ex["target"], dtype=F64)
        x = step_gradients(prompts, phi, N // G, G, reps, gen)
        u = t / t.norm()
        along = float((u * mu).sum())
        per = {
            "own": ((x - mu) ** 2).sum((1, 2)) / (mu * mu).sum(),
            "grad": ((x - t) ** 2).sum((1, 2)) / (t * t).sum(),
            "direction": ((x - (x * u).sum((1, 2), keepdim=True) * u) ** 2).sum((1, 2)) / along**2,
        }
        for target, vals in per.items():
            m, se = mean_stderr(vals)
            subs.append((f"{kind} G={G} B={N // G} {target}",
                         result(float(m), float(ex[target][0]), float(se),
                                                                      f"{reps} sampled steps")))
    return worst(subs)
