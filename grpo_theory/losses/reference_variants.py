r"""Slow, loop-based float64 twins of the CISPO, SAPO, GSPO and GMPO losses (oracles for tests).

Written from the formulas in the docstrings of :mod:`grpo_theory.losses.surrogate_variants`, one token
at a time over torch scalars (so autograd works). GSPO is written in its textbook sequence form,
:math:`\max(-A s_i, -A\,\mathrm{clip}(s_i))` with the gradient of :math:`s_i = \exp(\bar d_i)` reaching every
token, not in verl's stop-gradient token form that the fast code uses: the two agree after
aggregation, and the differential tests check exactly that. No input validation; outputs are float64.
"""

from __future__ import annotations

from typing import Any

import torch

from grpo_theory.losses.reference import _f64, ref_aggregate, ref_group_advantages, ref_loss_kl

Tensor = torch.Tensor


def _adv(advantages: Tensor, p: int, i: int, t: int) -> Tensor:
    return advantages[p, i] if advantages.ndim == 2 else advantages[p, i, t]


def _seq_log_ratio(logp: Tensor, old_logp: Tensor, mask: Tensor, p: int, i: int) -> Any:
    valid = [t for t in range(logp.shape[-1]) if bool(mask[p, i, t])]
    zero = torch.zeros((), dtype=torch.float64)
    return sum((logp[p, i, t] - old_logp[p, i, t] for t in valid), zero) / max(len(valid), 1)


def ref_cispo_surrogate(
    logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *, ratio_max: float | None = 5.0,
    ratio_min: float | None = None, level: str = "token", log_ratio_clamp: float | None = None,
) -> Tensor:
    """Per token: ``-detach(clip(rho, ratio_min, ratio_max)) * A * logp`` (masked positions 0)."""
    logp, old_logp, advantages = _f64(logp), _f64(old_logp), _f64(advantages)
    P, G, T = logp.shape
    out = logp * 0.0
    for p in range(P):
        for i in range(G):
            seq = _seq_log_ratio(logp, old_logp, mask, p, i)
            for t in range(T):
                if not bool(mask[p, i, t]):
                    continue
                lr: Any = seq if level == "sequence" else logp[p, i, t] - old_logp[p, i, t]
                if log_ratio_clamp is not None:
                    lr = torch.clamp(lr, -log_ratio_clamp, log_ratio_clamp)
                w = float(torch.exp(lr).detach())
                if ratio_max is not None:
                    w = min(w, ratio_max)
                if ratio_min is not None:
                    w = max(w, ratio_min)
                out[p, i, t] = -w * _adv(advantages, p, i, t) * logp[p, i, t]
    return out


def ref_sapo_surrogate(
    logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *, tau_pos: float = 1.0,
    tau_neg: float = 1.05, level: str = "token", log_ratio_clamp: float | None = None,
) -> Tensor:
    """Per token: ``-(4 / tau) * sigmoid(tau * (rho - 1)) * A``, tau by the sign of A."""
    logp, old_logp, advantages = _f64(logp), _f64(old_logp), _f64(advantages)
    P, G, T = logp.shape
    out = logp * 0.0
    for p in range(P):
        for i in range(G):
            seq = _seq_log_ratio(logp, old_logp, mask, p, i)
            for t in range(T):
                if not bool(mask[p, i, t]):
                    continue
                lr: Any = seq if level == "sequence" else logp[p, i, t] - old_logp[p, i, t]
                if log_ratio_clamp is not None:
                    lr = torch.clamp(lr, -log_ratio_clamp, log_ratio_clamp)
                a = _adv(advantages, p, i, t)
                tau = tau_pos if float(a.detach()) > 0 else tau_neg
                gate = 4.0 / tau / (1.0 + torch.exp(-tau * (torch.exp(lr) - 1.0)))
                out[p, i, t] = -gate * a
    return out


def ref_gspo_surrogate(
    logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *, clip_low: float = 3e-4,
    clip_high: float = 4e-4, log_ratio_max: float | None = 10.0,
) -> Tensor:
    """Textbook GSPO per token: ``max(-A s_i, -A clip(s_i))`` with ``s_i = exp(min(mean_t d_t, cap))``."""
    logp, old_logp, advantages = _f64(logp), _f64(old_logp), _f64(advantages)
    P, G, T = logp.shape
    out = logp * 0.0
    for p in range(P):
        for i in range(G):
            seq: Any = _seq_log_ratio(logp, old_logp, mask, p, i)
            if log_ratio_max is not None:
                seq = torch.clamp(seq, max=log_ratio_max)
            s = torch.exp(seq)
            for t in range(T):
                if not bool(mask[p, i, t]):
                    continue
                a = _adv(advantages, p, i, t)
                out[p, i, t] = torch.maximum(-a * s, -a * torch.clamp(s, 1.0 - clip_low, 1.0 + clip_high))
    return out


def ref_gmpo_sequence_loss(
    logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *, clip_low: float = 0.4,
    clip_high: float = 0.4,
) -> Tensor:
    """Per sequence ``[P, G]``: ``-A exp(mean_t dtilde_t)``, the log-ratio clipped pessimistically by
    sign(A)."""
    logp, old_logp, advantages = _f64(logp), _f64(old_logp), _f64(advantages)
    P, G, T = logp.shape
    rows = []
    for p in range(P):
        row = []
        for i in range(G):
            valid = [t for t in range(T) if bool(mask[p, i, t])]
            if not valid:
                row.append(0.0 * logp[p, i].sum())
                continue
            a: Any = sum(_adv(advantages, p, i, t) for t in valid) / len(valid)
            sgn = (float(a.detach()) > 0) - (float(a.detach()) < 0)
            acc: Any = 0.0
            for t in valid:
                d = logp[p, i, t] - old_logp[p, i, t]
                if sgn > 0:  # a gain: the log-ratio may count at most clip_high
                    d = torch.clamp(d, max=clip_high)
                elif sgn < 0:  # a loss: at least -clip_low
                    d = torch.clamp(d, min=-clip_low)
                else:
                    d = 0.0 * d
                acc = acc + d
            row.append(-a * torch.exp(acc / len(valid)))
        rows.append(torch.stack(row))
    return torch.stack(rows)


def _ref_token_loss(per_token_fn, logp, old_logp, rewards, mask, *, ref_logp, scale, std_ddof, eps,
                    nan_policy,
                    beta, kl_kind, kl_level, loss_agg_mode, normalizer, horizon, empty_rows, **surrogate_kw):
    adv = ref_group_advantages(rewards, scale=scale, std_ddof=std_ddof, eps=eps, nan_policy=nan_policy)
    per_token = per_token_fn(logp, old_logp, adv, mask, **surrogate_kw)
    if beta > 0:
        kl = ref_loss_kl(logp, ref_logp, old_logp, mask, kl_kind, kl_level)
        per_token = per_token + beta * torch.where(mask.bool(), kl, torch.zeros_like(kl))
    return ref_aggregate(per_token, mask, loss_agg_mode, normalizer=normalizer, horizon=horizon,
                         empty_rows=empty_rows)


def ref_cispo_loss(logp, old_logp, rewards, mask, *, ref_logp=None, scale="group", std_ddof=0, eps=0.0,
                   nan_policy="raise", ratio_max=5.0, ratio_min=None, level="token", log_ratio_clamp=None,
                   loss_agg_mode="token-mean", normalizer=None, horizon=None, empty_rows="count", beta=0.0,
                   kl_kind="k3") -> Tensor:
    """Loop twin of :func:`cispo_loss` (the scalar loss)."""
    return _ref_token_loss(ref_cispo_surrogate, logp, old_logp, rewards, mask, ref_logp=ref_logp, scale=scale,
                           std_ddof=std_ddof, eps=eps, nan_policy=nan_policy, beta=beta, kl_kind=kl_kind,
                           kl_level=level, loss_agg_mode=loss_agg_mode, normalizer=normalizer,
                           horizon=horizon,
                           empty_rows=empty_rows, ratio_max=ratio_max, ratio_min=ratio_min, level=level,
                           log_ratio_clamp=log_ratio_clamp)


def ref_sapo_loss(logp, old_logp, rewards, mask, *, ref_logp=None, scale="group", std_ddof=0, eps=0.0,
                  nan_policy="raise", tau_pos=1.0, tau_neg=1.05, level="token", log_ratio_clamp=None,
                  loss_agg_mode="seq-mean-token-mean", normalizer=None, horizon=None, empty_rows="count",
                  beta=0.0, kl_kind="k3") -> Tensor:
    """Loop twin of :func:`sapo_loss` (the scalar loss)."""
    return _ref_token_loss(ref_sapo_surrogate, logp, old_logp, rewards, mask, ref_logp=ref_logp, scale=scale,
                           std_ddof=std_ddof, eps=eps, nan_policy=nan_policy, beta=beta, kl_kind=kl_kind,
                           kl_level=level, loss_agg_mode=loss_agg_mode, normalizer=normalizer,
                           horizon=horizon,
                           empty_rows=empty_rows, tau_pos=tau_pos, tau_neg=tau_neg, level=level,
                           log_ratio_clamp=log_ratio_clamp)


def ref_gspo_loss(logp, old_logp, rewards, mask, *, ref_logp=None, scale="group", std_ddof=0, eps=0.0,
                  nan_policy="raise", clip_low=3e-4, clip_high=4e-4, log_ratio_max=10.0,
                  loss_agg_mode="seq-mean-token-mean", normalizer=None, horizon=None, empty_rows="count",
                  beta=0.0, kl_kind="k3") -> Tensor:
    """Loop twin of :func:`gspo_loss` (the scalar loss), in the textbook sequence form."""
    return _ref_token_loss(ref_gspo_surrogate, logp, old_logp, rewards, mask, ref_logp=ref_logp, scale=scale,
                           std_ddof=std_ddof, eps=eps, nan_policy=nan_policy, beta=beta, kl_kind=kl_kind,
                           kl_level="sequence", loss_agg_mode=loss_agg_mode, normalizer=normalizer,
                           horizon=horizon, empty_rows=empty_rows, clip_low=clip_low, clip_high=clip_high,
                           log_ratio_max=log_ratio_max)


def ref_gmpo_loss(logp, old_logp, rewards, mask, *, ref_logp=None, scale="group", std_ddof=0, eps=0.0,
                  nan_policy="raise", clip_low=0.4, clip_high=0.4, normalizer=None, empty_rows="count",
                  beta=0.0, kl_kind="k3", kl_agg_mode="token-mean") -> Tensor:
    """Loop twin of :func:`gmpo_loss` (the scalar loss)."""
    adv = ref_group_advantages(rewards, scale=scale, std_ddof=std_ddof, eps=eps, nan_policy=nan_policy)
    seq = ref_gmpo_sequence_loss(logp, old_logp, adv, mask, clip_low=clip_low, clip_high=clip_high)
    P, G = seq.shape
    nonempty = sum(1 for p in range(P) for i in range(G) if bool(mask[p, i].any()))
    n = normalizer if normalizer is not None else (P * G if empty_rows == "count" else nonempty)
    loss: Any = sum(seq[p, i] for p in range(P) for i in range(G)) / n if n else 0.0 * seq.sum()
    if beta > 0:
        kl = ref_loss_kl(logp, ref_logp, old_logp, mask, kl_kind, "token")
        loss = loss + beta * ref_aggregate(kl, mask, kl_agg_mode, empty_rows=empty_rows)
    return loss
