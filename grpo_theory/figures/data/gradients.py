r"""Data for F5: the 2-GRPO and DPO gradients compared as the policy moves away from π_ref (R4).

Toy: the autoregressive tabular policy of :mod:`grpo_theory.montecarlo.tabular` (shared parameters
:math:`\theta` ``[S, V]``, per-prompt offsets, variable lengths 1..L). Both gradients are taken by
autograd through :mod:`grpo_theory.losses` (:func:`two_grpo_loss`, :func:`online_dpo_loss`) on the
same batch of mixed pairs :math:`(o^+\sim\pi^+_q, o^-\sim\pi^-_q)`. Per pair, on-policy,

.. math::

    \nabla\mathcal L_{\rm 2GRPO} = \frac{1}{2\beta\,\sigma(\Delta)}\,\nabla\mathcal L_{\rm DPO}
    \quad(\text{sequence sums}),\qquad \frac{1}{\beta}\ \text{at}\ \pi = \pi_{\rm ref},

so the batch gradients are parallel at :math:`\pi_{\rm ref}` and drift apart as the per-pair
weights :math:`\sigma(\Delta_i)` spread. The policy is moved away from :math:`\pi_{\rm ref}` by
2-GRPO training steps; the distance is the prompt-averaged :math:`\mathrm{KL}(\pi_\theta\|\pi_{\rm ref})`.
Real model: the JSON written by ``grpo-theory realcheck gradient_equivalence``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from grpo_theory.figures.configs import F5_CONFIG, VARIANTS  # noqa: F401 (re-exported)
from grpo_theory.figures.paths import REPO_ROOT
from grpo_theory.losses import online_dpo_loss, two_grpo_loss
from grpo_theory.montecarlo.tabular import enumerate_responses, tabular_policy
from grpo_theory.montecarlo.toy_policy import conditional_probs, sample_indices
from grpo_theory.theory import dpo_link

Tensor = torch.Tensor




class TabularToy:
    """A tabular policy with per-token log-probs ``[P, 2, T]`` for any batch of (prompt, response) pairs."""

    def __init__(self, cfg: dict[str, Any]):
        gen = torch.Generator().manual_seed(cfg["seed"])
        self.V, self.L = cfg["vocab"], cfg["max_len"]
        visits, self.lengths, _ = enumerate_responses(self.V, self.L)
        n, s, v = visits.shape
        self.S, self.N = s, n
        q = cfg["prompts"]
        self.theta_ref = 0.5 * torch.randn(s, v, generator=gen, dtype=torch.float64)
        self.offsets = torch.randn(q, s, v, generator=gen, dtype=torch.float64)
        u = torch.rand(q, n, generator=gen, dtype=torch.float64)
        rewards = (u < cfg["correct_frac"]).to(torch.float64)
        rewards[:, 0], rewards[:, 1] = 1.0, 0.0  # every prompt has a correct and a wrong response
        self.rewards = rewards
        # Token positions of response n as flat (state, token) indices, padded to L: (N, L), mask (N, L).
        flat = visits.reshape(n, s * v)
        self.tok_idx = torch.zeros(n, self.L, dtype=torch.long)
        self.tok_mask = torch.zeros(n, self.L, dtype=torch.float64)
        for i in range(n):
            nz = flat[i].nonzero().squeeze(-1)
            self.tok_idx[i, : len(nz)] = nz
            self.tok_mask[i, : len(nz)] = 1.0

    def policy(self, theta: Tensor):
        return tabular_policy(theta.detach(), self.offsets, self.rewards, vocab=self.V, max_len=self.L)

    def token_logp(self, theta: Tensor, prompts: Tensor, resp: Tensor) -> tuple[Tensor, Tensor]:
        """Per-token log-probs and mask, each ``[P, G, L]``, for ``prompts`` ``[P]`` and responses ``resp``
        ``[P, G]``."""
        table = torch.log_softmax(theta.reshape(self.S, self.V).unsqueeze(0) + self.offsets, -1)  # (Q, S, V)
        table = table.reshape(table.shape[0], -1)[prompts]  # (P, S*V)
        idx = self.tok_idx[resp]  # (P, G, L)
        logp = torch.gather(table.unsqueeze(1).expand(-1, resp.shape[1], -1), 2, idx)
        return logp, self.tok_mask[resp]

    def kl_to_ref(self, theta: Tensor) -> float:
        """Prompt-averaged KL(π_θ ‖ π_ref) over whole responses (exact enumeration)."""
        lp = self.policy(theta).probs.log()
        lr = self.policy(self.theta_ref).probs.log()
        return float((lp.exp() * (lp - lr)).sum(-1).mean())


def _flat_grad(loss: Tensor, theta: Tensor) -> Tensor:
    (g,) = torch.autograd.grad(loss, theta, retain_graph=True)
    return g.reshape(-1)


def compare_at(toy: TabularToy, theta: Tensor, pairs: tuple[Tensor, Tensor],
               variant: dict[str, Any]) -> dict[str, float]:
    """Batch and per-pair comparison of the two gradients at ``theta`` on fixed mixed ``pairs``."""
    prompts, resp = pairs  # (P,), (P, 2): column 0 correct, column 1 wrong
    P = prompts.shape[0]
    rewards = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(P, 2)
    th = theta.clone().requires_grad_(True)
    logp, mask = toy.token_logp(th, prompts, resp)
    ref, _ = toy.token_logp(toy.theta_ref, prompts, resp)
    beta = variant["beta"]
    grpo = two_grpo_loss(logp, logp.detach(), rewards, mask, loss_agg_mode=variant["agg"]).loss
    dpo = online_dpo_loss(
        logp, logp.detach(), rewards, mask, ref_logp=ref, beta=beta,
        length_normalize=variant["length_normalize"]
    ).loss
    g_grpo, g_dpo = _flat_grad(grpo, th), _flat_grad(dpo, th)
    cos = float(g_grpo @ g_dpo / (g_grpo.norm() * g_dpo.norm()))
    ratio = float(g_grpo.norm() / g_dpo.norm())
    # Per pair: the factor of theory.dpo_link (1/(2βσ(Δ)) for the sum and length-normalized variants; none for
    # per-sequence token-mean against summed DPO with |o⁺| ≠ |o⁻|: such pairs are skipped).
    with torch.no_grad():
        norm = mask.sum(-1) if variant["length_normalize"] else torch.ones_like(mask.sum(-1))
        u = ((logp.detach() - ref) * mask).sum(-1) / norm  # (P, 2)
        delta = beta * (u[:, 1] - u[:, 0])  # Δ = β[(log π/π_ref)(o⁻) − (log π/π_ref)(o⁺)]
    logps_kind = "length-normalized" if variant["length_normalize"] else "summed"
    predicted = [dpo_link.two_grpo_dpo_factor(variant["agg"], beta, [lens], sigma=sig, dpo_logps=logps_kind)
                 for lens, sig in zip(mask.sum(-1).tolist(), torch.sigmoid(delta).tolist())]
    dev = 0.0
    for i in range(min(P, 8)):
        if predicted[i] is None:
            continue
        thi = theta.clone().requires_grad_(True)
        lpi, mi = toy.token_logp(thi, prompts[i : i + 1], resp[i : i + 1])
        refi, _ = toy.token_logp(toy.theta_ref, prompts[i : i + 1], resp[i : i + 1])
        gi = _flat_grad(two_grpo_loss(lpi, lpi.detach(), rewards[:1], mi, loss_agg_mode=variant["agg"]).loss,
                        thi)
        di = _flat_grad(
            online_dpo_loss(lpi, lpi.detach(), rewards[:1], mi, ref_logp=refi, beta=beta,
                            length_normalize=variant["length_normalize"]).loss,
            thi,
        )
        dev = max(dev, float((gi - predicted[i] * di).norm() / gi.norm()))
    return {"cos": cos, "ratio": ratio, "ratio_x_beta": ratio * beta, "pair_rel_dev": dev,
            "sigma_mean": float(torch.sigmoid(delta).mean()), "sigma_std": float(torch.sigmoid(delta).std())}


def toy_gradient_equivalence(cfg: dict[str, Any]) -> dict[str, Any]:
    """F5 (toy): cosine and norm ratio of the 2-GRPO and DPO batch gradients vs steps / KL from π_ref."""
    toy = TabularToy(cfg)
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    theta = toy.theta_ref.clone().requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=cfg["lr"])
    pol = toy.policy(toy.theta_ref)
    # Evaluation pairs: fixed prompts, responses re-drawn from π± at each checkpoint.
    prompts = torch.randint(pol.num_prompts, (cfg["pairs"],), generator=gen)
    steps = sorted(cfg["steps"])
    out: dict[str, Any] = {"steps": steps, "kl": [], "reward": [],
                           "variants": {v: [] for v in cfg["variants"]}}
    done = 0
    for k in steps:
        while done < k:  # 2-GRPO training steps on fresh on-policy pairs
            pol = toy.policy(theta)
            tp = torch.randint(pol.num_prompts, (cfg["train_pairs"],), generator=gen)
            resp = sample_indices(pol.probs[tp], (1, 2), gen)[0]  # (P, 2)
            logp, mask = toy.token_logp(theta, tp, resp)
            loss = two_grpo_loss(logp, logp.detach(), toy.rewards[tp.unsqueeze(-1), resp], mask).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
        pol = toy.policy(theta)
        pi_p, pi_m = conditional_probs(pol)
        resp = torch.stack(
            [torch.multinomial(pi_p[prompts], 1, generator=gen).squeeze(-1),
             torch.multinomial(pi_m[prompts], 1, generator=gen).squeeze(-1)], -1
        )
        out["kl"].append(toy.kl_to_ref(theta))
        out["reward"].append(float(pol.success_prob().mean()))
        for name in cfg["variants"]:
            out["variants"][name].append(compare_at(toy, theta.detach(), (prompts, resp), VARIANTS[name]))
    return out


# -------------------------------------------------------------------------------------------- real model


def real_gradient_equivalence(files: list[Path]) -> list[dict[str, Any]]:
    """The real-model records as written by ``grpo-theory realcheck gradient_equivalence`` (raw)."""
    out = []
    for f in files:
        try:
            out.append({"file": f.name, "content": json.loads(f.read_text())})
        except (OSError, json.JSONDecodeError):
            continue
    return out


def gradient_equivalence(cfg: dict[str, Any]) -> dict[str, Any]:
    """F5 data: toy sweep and whatever real-model records exist."""
    files = [REPO_ROOT / p for p in cfg.get("real_files", [])]
    return {"toy": toy_gradient_equivalence(cfg["toy"]), "real": real_gradient_equivalence(files)}

