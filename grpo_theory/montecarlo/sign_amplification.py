r"""Sign amplification on a real model: a reward gap of 1e-9 gets the full ±1 under 2-GRPO (R15).

With G = 2, population std and ε = 0, the advantages of a pair are sign(r_1 − r_2): the gap's size is
discarded. On one prompt of the addition task and two completions whose real-valued rewards differ by ``gap``
(e.g. the scaled distance reward −|answer − truth|·10⁻⁹), the gradient of
:func:`grpo_theory.losses.two_grpo_loss` through a causal LM is then *identical* to the gradient for binary
rewards (1, 0) on the same pair, while a magnitude-aware estimator (Dr. GRPO, A = r − r̄) scales with the gap,
and verl's ε = 10⁻⁶ (with the sample std) shrinks the pair's advantages to ±gap/(√2 gap + 2ε) ≈ ±gap/(2ε).

Everything runs on CPU in float32 (the model's dtype); see ``tests/montecarlo/test_sign_amplification.py``.
"""

from __future__ import annotations

from typing import Any

import torch

from grpo_theory.losses import ADVANTAGE_PRESETS, group_advantages, two_grpo_loss


def distance_reward(completion: str, target: int, *, scale: float = 1e-9) -> float:
    """A real-valued reward: −scale·|int(completion) − target|, and −1 for a completion that is not a
    number."""
    text = completion.strip()
    return -scale * abs(int(text) - target) if text.isdigit() else -1.0


def _grad_norm_and_vector(policy: Any, rollouts: Any, rewards: torch.Tensor, **conventions) -> torch.Tensor:
    params = [p for p in policy.model.parameters() if p.requires_grad]
    logp = policy.token_logprobs(rollouts).view(1, 2, -1)
    mask = rollouts.completion_mask.view(1, 2, -1).to(logp.dtype)
    loss = two_grpo_loss(logp, logp.detach(), rewards.to(logp.dtype).view(1, 2), mask, **conventions).loss
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g,
                      p in zip(grads, params, strict=True)])


def sign_amplification(policy: Any, prompt: str, completions: tuple[str, str],
                       rewards: tuple[float, float]) -> dict:
    """Advantages and loss gradients of one 2-rollout group with real rewards, against binary rewards.

    Args:
      policy: a :class:`grpo_theory.llm.policy.Policy` (e.g. the tiny addition checkpoint).
      prompt: the task prompt; completions: the two completions (without <eos>); rewards: their real rewards
        (distinct; the first is taken as the better one if larger).

    Returns:
      dict with ``gap``; ``advantages`` per convention (paper: population std, ε = 0; verl: sample std,
      ε = 1e-6; dr_grpo: r − r̄); ``grad_norm`` per convention; ``binary_grad_norm`` (rewards ordered the same,
      values 1 and 0); ``max_abs_diff_to_binary`` (paper convention: the two gradients are the same tensor);
      ``dr_grpo_over_paper`` (gradient-norm ratio, ≈ gap).
    """
    r = torch.tensor(rewards, dtype=torch.float64).view(1, 2)
    gap = float(abs(r[0, 0] - r[0, 1]))
    if gap == 0:
        raise ValueError("rewards must differ (a tied pair has no gradient under any convention)")
    binary = (r == r.max()).to(torch.float64)
    rollouts = policy.encode([prompt, prompt], list(completions))
    conv = {"paper": ADVANTAGE_PRESETS["paper"], "verl": ADVANTAGE_PRESETS["verl"],
            "dr_grpo": ADVANTAGE_PRESETS["dr_grpo"]}
    adv = {k: group_advantages(r, **v)[0].tolist() for k, v in conv.items()}
    grads = {k: _grad_norm_and_vector(policy, rollouts, r, **v) for k, v in conv.items()}
    g_bin = _grad_norm_and_vector(policy, rollouts, binary, **conv["paper"])
    norms = {k: float(v.norm()) for k, v in grads.items()}
    return {
        "gap": gap,
        "advantages": adv,
        "grad_norm": norms,
        "binary_grad_norm": float(g_bin.norm()),
        "max_abs_diff_to_binary": float((grads["paper"] - g_bin).abs().max()),
        "dr_grpo_over_paper": norms["dr_grpo"] / norms["paper"],
    }
