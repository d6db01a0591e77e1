"""Shared set-up for the TRL trainer crosschecks: the committed tiny checkpoint, the addition task, rewards.

Imported only by tests that have already checked that trl is installed (and by the 2-process script).
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "results" / "checkpoints" / "addition-tiny-seed0"
MAX_COMPLETION = 5  # 4 answer digits + <eos>


def addition_dataset(n: int, seed: int = 0):
    """``n`` addition prompts (prompt, answer), as a ``datasets.Dataset``."""
    from datasets import Dataset

    from grpo_theory.llm.tasks import AdditionTask

    problems = AdditionTask().sample(random.Random(seed), n)
    return Dataset.from_list([{"prompt": p.prompt, "answer": p.answer} for p in problems])


def exact_match(prompts, completions, answer, **_):
    """1 if the completion is the zero-padded sum, else 0 (the task's own reward)."""
    return [float(c.strip() == a) for c, a in zip(completions, answer)]


def partial_credit(prompts, completions, answer, **_):
    """exact match + fraction of answer digits in place (multiples of 1/4: exact in float32), or None
    (TRL: NaN, "could not score") when the completion's last character is an odd digit."""
    out = []
    for c, a in zip(completions, answer):
        c = c.strip()
        if (c[-1:] or "0") in "13579":
            out.append(None)
        else:
            out.append(float(c == a) + sum(x == y for x, y in zip(c, a)) / len(a))
    return out


def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY)


def model(seed: int = 0):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_pretrained(TINY, dtype=torch.float32)
