"""A batch of prompts and sampled completions as tensors (:class:`Rollouts`), and the completion mask.

Layout (B rows, prompt-major: the ``n`` rollouts of prompt ``j`` are rows ``j*n .. j*n+n-1``)::

    prompt_ids      [B, Tp]  left padded  (pad pad 1 2 3 + 4 5 6 =)
    completion_ids  [B, T]   right padded after <eos>  (0 5 7 9 <eos> pad pad)
    completion_mask [B, T]   1 for generated tokens up to and including the first <eos>, 0 after

:class:`~grpo_theory.llm.policy.Policy` makes them (``generate``, ``encode``) and scores them
(``token_logprobs``); the trainer groups them with their rewards (:class:`grpo_theory.llm.rollouts.Batch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

Tensor = torch.Tensor


@dataclass
class Rollouts:
    """A batch of prompts and their sampled completions (tensors on one device).

    prompt_ids: [B, Tp] long, left padded with ``pad_id``.
    prompt_mask: [B, Tp] long, 1 on prompt tokens, 0 on padding.
    completion_ids: [B, T] long, right padded with ``pad_id`` after the first <eos>.
    completion_mask: [B, T] long, 1 on generated tokens up to and including the first <eos>.
    texts: B decoded completions, cut before the first <eos> (other special tokens kept as text).
    prompts: B task prompts (before ``format_prompt``), one per row.
    gen_logprobs: [B, T] float32 log-probs ``log softmax(logits / temperature)`` of the sampled tokens,
        recorded while sampling (0 where masked; temperature 1 for greedy decoding; top-p truncation not
        applied), or None.
    pad_id: the padding token id, needed to concatenate batches of different widths.
    """

    prompt_ids: Tensor
    prompt_mask: Tensor
    completion_ids: Tensor
    completion_mask: Tensor
    texts: list[str]
    prompts: list[str]
    gen_logprobs: Tensor | None = None
    pad_id: int = 0

    def __post_init__(self) -> None:
        B = self.prompt_ids.shape[0]
        if self.prompt_ids.shape != self.prompt_mask.shape:
            raise ValueError(f"prompt_ids {tuple(self.prompt_ids.shape)} and prompt_mask "
                             f"{tuple(self.prompt_mask.shape)} differ")
        if self.completion_ids.shape != self.completion_mask.shape:
            raise ValueError(
                f"completion_ids {tuple(self.completion_ids.shape)} and completion_mask "
                f"{tuple(self.completion_mask.shape)} differ"
            )
        if self.completion_ids.shape[0] != B or len(self.texts) != B or len(self.prompts) != B:
            raise ValueError(
                f"row counts differ: prompt_ids {B}, completion_ids {self.completion_ids.shape[0]}, "
                f"texts {len(self.texts)}, prompts {len(self.prompts)}"
            )
        if self.gen_logprobs is not None and self.gen_logprobs.shape != self.completion_ids.shape:
            raise ValueError(f"gen_logprobs {tuple(self.gen_logprobs.shape)} must match completion_ids")

    def __len__(self) -> int:
        return self.prompt_ids.shape[0]

    @property
    def lengths(self) -> Tensor:
        """[B] number of completion tokens (including <eos>)."""
        return self.completion_mask.sum(-1)

    def select(self, rows: Sequence[int] | Tensor) -> Rollouts:
        """The rows ``rows`` (in that order, repeats allowed), e.g. to keep or resample groups."""
        idx = torch.as_tensor(rows, dtype=torch.long)
        if idx.ndim != 1:
            raise ValueError(f"rows must be 1-D, got shape {tuple(idx.shape)}")
        if len(idx) and (int(idx.min()) < -len(self) or int(idx.max()) >= len(self)):
            raise ValueError(f"row index out of range for {len(self)} rows")
        il = idx.tolist()
        dev = self.prompt_ids.device
        idx = idx.to(dev)
        return Rollouts(
            prompt_ids=self.prompt_ids[idx],
            prompt_mask=self.prompt_mask[idx],
            completion_ids=self.completion_ids[idx],
            completion_mask=self.completion_mask[idx],
            texts=[self.texts[i] for i in il],
            prompts=[self.prompts[i] for i in il],
            gen_logprobs=None if self.gen_logprobs is None else self.gen_logprobs[idx],
            pad_id=self.pad_id,
        )

    @staticmethod
    def cat(parts: Sequence[Rollouts]) -> Rollouts:
        """Concatenate rows; prompts re-padded on the left and completions on the right to a common width."""
        if not parts:
            raise ValueError("nothing to concatenate")
        pad = parts[0].pad_id
        tp = max(p.prompt_ids.shape[1] for p in parts)
        t = max(p.completion_ids.shape[1] for p in parts)

        def left(x: Tensor, width: int, value: int) -> Tensor:
            return torch.nn.functional.pad(x, (width - x.shape[1], 0), value=value)

        def right(x: Tensor, width: int, value: float) -> Tensor:
            return torch.nn.functional.pad(x, (0, width - x.shape[1]), value=value)

        has_lp = all(p.gen_logprobs is not None for p in parts)
        return Rollouts(
            prompt_ids=torch.cat([left(p.prompt_ids, tp, pad) for p in parts]),
            prompt_mask=torch.cat([left(p.prompt_mask, tp, 0) for p in parts]),
            completion_ids=torch.cat([right(p.completion_ids, t, pad) for p in parts]),
            completion_mask=torch.cat([right(p.completion_mask, t, 0) for p in parts]),
            texts=[s for p in parts for s in p.texts],
            prompts=[s for p in parts for s in p.prompts],
            gen_logprobs=torch.cat([right(p.gen_logprobs, t, 0.0) for p in parts]) if has_lp else None,  # type: ignore[arg-type]
            pad_id=pad,
        )

    def to(self, device: str | torch.device) -> Rollouts:
        """A copy with every tensor on ``device``."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        moved: dict[str, Any] = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in values.items()}
        return replace(self, **moved)


def completion_mask_from_ids(ids: Tensor, eos_ids: Sequence[int]) -> Tensor:
    """[B, T] long: 1 up to and including the first token in ``eos_ids`` (all ones if there is none)."""
    is_eos = torch.isin(ids, torch.as_tensor(list(eos_ids), device=ids.device))
    # number of eos tokens strictly before position t; a position is kept while that count is 0
    before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long()
    return (before == 0).long()


__all__ = ["Rollouts", "completion_mask_from_ids"]
