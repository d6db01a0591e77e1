"""The policy: any Hugging Face causal LM + tokenizer, with batched sampling and per-token log-probs.

Batches of rollouts are :class:`~grpo_theory.llm.completions.Rollouts` (B rows, prompt-major; prompts
left padded, completions right padded after <eos>, ``completion_mask`` 1 up to and including it).

``token_logprobs`` returns ``log π_T(o_t | prompt, o_<t)`` for every completion position, shape ``[B, T]``,
0 where ``completion_mask`` is 0, where ``π_T = softmax(logits / T)`` (``T = 1``: the model distribution).
The RL losses need the log-probs of the distribution that sampled the rollouts, so a trainer passes its
sampling temperature; top-p truncation is not modelled (training rejects ``top_p < 1``). Position ids are
``cumsum(attention_mask) - 1``, which is what HF ``generate`` uses, so left padding does not change any
log-prob.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
)

from grpo_theory.llm.completions import Rollouts, completion_mask_from_ids

Tensor = torch.Tensor
POLICY_FILE = "policy.json"


class _RecordLogprobs(LogitsProcessor):
    """Records ``log softmax(logits / temperature)`` of the sampled tokens while ``generate`` samples.

    HF applies user logits processors before the temperature / top-p warpers, so the scores seen here are
    the model's raw logits; dividing by the sampling temperature here gives the tempered distribution that
    ``Policy.token_logprobs(..., temperature=...)`` recomputes (tested). The token chosen at step t is only
    known at step t+1 (it is the last column of ``input_ids``), so one step's log-softmax is kept and
    gathered one call later: O(B*V) memory, not O(B*T*V).
    """

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature
        self.picked: list[Tensor] = []  # [B] per finished step
        self.last: Tensor | None = None  # [B, V] log-softmax of the newest step

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if self.last is not None:
            self.picked.append(self.last.gather(1, input_ids[:, -1:]).squeeze(1))
        self.last = torch.log_softmax(_tempered(scores.float(), self.temperature), dim=-1)
        return scores

    def result(self, completion_ids: Tensor) -> Tensor:
        """[B, T] log-probs of ``completion_ids`` (the tokens generate kept)."""
        T = completion_ids.shape[1]
        cols = list(self.picked[:T])
        if len(cols) < T:
            # the newest step's token is not yet gathered (generation stopped right after sampling it)
            if self.last is None or len(cols) != T - 1:
                raise RuntimeError(f"recorded {len(cols)} generation steps for {T} completion tokens")
            cols.append(self.last.gather(1, completion_ids[:, T - 1 :]).squeeze(1))
        if not cols:
            return torch.zeros(completion_ids.shape, dtype=torch.float32, device=completion_ids.device)
        return torch.stack(cols, dim=1)


def _tempered(logits: Tensor, temperature: float) -> Tensor:
    """``logits / temperature`` (the identity at temperature 1, so that path stays bit-identical)."""
    return logits if temperature == 1.0 else logits / temperature


@dataclass
class Policy:
    """A causal LM, its tokenizer and a device, with sampling and log-prob evaluation.

    model: any ``AutoModelForCausalLM``; kept in eval mode (the tiny model has no dropout anyway).
    tokenizer: its tokenizer; prompts are padded on the left.
    device: where the model lives.
    chat: wrap task prompts in the tokenizer's chat template (instruction-tuned models such as SmolLM2).
    eos_ids: token ids that end a completion; default: the tokenizer's eos plus the model's
        ``generation_config.eos_token_id``.
    """

    model: torch.nn.Module
    tokenizer: object
    device: str | torch.device = "cpu"
    chat: bool = False
    eos_ids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        tok = self.tokenizer
        tok.padding_side = "left"  # type: ignore[attr-defined]
        if tok.pad_token_id is None:  # type: ignore[attr-defined]
            tok.pad_token = tok.eos_token  # type: ignore[attr-defined]
        if not self.eos_ids:
            ids = {tok.eos_token_id}  # type: ignore[attr-defined]
            gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
            if gen_eos is not None:
                ids |= set(gen_eos if isinstance(gen_eos, list | tuple) else [gen_eos])
            ids.discard(None)
            if not ids:
                raise ValueError("the tokenizer has no eos token; set one before building a Policy")
            self.eos_ids = tuple(sorted(ids))
        self.model.to(self.device)
        self.model.eval()

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------------------------ prompts

    def format_prompt(self, prompt: str) -> str:
        """The text the model continues: the raw task prompt, or its chat-template wrapping (chat models)."""
        if not self.chat:
            return prompt
        return self.tokenizer.apply_chat_template(  # type: ignore[attr-defined]
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )

    def _encode_prompts(self, prompts: Sequence[str]) -> tuple[Tensor, Tensor]:
        if isinstance(prompts, str):
            raise ValueError("prompts must be a list of strings, got a single string")
        if len(prompts) == 0:
            raise ValueError("prompts is empty")
        enc = self.tokenizer(  # type: ignore[operator]
            [self.format_prompt(p) for p in prompts], padding=True, return_tensors="pt",
            add_special_tokens=False,
        )
        if enc["input_ids"].shape[1] == 0:
            raise ValueError("all prompts are empty")
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def encode(self, prompts: Sequence[str], completions: Sequence[str]) -> Rollouts:
        """Rollouts for given completions (each followed by <eos>), e.g. SFT targets or fixed DPO pairs."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        p_ids, p_mask = self._encode_prompts(prompts)
        eos = self.tokenizer.eos_token_id  # type: ignore[attr-defined]
        rows = [self.tokenizer(c, add_special_tokens=False)["input_ids"] + [eos] for c in completions]  # type: ignore[operator]
        T = max(len(r) for r in rows)
        ids = torch.full((len(rows), T), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), T), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.as_tensor(r)
            mask[i, : len(r)] = 1
        return Rollouts(p_ids, p_mask, ids.to(self.device), mask.to(self.device), list(completions),
                        list(prompts), pad_id=self.pad_id)

    # ----------------------------------------------------------------------------------------------- sampling

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str],
        n_per_prompt: int = 1,
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
        batch_size: int | None = None,
        use_cache: bool = True,
    ) -> Rollouts:
        """Sample ``n_per_prompt`` completions per prompt with HF ``generate`` (KV cache on by default).

        Returns B = len(prompts) * n_per_prompt rows, prompt-major. ``greedy`` takes the argmax (then
        temperature/top_p are ignored). With ``seed`` the result is a function of (weights, prompts, settings,
        seed) only and the global torch RNG is left untouched; without it the global RNG is used.
        ``batch_size`` bounds the rows per ``generate`` call (memory, and speed: very wide batches are slower
        per row on CPU) without changing the result's layout; the samples depend on it (one RNG stream is
        consumed chunk by chunk). ``gen_logprobs`` are those of ``softmax(logits / temperature)``.
        """
        if n_per_prompt < 1:
            raise ValueError(f"n_per_prompt must be >= 1, got {n_per_prompt}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if not greedy and not temperature > 0:
            raise ValueError(f"temperature must be > 0 for sampling, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        p_ids, p_mask = self._encode_prompts(prompts)
        p_ids = p_ids.repeat_interleave(n_per_prompt, dim=0)
        p_mask = p_mask.repeat_interleave(n_per_prompt, dim=0)
        row_prompts = [p for p in prompts for _ in range(n_per_prompt)]
        gen_cfg = self._generation_config(max_new_tokens, temperature, top_p, greedy, use_cache)
        B = p_ids.shape[0]
        step = batch_size or B
        devices = [self.device] if torch.device(self.device).type == "cuda" else []
        chunks = []
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            for s in range(0, B, step):
                rows = slice(s, s + step)
                chunks.append(self._sample_rows(p_ids[rows], p_mask[rows], row_prompts[rows], gen_cfg,
                                                1.0 if greedy else temperature))
        return chunks[0] if len(chunks) == 1 else Rollouts.cat(chunks)

    def _generation_config(self, max_new_tokens: int, temperature: float, top_p: float, greedy: bool,
                           use_cache: bool) -> GenerationConfig:
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=not greedy,
            temperature=None if greedy else temperature,
            top_p=None if greedy else top_p,
            top_k=None,  # HF's default top_k=50 would silently truncate large vocabularies
            num_beams=1,
            pad_token_id=self.pad_id,
            eos_token_id=list(self.eos_ids),
            use_cache=use_cache,
            return_dict_in_generate=True,
        )

    def _sample_rows(self, p_ids: Tensor, p_mask: Tensor, row_prompts: list[str], gen_cfg: GenerationConfig,
                     temperature: float) -> Rollouts:
        """One ``generate`` call on these prompt rows; log-probs recorded at ``temperature``."""
        rec = _RecordLogprobs(temperature)
        out = self.model.generate(  # type: ignore[operator]
            input_ids=p_ids, attention_mask=p_mask, generation_config=gen_cfg,
            logits_processor=LogitsProcessorList([rec]),
        )
        comp = out.sequences[:, p_ids.shape[1] :]
        mask = completion_mask_from_ids(comp, self.eos_ids)
        comp = comp.masked_fill(mask == 0, self.pad_id)
        lp = rec.result(comp).masked_fill(mask == 0, 0.0)
        return Rollouts(p_ids, p_mask, comp, mask, self._decode(comp, mask), row_prompts, lp, self.pad_id)

    def _decode(self, comp: Tensor, mask: Tensor) -> list[str]:
        is_eos = torch.isin(comp, torch.as_tensor(list(self.eos_ids), device=comp.device))
        keep = (mask == 1) & ~is_eos
        # Special tokens before <eos> stay in the text (as "<pad>", "<unk>"): dropping them could turn a
        # sequence like "05<pad>79" into a correct-looking "0579".
        return [
            self.tokenizer.decode(row[k].tolist(), skip_special_tokens=False)  # type: ignore[attr-defined]
            for row, k in zip(comp.cpu(), keep.cpu())
        ]

    # ---------------------------------------------------------------------------------------------- log-probs

    def token_logprobs(
        self, rollouts: Rollouts, *, model: torch.nn.Module | None = None, micro_batch: int | None = None,
        temperature: float = 1.0,
    ) -> Tensor:
        """[B, T] float32: log π_T(o_t | prompt, o_<t) per completion token, 0 where ``completion_mask`` is 0.

        ``π_T = softmax(logits / temperature)``, the distribution ``generate`` samples from at that
        temperature (without top-p). Differentiable when grad is enabled. ``model`` overrides the policy's
        model (e.g. a frozen reference copy). ``micro_batch`` bounds the rows per forward pass (the result is
        the same, up to float rounding). One full forward per row block, without a KV cache (nothing is
        decoded).
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        net = self.model if model is None else model
        B = len(rollouts)
        step = micro_batch or B
        if step < 1:
            raise ValueError(f"micro_batch must be >= 1, got {micro_batch}")
        return torch.cat([self._logprobs_rows(net, rollouts, s, min(s + step, B), temperature)
                          for s in range(0, B, step)])

    @staticmethod
    def _logprobs_rows(net: torch.nn.Module, r: Rollouts, lo: int, hi: int,
                       temperature: float = 1.0) -> Tensor:
        Tp, T = r.prompt_ids.shape[1], r.completion_ids.shape[1]
        ids = torch.cat([r.prompt_ids[lo:hi], r.completion_ids[lo:hi]], dim=1)
        att = torch.cat([r.prompt_mask[lo:hi], r.completion_mask[lo:hi]], dim=1)
        pos = (att.cumsum(-1) - 1).clamp(min=0)
        # Logits at positions Tp-1 .. Tp+T-2 predict the T completion tokens; logits_to_keep=T+1 skips the
        # output projection for the rest of the prompt (matters for a 49k vocabulary).
        try:
            logits = net(input_ids=ids, attention_mask=att, position_ids=pos, logits_to_keep=T + 1,
                         use_cache=False).logits
        except TypeError:  # a model class without logits_to_keep: compute all logits
            logits = net(input_ids=ids, attention_mask=att, position_ids=pos, use_cache=False).logits
        logits = logits[:, Tp - 1 : Tp + T - 1] if logits.shape[1] == Tp + T else logits[:, :-1]
        logp_all = torch.log_softmax(_tempered(logits.float(), temperature), dim=-1)
        lp = logp_all.gather(2, r.completion_ids[lo:hi].unsqueeze(-1)).squeeze(-1)
        return lp.masked_fill(r.completion_mask[lo:hi] == 0, 0.0)

    def sequence_logprobs(self, rollouts: Rollouts, **kw) -> Tensor:
        """[B] log π(o | prompt): the sum of ``token_logprobs`` over completion tokens."""
        return self.token_logprobs(rollouts, **kw).sum(-1)

    # -------------------------------------------------------------------------------------------- copies, I/O

    def frozen_copy(self) -> torch.nn.Module:
        """A deep copy of the model with gradients off, e.g. the reference model for KL or DPO."""
        import copy

        ref = copy.deepcopy(self.model)
        ref.eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref

    def save(
        self, path: str | Path, extra_files: dict[str, str] | Callable[[Path], dict[str, str]] | None = None
    ) -> Path:
        """Write model, tokenizer, ``policy.json`` (and ``extra_files``: name -> text) to ``path`` atomically.

        ``extra_files`` may also be a function of the temporary directory (called after the weights are
        written, e.g. to hash them) returning name -> text.

        Everything goes to a temporary sibling directory first, which then replaces ``path``; a crash leaves
        either the old checkpoint or the new one, never a half-written one.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a checkpoint is an ordinary shared directory
        try:
            self.model.save_pretrained(tmp)  # type: ignore[operator]
            self.tokenizer.save_pretrained(tmp)  # type: ignore[attr-defined]
            meta = {"chat": self.chat, "eos_ids": list(self.eos_ids)}
            (tmp / POLICY_FILE).write_text(json.dumps(meta, indent=1))
            extra = extra_files(tmp) if callable(extra_files) else (extra_files or {})
            for name, text in extra.items():
                (tmp / name).write_text(text)
            replace_dir(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return path


def replace_dir(src: Path, dst: Path) -> None:
    """Move directory ``src`` to ``dst``, replacing ``dst`` if present, never leaving a partial ``dst``."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


__all__ = ["POLICY_FILE", "Policy", "Rollouts", "completion_mask_from_ids", "replace_dir"]
