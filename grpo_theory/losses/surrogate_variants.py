r"""Per-token policy surrogates of other engines: CISPO, SAPO (TRL ``loss_type``), GSPO and GMPO (verl).

Each function takes ``logp``, ``old_logp``, ``mask`` of shape ``[P, G, T]`` and advantages ``[P, G]``
(broadcast over T) or ``[P, G, T]``, and returns ``(loss, diagnostics)`` like
:func:`~grpo_theory.losses.surrogate.policy_surrogate`: a loss to minimize (masked positions 0) and
a dict of floats over valid tokens. CISPO, SAPO and GSPO return per-token losses ``[P, G, T]`` for
:func:`~grpo_theory.losses.aggregate.aggregate`; GMPO is a product over the tokens of a sequence and
returns per-sequence losses ``[P, G]``. As the advantages are given, G = 1 is allowed (a flat
micro-batch ``[B, 1, T]``). Log-ratios at masked positions are set to 0 before ``exp``,
so padding cannot overflow. At ratio 1 every one of them has the REINFORCE gradient
:math:`-A\,\nabla\log\pi_\theta` per token (GMPO: per sequence, through its token mean).
"""

from __future__ import annotations

import torch

from grpo_theory.losses._validate import check_choice, check_positive, check_token_tensors
from grpo_theory.losses.surrogate import LEVELS, _broadcast_advantages, _masked_token_mean

Tensor = torch.Tensor


def _log_ratio(logp: Tensor, old_logp: Tensor, m: Tensor, level: str,
               log_ratio_clamp: float | None) -> Tensor:
    """Masked log-ratio ``[P, G, T]``; its masked sequence mean broadcast over T for ``level="sequence"``."""
    check_choice(level, LEVELS, "level")
    if log_ratio_clamp is not None:
        check_positive(log_ratio_clamp, "log_ratio_clamp")
    lr = torch.where(m, logp - old_logp, torch.zeros_like(logp))
    if level == "sequence":
        n = m.sum(dim=-1, keepdim=True).clamp(min=1)
        lr = (lr.sum(dim=-1, keepdim=True) / n).expand(logp.shape)
    if log_ratio_clamp is not None:
        lr = lr.clamp(-log_ratio_clamp, log_ratio_clamp)
    return lr


def _ratio_diagnostics(ratio: Tensor, m: Tensor) -> dict[str, float]:
    return {
        "ratio_mean": _masked_token_mean(ratio, m),
        "ratio_max": float(torch.where(m, ratio, torch.zeros_like(ratio)).max()) if bool(m.any()) else 0.0,
    }


def cispo_surrogate(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    ratio_max: float | None = 5.0,
    ratio_min: float | None = None,
    level: str = "token",
    log_ratio_clamp: float | None = None,
) -> tuple[Tensor, dict[str, float]]:
    r"""CISPO (MiniMax-M1): a REINFORCE term weighted by the clipped, stopped-gradient ratio.

    .. math::

        \ell_t = -\,\mathrm{sg}\big[\mathrm{clip}(\rho_t,\ \rho_{\min},\ \rho_{\max})\big]\; A\;
        \log\pi_\theta(o_t),

    so :math:`\nabla\ell_t = -\mathrm{clip}(\rho_t)\,A\,\nabla\log\pi_\theta(o_t)`: unlike PPO clipping no
    token loses its gradient, the clip only bounds its weight. The value depends on
    :math:`\log\pi_\theta` itself (not only on the ratio), as in both engines.

    Conventions: TRL ``loss_type="cispo"`` clips from above only, at ``epsilon_high`` used as the
    ratio bound itself (ScaleRL recommends 5.0): ``ratio_max=epsilon_high, ratio_min=None``, no clamp.
    verl ``policy_loss.loss_mode="cispo"`` clips both sides around 1: ``ratio_min=1-clip_ratio_low,
    ratio_max=1+clip_ratio_high, log_ratio_clamp=20``.

    Args:
        logp, old_logp, mask: ``[P, G, T]``.
        advantages: ``[P, G]`` or ``[P, G, T]``.
        ratio_max: upper bound on the weight (default 5.0), or ``None``.
        ratio_min: lower bound on the weight (default ``None``), or a number ``>= 0``.
        level: ``"token"`` (default) or ``"sequence"`` (the weight uses the sequence's geometric-mean ratio).
        log_ratio_clamp: ``None`` (default) or ``b > 0``: clamp the log-ratio to ``[-b, b]`` first.

    Returns:
        ``(per_token_loss [P, G, T], diagnostics)`` with ``clip_frac_high`` (A > 0 and
        :math:`\rho > \rho_{\max}`: TRL's ``cispo_clip_ratio``), ``clip_frac`` (the weight is clipped on
        either side, any A: verl's ``pg_clipfrac``), ``ratio_mean``, ``ratio_max``.

    Examples:
        >>> import torch
        >>> lp = torch.log(torch.tensor([[[8.0], [0.5]]])) - 1.0  # ratios 8 and 0.5 against old = log - 1
        >>> old = torch.log(torch.tensor([[[1.0], [1.0]]])) - 1.0
        >>> loss, d = cispo_surrogate(lp, old, torch.tensor([[1.0, -1.0]]), torch.ones_like(lp))
        >>> loss.flatten()  # -5 * 1 * logp_1 and -0.5 * (-1) * logp_2
        tensor([-5.3972, -0.8466])
        >>> d["clip_frac_high"], d["clip_frac"]
        (0.5, 0.5)
    """
    shape, m = check_token_tensors(logp, mask, old_logp=old_logp, min_group=1)
    for nm, v in (("ratio_max", ratio_max), ("ratio_min", ratio_min)):
        if v is not None and not (0.0 <= v < float("inf")):
            raise ValueError(f"{nm} must be None or a finite number >= 0, got {v}")
    if ratio_min is not None and ratio_max is not None and ratio_min > ratio_max:
        raise ValueError(f"ratio_min must be <= ratio_max, got {ratio_min} > {ratio_max}")
    adv = _broadcast_advantages(advantages, shape).to(logp.dtype)
    ratio = torch.exp(_log_ratio(logp, old_logp, m, level, log_ratio_clamp))
    weight = ratio.clamp(min=ratio_min, max=ratio_max) if (ratio_min, ratio_max) != (None, None) else ratio
    loss = torch.where(m, -weight.detach() * adv * logp, torch.zeros_like(logp))
    with torch.no_grad():
        high = ratio > ratio_max if ratio_max is not None else torch.zeros_like(m)
        low = ratio < ratio_min if ratio_min is not None else torch.zeros_like(m)
        diagnostics = {
            "clip_frac_high": _masked_token_mean((high & (adv > 0) & m).to(logp.dtype), m),
            "clip_frac": _masked_token_mean(((high | low) & m).to(logp.dtype), m),
            **_ratio_diagnostics(ratio, m),
        }
    return loss, diagnostics


def sapo_surrogate(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    tau_pos: float = 1.0,
    tau_neg: float = 1.05,
    level: str = "token",
    log_ratio_clamp: float | None = None,
) -> tuple[Tensor, dict[str, float]]:
    r"""SAPO: a smooth sigmoid gate on the ratio in place of the hard PPO clip.

    .. math::

        \ell_t = -\,f_\tau(\rho_t)\,A,\qquad f_\tau(\rho) = \frac4\tau\,\sigma\big(\tau(\rho - 1)\big),
        \qquad \tau = \tau_{\rm pos}\ (A > 0),\ \tau_{\rm neg}\ (A \le 0).

    :math:`f_\tau'(\rho) = 4\sigma(1-\sigma)`, which is 1 at :math:`\rho = 1` (the on-policy gradient is
    REINFORCE) and decays smoothly away from it; the value at :math:`\rho = 1` is :math:`-2A/\tau`.
    Defaults are TRL's and verl's (``sapo_temperature_pos/neg``, ``tau_pos/neg``): 1.0 and 1.05.
    TRL uses no clamp and aggregates per sequence (``loss_agg_mode="seq-mean-token-mean"``); verl
    clamps the log-ratio at 20 and always aggregates ``seq-mean-token-mean``.

    Args:
        logp, old_logp, mask: ``[P, G, T]``.
        advantages: ``[P, G]`` or ``[P, G, T]``.
        tau_pos, tau_neg: temperatures ``> 0``.
        level: ``"token"`` (default) or ``"sequence"`` (TRL ``importance_sampling_level``).
        log_ratio_clamp: ``None`` (default) or ``b > 0``.

    Returns:
        ``(per_token_loss [P, G, T], diagnostics)`` with ``gate_mean`` (mean :math:`f_\tau(\rho)` over valid
        tokens), ``ratio_mean``, ``ratio_max``.

    Examples:
        >>> import torch
        >>> lp = torch.zeros(1, 2, 1)  # ratio 1: loss -2A/tau
        >>> loss, _ = sapo_surrogate(lp, lp, torch.tensor([[1.0, -1.0]]), torch.ones_like(lp))
        >>> loss.flatten()
        tensor([-2.0000,  1.9048])
    """
    shape, m = check_token_tensors(logp, mask, old_logp=old_logp, min_group=1)
    tau_pos = check_positive(tau_pos, "tau_pos")
    tau_neg = check_positive(tau_neg, "tau_neg")
    adv = _broadcast_advantages(advantages, shape).to(logp.dtype)
    ratio = torch.exp(_log_ratio(logp, old_logp, m, level, log_ratio_clamp))
    tau = torch.where(adv > 0, torch.full_like(adv, tau_pos), torch.full_like(adv, tau_neg))
    gate = torch.sigmoid(tau * (ratio - 1.0)) * (4.0 / tau)
    loss = torch.where(m, -gate * adv, torch.zeros_like(logp))
    with torch.no_grad():
        diagnostics = {"gate_mean": _masked_token_mean(gate, m), **_ratio_diagnostics(ratio, m)}
    return loss, diagnostics


def gspo_surrogate(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_low: float = 3e-4,
    clip_high: float = 4e-4,
    log_ratio_max: float | None = 10.0,
) -> tuple[Tensor, dict[str, float]]:
    r"""GSPO: the PPO clip applied to the sequence's geometric-mean ratio, verl's token form.

    With :math:`\bar d_i = \frac1{n_i}\sum_t m_t(\log\pi_\theta - \log\pi_{\rm old})` and
    :math:`s_i = e^{\bar d_i}`, every valid token of sequence :math:`i` carries
    :math:`s_{i,t} = \mathrm{sg}[s_i]\,\pi_\theta(o_t)/\mathrm{sg}[\pi_\theta(o_t)]` (value :math:`s_i`) and

    .. math::

        \ell_t = \max\big(-A\,s_{i,t},\ -A\,\mathrm{clip}(s_{i,t}, 1-\epsilon_{\rm low}, 1+\epsilon_{\rm
        high})\big).

    Each token's gradient goes through its own log-prob only, but because every aggregation mode
    weights the tokens of one sequence equally, the aggregated loss has exactly the gradient of the
    textbook sequence-level objective :math:`\max(-A s_i, -A\,\mathrm{clip}(s_i))` with
    :math:`\nabla s_i = s_i \nabla\bar d_i` (tested against that form in float64). The log of
    :math:`s_{i,t}` is clamped from above at ``log_ratio_max`` (verl: 10; ``None``: off). Defaults are
    the GSPO paper's clip range (3e-4, 4e-4), which verl's GSPO recipe sets through
    ``clip_ratio_low/high``.

    Args:
        logp, old_logp, mask: ``[P, G, T]``.
        advantages: ``[P, G]`` or ``[P, G, T]``.
        clip_low: :math:`\epsilon_{\rm low}` in ``[0, 1)``.
        clip_high: :math:`\epsilon_{\rm high} \ge 0`.
        log_ratio_max: ``None`` or a number > 0.

    Returns:
        ``(per_token_loss [P, G, T], diagnostics)`` with ``clip_frac`` (valid tokens whose clipped branch
        is strictly larger: verl's ``pg_clipfrac``), ``clip_frac_low`` (A < 0 and
        :math:`s < 1-\epsilon_{\rm low}`), ``clip_frac_high`` (A > 0 and :math:`s > 1+\epsilon_{\rm high}`),
        ``ratio_mean``, ``ratio_max`` (of :math:`s`).

    Examples:
        >>> import torch
        >>> lp = torch.tensor([[[0.2, -0.2], [0.0, 0.0]]], requires_grad=True)  # s_1 = e^0 = 1
        >>> adv = torch.tensor([[1.0, -1.0]])
        >>> loss, _ = gspo_surrogate(lp, torch.zeros(1, 2, 2), adv, torch.ones(1, 2, 2))
        >>> loss.detach().flatten()
        tensor([-1., -1.,  1.,  1.])
    """
    shape, m = check_token_tensors(logp, mask, old_logp=old_logp, min_group=1)
    if not (0.0 <= clip_low < 1.0):
        raise ValueError(f"clip_low must be in [0, 1), got {clip_low}")
    if not (0.0 <= clip_high < float("inf")):
        raise ValueError(f"clip_high must be a finite number >= 0, got {clip_high}")
    if log_ratio_max is not None:
        check_positive(log_ratio_max, "log_ratio_max")
    adv = _broadcast_advantages(advantages, shape).to(logp.dtype)
    seq_lr = _log_ratio(logp, old_logp, m, "sequence", None)
    # Value s_i, gradient through the token's own log-prob: sg[log s_i] + logp - sg[logp].
    log_s = seq_lr.detach() + logp - logp.detach()
    log_s = torch.where(m, log_s, torch.zeros_like(log_s))
    if log_ratio_max is not None:
        log_s = log_s.clamp(max=log_ratio_max)
    s = torch.exp(log_s)
    unclipped = -adv * s
    clipped = -adv * s.clamp(1.0 - clip_low, 1.0 + clip_high)
    loss = torch.where(m, torch.maximum(unclipped, clipped), torch.zeros_like(logp))
    with torch.no_grad():
        low = (adv < 0) & (s < 1.0 - clip_low) & m
        high = (adv > 0) & (s > 1.0 + clip_high) & m
        diagnostics = {
            "clip_frac": _masked_token_mean(((clipped > unclipped) & m).to(logp.dtype), m),
            "clip_frac_low": _masked_token_mean(low.to(logp.dtype), m),
            "clip_frac_high": _masked_token_mean(high.to(logp.dtype), m),
            **_ratio_diagnostics(s, m),
        }
    return loss, diagnostics


def gmpo_sequence_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_low: float = 0.4,
    clip_high: float = 0.4,
) -> tuple[Tensor, dict[str, float]]:
    r"""GMPO (verl ``geo_mean``): the geometric mean of token ratios, clipped token-wise in log space.

    With :math:`d_t = \log\pi_\theta(o_t) - \log\pi_{\rm old}(o_t)` and the sign :math:`\varsigma =
    \mathrm{sign}(A)`,

    .. math::

        \tilde d_t = \varsigma\,\min\big(\varsigma d_t,\ \varsigma\,\mathrm{clip}(d_t, -\epsilon_{\rm low},
        \epsilon_{\rm high})\big), \qquad \ell_i = -A_i \exp\Big(\frac1{n_i}\sum_t m_t \tilde d_t\Big),

    one loss per sequence (a fully masked sequence gets :math:`\ell = 0`), where :math:`\varsigma` is the sign
    of the sequence advantage (verl takes it per token; the two agree for sequence-level advantages,
    the only kind verl supports here). The clip is pessimistic
    per token, like PPO's, but on the log-ratio: for :math:`A > 0` a token's :math:`d_t` is capped at
    :math:`\epsilon_{\rm high}`, for :math:`A < 0` floored at :math:`-\epsilon_{\rm low}`; :math:`A = 0`
    gives 0 (an exactly zero advantage matters here: a residue of 1e-16 would flip the sign branch). The
    GMPO paper's range is :math:`(e^{-0.4}, e^{0.4})`, i.e. ``clip_low = clip_high = 0.4`` (the
    defaults); verl reads them from ``clip_ratio_low/high``. verl's sequence advantage is the masked
    token mean of ``advantages``; with ``[P, G]`` advantages it is :math:`A_i` itself.

    Args:
        logp, old_logp, mask: ``[P, G, T]``.
        advantages: ``[P, G]`` or ``[P, G, T]`` (the masked token mean over T is used).
        clip_low, clip_high: log-space clip widths ``>= 0``.

    Returns:
        ``(per_sequence_loss [P, G], diagnostics)``: ``clip_frac_high`` (valid tokens with
        :math:`d_t` outside the clip band and A > 0: verl's ``pg_clipfrac``), ``clip_frac_low``
        (outside and A < 0: verl's ``pg_clipfrac_lower``), ``ratio_mean`` / ``ratio_max`` (of the
        per-sequence clipped geometric-mean ratio, over sequences with a valid token).

    Examples:
        >>> import torch
        >>> lp = torch.tensor([[[0.1, 0.9], [0.0, 0.0]]])  # sequence 1: d = 0.1, 0.9 -> 0.1, 0.4 for A > 0
        >>> adv = torch.tensor([[1.0, -1.0]])
        >>> loss, _ = gmpo_sequence_loss(lp, torch.zeros_like(lp), adv, torch.ones_like(lp))
        >>> torch.allclose(loss, torch.tensor([[-torch.exp(torch.tensor(0.25)), 1.0]]))
        True
    """
    shape, m = check_token_tensors(logp, mask, old_logp=old_logp, min_group=1)
    for nm, v in (("clip_low", clip_low), ("clip_high", clip_high)):
        if not (0.0 <= v < float("inf")):
            raise ValueError(f"{nm} must be a finite number >= 0, got {v}")
    adv_tok = _broadcast_advantages(advantages, shape).to(logp.dtype)
    n = m.sum(dim=-1).to(logp.dtype)
    adv = torch.where(m, adv_tok, torch.zeros_like(adv_tok)).sum(dim=-1) / n.clamp(min=1)  # [P, G]
    d = torch.where(m, logp - old_logp, torch.zeros_like(logp))
    d_clamped = d.clamp(-clip_low, clip_high)
    sign = torch.sign(adv).unsqueeze(-1)
    d_min = sign * torch.minimum(sign * d, sign * d_clamped)
    ratio = torch.exp(torch.where(m, d_min, torch.zeros_like(d_min)).sum(dim=-1) / n.clamp(min=1))
    loss = torch.where(n > 0, -adv * ratio, torch.zeros_like(adv))
    with torch.no_grad():
        outside = (d != d_clamped) & m
        a_tok = adv.unsqueeze(-1).expand(shape)
        rows = n > 0
        diagnostics = {
            "clip_frac_high": _masked_token_mean((outside & (a_tok > 0)).to(logp.dtype), m),
            "clip_frac_low": _masked_token_mean((outside & (a_tok < 0)).to(logp.dtype), m),
            "ratio_mean": float(ratio[rows].mean()) if bool(rows.any()) else 0.0,
            "ratio_max": float(ratio[rows].max()) if bool(rows.any()) else 0.0,
        }
    return loss, diagnostics
