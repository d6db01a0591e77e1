r"""Slow, loop-based float64 twins of the loss library, written for readability, not speed.

Each ``ref_*`` function walks prompts, rollouts and tokens with explicit Python loops over
torch *scalars*, so autograd still works and gradients can be compared with the fast code. They
do no input validation: they are oracles for tests on valid input. Their outputs are float64.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grpo_theory.losses.aggregate import resolve_mode

Tensor = torch.Tensor


_EPS64 = float(torch.finfo(torch.float64).eps)


def _f64(x: Tensor) -> Tensor:
    return x if x.dtype == torch.float64 else x.to(torch.float64)


def ref_group_advantages(
    rewards: Tensor, *, scale: str = "group", std_ddof: int = 0, eps: float = 0.0, nan_policy: str = "raise"
) -> Tensor:
    """Loop twin of :func:`group_advantages`."""
    rewards = _f64(rewards)
    P, G = rewards.shape
    # Batch std over every kept reward (only used for scale="batch").
    kept_all = [rewards[p, i] for p in range(P) for i in range(G) if not math.isnan(float(rewards[p, i]))]
    batch_std: Any = None
    if scale == "batch":
        # Deviations are taken from the smallest reward first, so near-tied values lose no digits.
        b_lo: Any = min(kept_all, key=float) if kept_all else 0.0
        mu: Any = sum(x - b_lo for x in kept_all) / len(kept_all) if kept_all else 0.0
        ss: Any = (sum((x - b_lo - mu) ** 2 for x in kept_all) if kept_all
                   else torch.tensor(0.0, dtype=torch.float64))
        var: Any = ss / max(len(kept_all) - std_ddof, 1)
        batch_std = var**0.5 if float(var) > 0 else torch.tensor(1.0, dtype=torch.float64)
    rows = []
    for p in range(P):
        idx = [i for i in range(G) if not math.isnan(float(rewards[p, i]))]
        vals = [rewards[p, i] for i in idx]
        tied = len(vals) <= 1 or max(float(v) for v in vals) == min(float(v) for v in vals)
        out = []
        if tied:
            rows.append(torch.stack([rewards[p, i] * 0.0 if i in idx else torch.zeros((), dtype=torch.float64)
                                     for i in range(G)]) if idx else torch.zeros(G, dtype=torch.float64))
            continue
        lo = min(vals, key=float)  # deviations from the smallest reward first (exact for near ties)
        mean = sum(v - lo for v in vals) / len(vals)
        denom: Any
        if scale == "none":
            denom = 1.0
        elif scale == "group":
            var = sum((v - lo - mean) ** 2 for v in vals) / max(len(vals) - std_ddof, 1)
            denom = var**0.5 + eps
        else:
            denom = batch_std + eps
        spread = max(float(v) for v in vals) - min(float(v) for v in vals)
        for i in range(G):
            if i not in idx:
                out.append(torch.zeros((), dtype=torch.float64))
                continue
            dev = (rewards[p, i] - lo) - mean
            if abs(float(dev)) <= (len(vals) + 2) * _EPS64 * spread:
                dev = dev - dev.detach()  # within rounding of the mean: exactly 0
            out.append(dev / denom)
        rows.append(torch.stack(out))
    return torch.stack(rows)


def ref_rloo_advantages(rewards: Tensor) -> Tensor:
    """Loop twin of :func:`rloo_advantages`."""
    rewards = _f64(rewards)
    P, G = rewards.shape
    rows = []
    for p in range(P):
        out = []
        vals = [rewards[p, j] for j in range(G)]
        spread = max(float(v) for v in vals) - min(float(v) for v in vals)
        mean = sum(vals) / G
        for i in range(G):
            others = [rewards[p, j] for j in range(G) if j != i]
            a = rewards[p, i] - sum(others) / (G - 1)
            if spread == 0 or abs(float(rewards[p, i] - mean)) <= (G + 2) * _EPS64 * spread:
                a = a - a.detach()  # tied group, or a reward within rounding of its mean: exactly 0
            out.append(a)
        rows.append(torch.stack(out))
    return torch.stack(rows)


def ref_policy_surrogate(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    dual_clip: float | None = None,
    level: str = "token",
    log_ratio_clamp: float | None = None,
) -> Tensor:
    """Loop twin of :func:`policy_surrogate` (per-token losses only)."""
    logp, old_logp, advantages = _f64(logp), _f64(old_logp), _f64(advantages)
    P, G, T = logp.shape
    out = logp * 0.0  # keeps the graph connected even if every token is masked
    for p in range(P):
        for i in range(G):
            valid = [t for t in range(T) if bool(mask[p, i, t])]
            seq_lr: Any = sum(logp[p, i, t] - old_logp[p, i, t] for t in valid) / max(len(valid), 1)
            for t in valid:
                a = advantages[p, i] if advantages.ndim == 2 else advantages[p, i, t]
                lr: Any = seq_lr if level == "sequence" else logp[p, i, t] - old_logp[p, i, t]
                if log_ratio_clamp is not None:
                    lr = torch.clamp(lr, -log_ratio_clamp, log_ratio_clamp)
                rho = torch.exp(lr)
                if float(a.detach()) >= 0:  # A * min(rho, 1+eh) maximized -> loss = -A * min(...)
                    obj = a * torch.clamp(rho, max=1.0 + clip_high) if float(a.detach()) > 0 else a * rho
                else:
                    obj = a * torch.clamp(rho, min=1.0 - clip_low)
                    if dual_clip is not None:
                        obj = torch.maximum(obj, a * dual_clip)
                out[p, i, t] = -obj
    return out


def ref_kl_estimate(
    logp: Tensor, ref_logp: Tensor, kind: str = "k3", *, log_ratio_clamp: float | None = None,
    value_clamp: float | None = None,
) -> Tensor:
    """Elementwise twin of :func:`kl_estimate` (k3 via exp(-d), not expm1)."""
    logp, ref_logp = _f64(logp), _f64(ref_logp)
    flat_lp, flat_ref = logp.reshape(-1), ref_logp.reshape(-1)
    vals = []
    for k in range(flat_lp.numel()):
        d_raw = flat_lp[k] - flat_ref[k]
        d = torch.clamp(d_raw, -log_ratio_clamp, log_ratio_clamp) if log_ratio_clamp is not None else d_raw
        base = "k3" if kind == "k3+" else kind
        if base == "k1":
            v = d
        elif base == "k2":
            v = d * d / 2
        else:
            v = torch.exp(-d) - 1 + d
        if value_clamp is not None:
            v = torch.clamp(v, -value_clamp, value_clamp)
        if kind == "k3+":
            half_sq = d_raw * d_raw / 2
            v = v.detach() + half_sq - half_sq.detach()
        vals.append(v)
    return torch.stack(vals).reshape(logp.shape) if vals else torch.zeros_like(logp)


def ref_aggregate(
    per_token: Tensor, mask: Tensor, mode: str = "seq-mean-token-mean", *, normalizer: float | None = None,
    horizon: float | None = None, empty_rows: str = "count",
) -> Tensor:
    """Loop twin of :func:`aggregate`."""
    mode = resolve_mode(mode)
    if mode == "prompt-mean-token-mean":
        return _ref_prompt_mean_token_mean(per_token, mask, normalizer=normalizer, empty_rows=empty_rows)
    x = _f64(per_token).reshape(-1, per_token.shape[-1])
    m = mask.reshape(-1, per_token.shape[-1])
    S, T = x.shape
    total = torch.zeros((), dtype=torch.float64) + 0.0 * x.sum()
    seq_sums, lengths = [], []
    for s in range(S):
        acc = torch.zeros((), dtype=torch.float64)
        n = 0
        for t in range(T):
            if bool(m[s, t]):
                acc = acc + x[s, t]
                n += 1
        seq_sums.append(acc)
        lengths.append(n)
    if mode == "token-sum":
        return total + sum(seq_sums)
    if mode == "token-mean":
        n_tok = normalizer if normalizer is not None else sum(lengths)
        return total + sum(seq_sums) / n_tok if n_tok else total
    if normalizer is not None:
        n_seq = normalizer
    elif empty_rows == "count":
        n_seq = S
    else:
        n_seq = sum(1 for n in lengths if n > 0)
    if n_seq == 0:
        return total
    if mode == "seq-mean-token-mean":
        return total + sum(sm / n for sm, n in zip(seq_sums, lengths) if n > 0) / n_seq
    if mode == "seq-mean-token-sum":
        return total + sum(seq_sums) / n_seq
    c = horizon if horizon is not None else T
    return total + sum(seq_sums) / (n_seq * c)


def _ref_prompt_mean_token_mean(
    per_token: Tensor, mask: Tensor, *, normalizer: float | None, empty_rows: str
) -> Tensor:
    """Per prompt (first dim): the mean over all its valid tokens; then the mean over prompts."""
    x = _f64(per_token)
    total = 0.0 * x.sum()
    prompt_means, n_prompts_with_tokens = [], 0
    for p in range(x.shape[0]):
        toks = [xv for xv, mv in zip(x[p].reshape(-1), mask[p].reshape(-1)) if bool(mv)]
        if toks:
            n_prompts_with_tokens += 1
            prompt_means.append(sum(toks) / len(toks))
    if normalizer is not None:
        n = normalizer
    else:
        n = x.shape[0] if empty_rows == "count" else n_prompts_with_tokens
    return total + sum(prompt_means) / n if n and prompt_means else total


def ref_kl_importance_weighted(
    logp: Tensor, ref_logp: Tensor, old_logp: Tensor, mask: Tensor, *, kind: str = "k3", level: str = "token"
) -> Tensor:
    """Loop twin of :func:`kl_importance_weighted`: ratio (token or sequence) times the KL estimate."""
    logp, ref_logp, old_logp = _f64(logp), _f64(ref_logp), _f64(old_logp)
    k = ref_kl_estimate(logp, ref_logp, kind)
    flat_lp, flat_old = logp.reshape(-1, logp.shape[-1]), old_logp.reshape(-1, logp.shape[-1])
    flat_m, flat_k = mask.reshape(-1, logp.shape[-1]), k.reshape(-1, logp.shape[-1])
    rows = []
    for s in range(flat_lp.shape[0]):
        valid = [t for t in range(flat_lp.shape[1]) if bool(flat_m[s, t])]
        seq_lr: Any = sum((flat_lp[s, t] - flat_old[s, t] for t in valid),
                          torch.zeros((), dtype=torch.float64)) / max(len(valid), 1)
        row = []
        for t in range(flat_lp.shape[1]):
            if level == "sequence":
                lr: Any = seq_lr
            else:
                lr = (
                    flat_lp[s, t] - flat_old[s, t]
                    if bool(flat_m[s, t])
                    else torch.zeros((), dtype=torch.float64)
                )
            row.append(torch.exp(lr) * flat_k[s, t])
        rows.append(torch.stack(row))
    return torch.stack(rows).reshape(logp.shape)


def ref_loss_kl(logp: Tensor, ref_logp: Tensor, old_logp: Tensor, mask: Tensor, kl_kind: str,
                level: str) -> Tensor:
    """The per-token KL term of a GRPO-family loss (``"k3_is"``: ratio-weighted k3)."""
    if kl_kind == "k3_is":
        return ref_kl_importance_weighted(logp, ref_logp, old_logp, mask, kind="k3", level=level)
    return ref_kl_estimate(logp, ref_logp, kl_kind)


def ref_grpo_loss(
    logp: Tensor, old_logp: Tensor, rewards: Tensor, mask: Tensor, *, ref_logp: Tensor | None = None,
    scale: str = "group", std_ddof: int = 0, eps: float = 0.0, nan_policy: str = "raise",
    clip_low: float = 0.2, clip_high: float = 0.28, dual_clip: float | None = None, level: str = "token",
    log_ratio_clamp: float | None = None, loss_agg_mode: str = "seq-mean-token-mean",
    normalizer: float | None = None, horizon: float | None = None, empty_rows: str = "count",
    beta: float = 0.0, kl_kind: str = "k3", advantages: Tensor | None = None,
) -> Tensor:
    """Loop twin of :func:`grpo_loss` (the scalar loss). ``advantages`` overrides the GRPO ones (RLOO)."""
    adv = advantages if advantages is not None else ref_group_advantages(
        rewards, scale=scale, std_ddof=std_ddof, eps=eps, nan_policy=nan_policy
    )
    per_token = ref_policy_surrogate(
        logp, old_logp, adv, mask, clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip,
        level=level, log_ratio_clamp=log_ratio_clamp,
    )
    if beta > 0:
        assert ref_logp is not None
        kl = ref_loss_kl(logp, ref_logp, old_logp, mask, kl_kind, level)
        per_token = per_token + beta * torch.where(mask.bool(), kl, torch.zeros_like(kl))
    return ref_aggregate(per_token, mask, loss_agg_mode, normalizer=normalizer, horizon=horizon,
                         empty_rows=empty_rows)


def _neg_log_sigmoid(x: Tensor) -> Tensor:
    # -log sigma(x) = log(1 + e^{-x}); the two branches avoid overflow.
    return torch.log1p(torch.exp(-x)) if float(x.detach()) >= 0 else -x + torch.log1p(torch.exp(x))


def ref_dpo_loss(
    policy_chosen_logps: Tensor, policy_rejected_logps: Tensor, ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor, *, beta: float, loss_type: str = "sigmoid", label_smoothing: float = 0.0,
) -> Tensor:
    """Loop twin of :func:`dpo_loss`."""
    out = []
    for k in range(policy_chosen_logps.shape[0]):
        u = (_f64(policy_chosen_logps)[k] - _f64(ref_chosen_logps)[k]) - (
            _f64(policy_rejected_logps)[k] - _f64(ref_rejected_logps)[k]
        )
        if loss_type == "sigmoid":
            v = (1 - label_smoothing) * _neg_log_sigmoid(beta * u) + label_smoothing * _neg_log_sigmoid(
                -beta * u
            )
        elif loss_type == "ipo":
            v = (u - 1 / (2 * beta)) ** 2
        else:
            v = torch.clamp(1 - beta * u, min=0.0)
        out.append(v)
    return torch.stack(out) if out else torch.zeros(0, dtype=torch.float64)


def ref_online_dpo_loss(
    logp: Tensor, old_logp: Tensor, rewards: Tensor, mask: Tensor, *, ref_logp: Tensor, beta: float = 0.1,
    loss_type: str = "sigmoid", label_smoothing: float = 0.0, length_normalize: bool = False,
) -> Tensor:
    """Loop twin of :func:`online_dpo_loss` (the scalar loss)."""
    P, _, T = logp.shape
    losses = []
    for p in range(P):
        if float(rewards[p, 0]) == float(rewards[p, 1]):
            continue  # ties are dropped, not broken
        w, lo = (0, 1) if float(rewards[p, 0]) > float(rewards[p, 1]) else (1, 0)

        def seq(x: Tensor, i: int, p: int = p) -> Tensor:
            toks = [_f64(x)[p, i, t] for t in range(T) if bool(mask[p, i, t])]
            s: Any = sum(toks) if toks else torch.zeros((), dtype=torch.float64)
            return s / max(len(toks), 1) if length_normalize else s

        one = lambda x: x.reshape(1)  # noqa: E731
        losses.append(ref_dpo_loss(one(seq(logp, w)), one(seq(logp, lo)), one(seq(ref_logp, w)),
                                   one(seq(ref_logp, lo)), beta=beta, loss_type=loss_type,
                                   label_smoothing=label_smoothing)[0])
    if not losses:
        return _f64(logp).sum() * 0.0
    total: Any = sum(losses)
    return total / len(losses)


def ref_contrastive_objective(
    logp: Tensor, old_logp: Tensor, rewards: Tensor, mask: Tensor, *, clip_low: float = 0.2,
    clip_high: float = 0.28,
) -> Tensor:
    """Loop twin of ``contrastive_form(...).objective`` ([P])."""
    P, G, T = logp.shape
    out = []
    for p in range(P):
        pos, neg = [], []
        for i in range(G):
            valid = [t for t in range(T) if bool(mask[p, i, t])]
            rhos = [torch.exp(_f64(logp)[p, i, t] - _f64(old_logp)[p, i, t]) for t in valid]
            if float(rewards[p, i]) == 1.0:
                terms = [torch.clamp(r, max=1 + clip_high) for r in rhos]
                pos.append(sum(terms) / len(terms) if terms else torch.zeros((), dtype=torch.float64))
            else:
                terms = [torch.clamp(r, min=1 - clip_low) for r in rhos]
                neg.append(sum(terms) / len(terms) if terms else torch.zeros((), dtype=torch.float64))
        ph = len(pos) / G
        w = math.sqrt(ph * (1 - ph))
        mp = sum(pos) / len(pos) if pos else torch.zeros((), dtype=torch.float64)
        mn = sum(neg) / len(neg) if neg else torch.zeros((), dtype=torch.float64)
        out.append(w * (mp - mn) + 0.0 * _f64(logp)[p].sum())
    return torch.stack(out)
