r"""Reduction of a per-token loss ``[..., T]`` to a scalar: the five verl modes, TRL aliases, and the
per-prompt token mean of the DAPO paper."""

from __future__ import annotations

import torch

from grpo_theory.losses._validate import check_choice, check_mask, check_positive
from grpo_theory.vocab import AGG_ALIASES, AGG_MODES, ALL_AGG_MODES, GROUP_AGG_MODES, AnyAggMode

Tensor = torch.Tensor

#: ``GROUP_AGG_MODES``' ``prompt-mean-token-mean`` is the DAPO paper's objective: a token mean over each
#: prompt's group of rollouts, then a mean over prompts. It equals ``token-mean`` only when every prompt has
#: the same number of valid tokens (verl's ``token-mean`` and TRL's ``dapo`` are batch-wide token means).
#: The names and TRL's aliases live in :mod:`grpo_theory.vocab`.

EMPTY_ROWS = ("count", "skip")


def resolve_mode(mode: str) -> AnyAggMode:
    """Maps a mode name (``ALL_AGG_MODES``) or another library's alias (``AGG_ALIASES``) to a mode."""
    for m in ALL_AGG_MODES:
        if mode == m:
            return m
    for alias, m in AGG_ALIASES.items():
        if mode == alias:
            return m
    raise ValueError(
        f"mode must be one of {ALL_AGG_MODES} or an alias in {sorted(AGG_ALIASES)}, got {mode!r}"
    )


def aggregate(
    per_token: Tensor,
    mask: Tensor,
    mode: str = "seq-mean-token-mean",
    *,
    normalizer: float | None = None,
    horizon: float | None = None,
    empty_rows: str = "count",
) -> Tensor:
    r"""Reduces a per-token loss to a scalar, counting only tokens with ``mask == 1``.

    Write :math:`\ell_{s,t}` for sequence :math:`s` (every leading index) and token :math:`t`,
    :math:`m` for the mask, :math:`n_s = \sum_t m_{s,t}` and :math:`S` for the number of sequences.

    =========================== ==============================================================
    ``token-mean``              :math:`\sum_{s,t} m\ell / N`, :math:`N` = ``normalizer`` or :math:`\sum n_s`
    ``seq-mean-token-mean``     :math:`\frac1S\sum_s \frac1{n_s}\sum_t m\ell` (the paper's GRPO)
    ``seq-mean-token-sum``      :math:`\frac1S\sum_s \sum_t m\ell`
    ``seq-mean-token-sum-norm`` :math:`\frac1{S\,C}\sum_s \sum_t m\ell`, :math:`C` = ``horizon`` or T
                                (Dr. GRPO)
    ``token-sum``               :math:`\sum_{s,t} m\ell`
    ``prompt-mean-token-mean``  :math:`\frac1P\sum_p \frac1{N_p}\sum_{s\in p,t} m\ell`, :math:`N_p` =
                                tokens of prompt p (DAPO paper)
    =========================== ==============================================================

    For ``prompt-mean-token-mean`` the first dim indexes prompts and every other leading dim the
    prompt's rollouts (``[P, G, T]``); :math:`P` is ``normalizer`` if given, else the number of
    prompts (``empty_rows="count"``) or of prompts with at least one valid token (``"skip"``).

    For the ``seq-mean-*`` modes :math:`S` is ``normalizer`` if given, else the number of rows
    (``empty_rows="count"``, default: a fully masked row contributes 0 but counts, as TRL ``grpo`` and
    verl's trainer, which passes ``agg_loss`` the mini-batch's row count as ``global_batch_size``), or the
    number of rows with at least one token (``empty_rows="skip"``: verl 0.9.1's ``agg_loss`` called
    without ``global_batch_size``). An empty row never produces NaN. If nothing is left to average over
    (no valid token for ``token-mean``, no counted row for ``seq-mean-*``) the result is 0 with zero
    gradient. ``token-mean`` with a global ``normalizer`` (the token count of the whole batch) and
    ``token-sum`` are exactly additive over micro-batches.

    Args:
        per_token: ``[..., T]`` floating losses; all leading dims index sequences (e.g. ``[P, G, T]``).
        mask: same shape, 0/1 (float or bool).
        mode: one of ``ALL_AGG_MODES`` or an alias (``AGG_ALIASES``); default ``"seq-mean-token-mean"``.
        normalizer: optional denominator > 0 (token count for ``token-mean``, sequence count for
            ``seq-mean-*``, prompt count for ``prompt-mean-token-mean``); not allowed for ``token-sum``.
        horizon: :math:`C > 0` for ``seq-mean-token-sum-norm`` (default: T, the padded length).
        empty_rows: ``"count"`` (default) or ``"skip"``.

    Returns:
        A scalar tensor.

    Examples:
        >>> import torch
        >>> loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
        >>> mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
        >>> aggregate(loss, mask, "token-mean")  # (1+2+3+4)/4
        tensor(2.5000)
        >>> aggregate(loss, mask, "seq-mean-token-mean")  # (2 + 4)/2
        tensor(3.)
        >>> aggregate(loss, mask, "seq-mean-token-sum-norm")  # (6 + 4)/(2*3)
        tensor(1.6667)
        >>> aggregate(loss, mask, "dapo", normalizer=8.0)  # 10 / 8
        tensor(1.2500)
        >>> per_prompt = torch.stack([loss, 2 * loss])  # two prompts of the same two rollouts
        >>> aggregate(per_prompt, torch.stack([mask, mask * 0]), "prompt-mean-token-mean")  # (2.5 + 0)/2
        tensor(1.2500)
    """
    agg = resolve_mode(mode)
    normalizer, horizon = _check_inputs(per_token, mask, agg, normalizer, horizon, empty_rows)
    m = check_mask(mask, per_token.shape)
    # where() rather than multiply: a NaN/inf at a masked position must not leak into the sum.
    x = torch.where(m, per_token, torch.zeros_like(per_token))
    if agg == "token-sum":
        return x.sum()
    if agg == "token-mean":
        n_tok = float(m.sum()) if normalizer is None else normalizer
        return x.sum() / n_tok if n_tok > 0 else x.sum() * 0.0
    if agg == "prompt-mean-token-mean":
        return _prompt_mean_token_mean(x, m, normalizer, empty_rows)
    return _seq_mean(x, m, agg, normalizer, horizon, empty_rows)


def _check_inputs(
    per_token: Tensor, mask: Tensor, mode: AnyAggMode, normalizer: float | None, horizon: float | None,
    empty_rows: str,
) -> tuple[float | None, float | None]:
    """Raises a one-line ValueError on a bad argument of :func:`aggregate`; returns (normalizer, horizon)."""
    check_choice(empty_rows, EMPTY_ROWS, "empty_rows")
    if not isinstance(per_token, torch.Tensor) or not per_token.is_floating_point():
        raise ValueError("per_token must be a floating torch.Tensor of shape [..., T]")
    if per_token.ndim < 2:
        raise ValueError(
            f"per_token must have shape [..., T] with at least 2 dims, got {tuple(per_token.shape)}"
        )
    if mode == "prompt-mean-token-mean" and per_token.ndim < 3:
        raise ValueError(
            f"mode 'prompt-mean-token-mean' needs per_token of shape [P, G, T] (prompts first), "
            f"got {tuple(per_token.shape)}"
        )
    if normalizer is not None:
        if mode == "token-sum":
            raise ValueError("normalizer must be None for mode 'token-sum'")
        normalizer = check_positive(normalizer, "normalizer")
    if horizon is not None:
        if mode != "seq-mean-token-sum-norm":
            raise ValueError(f"horizon is only used by 'seq-mean-token-sum-norm', got mode {mode!r}")
        horizon = check_positive(horizon, "horizon")
    return normalizer, horizon


def _prompt_mean_token_mean(x: Tensor, m: Tensor, normalizer: float | None, empty_rows: str) -> Tensor:
    """``prompt-mean-token-mean`` of the masked losses ``x`` ``[P, G, ..., T]`` (see :func:`aggregate`)."""
    n_p = m.reshape(m.shape[0], -1).sum(dim=-1).to(x.dtype)  # [P] valid tokens per prompt
    s_p = x.reshape(x.shape[0], -1).sum(dim=-1)
    has = n_p > 0
    if normalizer is not None:
        n_prompts = normalizer
    else:
        n_prompts = float(n_p.numel()) if empty_rows == "count" else float(has.sum())
    if n_prompts == 0:
        return x.sum() * 0.0
    return torch.where(has, s_p / n_p.clamp(min=1), torch.zeros_like(s_p)).sum() / n_prompts


def _seq_mean(
    x: Tensor, m: Tensor, mode: AnyAggMode, normalizer: float | None, horizon: float | None, empty_rows: str
) -> Tensor:
    """The ``seq-mean-*`` modes of the masked losses ``x`` ``[..., T]`` (see :func:`aggregate`)."""
    lengths = m.sum(dim=-1).to(x.dtype)
    seq_total = x.sum(dim=-1)
    rows = lengths > 0
    if normalizer is not None:
        n_seq = normalizer
    elif empty_rows == "count":
        n_seq = float(lengths.numel())
    else:
        n_seq = float(rows.sum())
    if n_seq == 0:
        return x.sum() * 0.0
    if mode == "seq-mean-token-mean":
        seq_val = torch.where(rows, seq_total / lengths.clamp(min=1), torch.zeros_like(seq_total))
        return seq_val.sum() / n_seq
    if mode == "seq-mean-token-sum":
        return seq_total.sum() / n_seq
    c = float(x.shape[-1]) if horizon is None else horizon
    return seq_total.sum() / (n_seq * c)


__all__ = [
    "AGG_ALIASES", "AGG_MODES", "ALL_AGG_MODES", "EMPTY_ROWS", "GROUP_AGG_MODES", "aggregate", "resolve_mode",
]
