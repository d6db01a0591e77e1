r"""The PPO/GRPO clipped policy surrogate, per token, with clip diagnostics."""

from __future__ import annotations

import torch

from grpo_theory.losses._validate import check_choice, check_nonneg, check_token_tensors

Tensor = torch.Tensor

LEVELS = ("token", "sequence")


def _broadcast_advantages(advantages: Tensor, shape: torch.Size) -> Tensor:
    """``[P, G]`` -> ``[P, G, T]`` (explicit expand over T); ``[P, G, T]`` is passed through."""
    if not isinstance(advantages, torch.Tensor):
        raise ValueError(f"advantages must be a torch.Tensor, got {type(advantages).__name__}")
    if advantages.shape == shape[:2]:
        return advantages.unsqueeze(-1).expand(shape)
    if advantages.shape == shape:
        return advantages
    raise ValueError(
        f"advantages must have shape [P, G]={tuple(shape[:2])} or [P, G, T]={tuple(shape)}, "
        f"got {tuple(advantages.shape)}"
    )


def _masked_token_mean(x: Tensor, mask: Tensor) -> float:
    n = int(mask.sum())
    return float(torch.where(mask, x, torch.zeros_like(x)).sum() / n) if n else 0.0


def policy_surrogate(
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
) -> tuple[Tensor, dict[str, float]]:
    r"""Per-token clipped surrogate loss (to minimize) and clip diagnostics.

    With ratio :math:`\rho_t = \exp(\log\pi_\theta - \log\pi_{\rm old})` and advantage :math:`A`,

    .. math::

        \ell_t = -\min\big(\rho_t A,\ \mathrm{clip}(\rho_t, 1-\epsilon_{\rm low}, 1+\epsilon_{\rm high})
        A\big).

    Equivalently :math:`\ell_t = -A\min(\rho_t, 1+\epsilon_{\rm high})` for :math:`A>0` and
    :math:`-A\max(\rho_t, 1-\epsilon_{\rm low})` for :math:`A<0`. With ``dual_clip=c`` (> 1), tokens
    with :math:`A<0` are further capped: :math:`\ell_t \leftarrow \min(\ell_t, -cA)` (verl's
    ``clip_ratio_c``). With ``level="sequence"`` (GSPO) the log-ratio is replaced by its masked mean
    over the sequence before exponentiation. At :math:`\rho = 1` the loss is :math:`-A` and its gradient
    is :math:`-A\,\nabla\log\pi_\theta` (REINFORCE).

    Defaults are the paper's DAPO-style clip (0.2 low, 0.28 high), no dual clip, token-level ratio.

    Args:
        logp: ``[P, G, T]`` log-probs of the sampled tokens under the current policy.
        old_logp: ``[P, G, T]`` log-probs under the sampling policy (usually detached).
        advantages: ``[P, G]`` (broadcast over T by an explicit expand) or ``[P, G, T]``.
        mask: ``[P, G, T]`` 0/1 (float or bool); 1 marks a real completion token.
        clip_low: :math:`\epsilon_{\rm low}`, in ``[0, 1)``.
        clip_high: :math:`\epsilon_{\rm high}`, ``>= 0``.
        dual_clip: ``None`` (default, off) or a constant ``c > 1``.
        level: ``"token"`` (default) or ``"sequence"``.
        log_ratio_clamp: ``None`` (default) or ``b > 0`` clamping the log-ratio to ``[-b, b]`` before
            ``exp`` (verl and OpenRLHF use 20).

    Returns:
        ``(per_token_loss, diagnostics)``: ``[P, G, T]`` losses with masked positions set to 0, and a
        dict of floats over valid tokens: ``clip_frac_low`` (A < 0 and the low clip binds),
        ``clip_frac_high`` (A > 0 and the high clip binds), ``clip_frac`` (either), ``dual_clip_frac``,
        ``ratio_mean``, ``ratio_max``.

    Examples:
        >>> import torch
        >>> lp = torch.log(torch.tensor([[[1.5], [0.5]]]))  # ratios 1.5 and 0.5 (old_logp = 0)
        >>> loss, d = policy_surrogate(lp, torch.zeros_like(lp), torch.tensor([[1.0, -1.0]]),
        ...                            torch.ones_like(lp))
        >>> loss.flatten()  # -min(1.5, 1.28) and +max(0.5, 0.8)
        tensor([-1.2800,  0.8000])
        >>> d["clip_frac"], d["clip_frac_high"], d["clip_frac_low"]
        (1.0, 0.5, 0.5)
    """
    # Advantages arrive computed, so no group structure is needed: G = 1 ([B, 1, T]) is a flat micro-batch.
    shape, m = check_token_tensors(logp, mask, old_logp=old_logp, min_group=1)
    check_choice(level, LEVELS, "level")
    if not (0.0 <= clip_low < 1.0):
        raise ValueError(f"clip_low must be in [0, 1), got {clip_low}")
    check_nonneg(clip_high, "clip_high")
    if dual_clip is not None and not (1.0 < dual_clip < float("inf")):
        raise ValueError(f"dual_clip must be None or a finite number > 1, got {dual_clip}")
    if log_ratio_clamp is not None and not (0.0 < log_ratio_clamp < float("inf")):
        raise ValueError(f"log_ratio_clamp must be None or a finite number > 0, got {log_ratio_clamp}")
    adv = _broadcast_advantages(advantages, shape).to(logp.dtype)

    # Garbage at masked positions must not reach exp(): zero the log-ratio there.
    log_ratio = torch.where(m, logp - old_logp, torch.zeros_like(logp))
    if level == "sequence":
        n = m.sum(dim=-1, keepdim=True).clamp(min=1)
        log_ratio = (log_ratio.sum(dim=-1, keepdim=True) / n).expand(shape)
    if log_ratio_clamp is not None:
        log_ratio = log_ratio.clamp(-log_ratio_clamp, log_ratio_clamp)
    ratio = torch.exp(log_ratio)

    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(unclipped, clipped)
    dual = torch.zeros_like(m)
    if dual_clip is not None:
        cap = -adv * dual_clip
        dual = (adv < 0) & (loss > cap)
        loss = torch.where(adv < 0, torch.minimum(loss, cap), loss)
    loss = torch.where(m, loss, torch.zeros_like(loss))

    with torch.no_grad():
        low = (adv < 0) & (ratio < 1.0 - clip_low) & m
        high = (adv > 0) & (ratio > 1.0 + clip_high) & m
        diagnostics = {
            "clip_frac_low": _masked_token_mean(low.to(logp.dtype), m),
            "clip_frac_high": _masked_token_mean(high.to(logp.dtype), m),
            "clip_frac": _masked_token_mean((low | high).to(logp.dtype), m),
            "dual_clip_frac": _masked_token_mean((dual & m).to(logp.dtype), m),
            "ratio_mean": _masked_token_mean(ratio, m),
            "ratio_max": float(torch.where(m, ratio,
                                           torch.zeros_like(ratio)).max()) if bool(m.any()) else 0.0,
        }
    return loss, diagnostics
