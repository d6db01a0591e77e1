"""Input checks shared by the loss functions.

Every public function validates its inputs here so that bad input fails loudly with a
``ValueError`` that names the argument and the expected shape or range. Nothing is broadcast
silently: shapes must match exactly unless a docstring says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

Tensor = torch.Tensor


def as_float(x: Tensor, name: str) -> Tensor:
    """Returns ``x`` as a floating tensor (bool/int are promoted to the default dtype)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point():
        return x
    if x.is_complex():
        raise ValueError(f"{name} must be real, got dtype {x.dtype}")
    return x.to(torch.get_default_dtype())


def check_rewards_match(rewards: Tensor, shape: tuple[int, ...]) -> None:
    """Checks that ``rewards`` is ``[P, G]`` of the token tensors' ``shape`` ``[P, G, T]``."""
    if rewards.shape != shape[:2]:
        raise ValueError(f"rewards must have shape [P, G]={tuple(shape[:2])} matching logp, got "
                         f"{tuple(rewards.shape)}")


def check_rewards(rewards: Tensor, *, name: str = "rewards", allow_nan: bool = False) -> Tensor:
    """Checks ``rewards`` is ``[P, G]`` with ``G >= 2`` and finite entries (NaN allowed if asked)."""
    rewards = as_float(rewards, name)
    if rewards.ndim != 2:
        raise ValueError(f"{name} must have shape [P, G], got {tuple(rewards.shape)}")
    if rewards.shape[1] < 2:
        raise ValueError(f"{name} must have G >= 2 rollouts per prompt (shape [P, G]), got "
                         f"G={rewards.shape[1]}")
    bad = torch.isinf(rewards) if allow_nan else ~torch.isfinite(rewards)
    if bool(bad.any()):
        what = "infinite" if allow_nan else "non-finite (NaN or inf)"
        raise ValueError(
            f"{name} has {what} entries; pass nan_policy='mask' to treat NaN rewards as missing"
            if not allow_nan
            else f"{name} has {what} entries; only NaN can be masked"
        )
    return rewards


def check_mask(mask: Tensor, shape: torch.Size, *, name: str = "mask") -> Tensor:
    """Checks ``mask`` has exactly ``shape`` and only 0/1 entries; returns it as bool."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.shape != shape:
        raise ValueError(f"{name} must have shape {tuple(shape)} (same as the per-token tensors), got "
                         f"{tuple(mask.shape)}")
    if mask.dtype == torch.bool:
        return mask
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{name} must contain only 0 and 1 (bool or numeric), got other values")
    return mask != 0


def check_same_shape(tensors: Iterable[tuple[str, Tensor]], *, ndim: int | None = None) -> torch.Size:
    """Checks all named tensors share one shape (and ``ndim`` if given); returns that shape."""
    items = list(tensors)
    first_name, first = items[0]
    for nm, t in items:
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{nm} must be a torch.Tensor, got {type(t).__name__}")
    if ndim is not None and first.ndim != ndim:
        dims = {1: "[N]", 2: "[N, T]", 3: "[P, G, T]"}.get(ndim, f"{ndim} dims")
        raise ValueError(f"{first_name} must have shape {dims}, got {tuple(first.shape)}")
    for nm, t in items[1:]:
        if t.shape != first.shape:
            raise ValueError(f"{nm} must have the shape of {first_name} {tuple(first.shape)}, got "
                             f"{tuple(t.shape)}")
    return first.shape


def check_token_tensors(
    logp: Tensor, mask: Tensor, *, min_group: int = 2, **others: Tensor | None
) -> tuple[torch.Size, Tensor]:
    """Checks per-token tensors ``[P, G, T]`` agree in shape; returns (shape, bool mask).

    ``min_group=2`` (default) where rewards are turned into group advantages; functions that receive
    advantages already computed pass 1, so a flat micro-batch of B rollouts can be given as ``[B, 1, T]``.
    """
    named = [("logp", logp)] + [(k, v) for k, v in others.items() if v is not None]
    shape = check_same_shape(named, ndim=3)
    if shape[1] < min_group:
        raise ValueError(f"logp must have G >= 2 rollouts per prompt (shape [P, G, T]), got G={shape[1]}")
    for nm, t in named:
        if not t.is_floating_point():
            raise ValueError(f"{nm} must be a floating tensor of log-probabilities, got dtype {t.dtype}")
    return shape, check_mask(mask, shape)


def check_choice(value: str, choices: Iterable[str], name: str) -> str:
    """Checks ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_nonneg(value: float, name: str) -> float:
    if not (value >= 0 and value < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def check_positive(value: float, name: str) -> float:
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)
