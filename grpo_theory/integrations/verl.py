r"""verl 0.9.1 plugin: our advantage presets and surrogate, registered through verl's own registries.

Load it in every verl worker with ``VERL_USE_EXTERNAL_MODULES=grpo_theory.integrations.verl`` (verl imports
the module when ``verl`` is imported), then select by name:

* ``algorithm.adv_estimator=two_grpo`` -- 2-GRPO: every uid must have exactly 2 responses; the paper's
  convention (population std, no eps): a mixed pair gets +-1, a tied pair exactly 0.
* ``algorithm.adv_estimator=grpo_theory_<preset>`` for each ``ADVANTAGE_PRESETS`` entry (``paper``, ``trl``,
  ``verl``, ``openrlhf``, ``open_instruct``, ``nano_aha``, ``dr_grpo``) and ``grpo_theory_rloo``.
* ``actor_rollout_ref.actor.policy_loss.loss_mode=grpo_theory`` --
  :func:`~grpo_theory.losses.policy_surrogate` (clip ``clip_ratio_low``/``clip_ratio_high``, dual clip
  ``clip_ratio_c``, log-ratio clamp 20, as verl's ``vanilla``) aggregated by
  :func:`~grpo_theory.losses.aggregate` in any ``loss_agg_mode`` of ours (verl's five names, plus
  ``grpo``/``bnpo``/``dapo``/``dr_grpo`` aliases).

Conventions, and where they differ from verl's built-ins:

* Advantages are computed in float64 from verl's (float32) scores and cast back; tied groups get exactly 0.
  verl's ``grpo`` works in the scores' dtype and can leave a residue on a tied float32 group.
* Groups may have unequal sizes (e.g. after filtering): they are padded with NaN and masked. A uid with a
  single response gets advantage 0 (verl's ``grpo`` gives it r / (1 + eps)).
* ``algorithm.norm_adv_by_std_in_grpo=False`` is refused by the std-scaled presets (choose
  ``grpo_theory_dr_grpo`` instead) rather than silently ignored.
* The loss reads verl's ``config.global_batch_info`` (``dp_size``, ``batch_num_tokens``,
  ``global_batch_size``, ``loss_scale_factor``) exactly as ``agg_loss`` does: with the trainer's
  ``global_batch_size`` the sequence modes divide by every row, fully masked ones included; without it
  (a bare call) by the rows that have a token. ``seq-mean-token-mean`` divides by the exact token count
  (verl adds 1e-8), so it agrees with ``vanilla`` to ~1e-8 relative, the other modes to rounding.

verl itself cannot train without a GPU (its trainer needs CUDA, NCCL and a vLLM/SGLang rollout engine),
so what is checked here (``tests/crosscheck/test_verl_plugin.py``) is the registration and the functions
verl calls, not a verl training run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import numpy as np
    from verl.trainer.ppo import core_algos
except ImportError as exc:  # pragma: no cover - exercised in the main venv, which has no verl
    raise ImportError(
        "grpo_theory.integrations.verl needs verl: pip install 'grpo_theory[verl]' (verl==0.9.1), "
        "or use .venv-crosscheck (bash grpo_theory/crosscheck/setup.sh)"
    ) from exc

import torch

from grpo_theory.losses import (
    ADVANTAGE_PRESETS,
    aggregate,
    group_advantages,
    policy_surrogate,
    resolve_mode,
    rloo_advantages,
)

Tensor = torch.Tensor

#: Name of our policy loss in verl's registry.
POLICY_LOSS = "grpo_theory"
#: Advantage estimator names this module registers.
ADV_ESTIMATORS = ("two_grpo", *(f"grpo_theory_{p}" for p in ADVANTAGE_PRESETS), "grpo_theory_rloo")


def group_scores(scores: Tensor, index: Any) -> tuple[Tensor, Tensor]:
    """Scores ``[N]``, a uid per response -> (``[P, G_max]`` float64 NaN-padded groups, ``[N]`` positions).

    Groups are in order of first appearance; ``positions[i]`` is where response ``i`` sits in the flattened
    ``[P, G_max]`` table, so ``table.reshape(-1)[positions]`` is back in verl's order.
    """
    ids = np.asarray(index)
    if ids.shape != (scores.shape[0],):
        raise ValueError(f"index must have one uid per response ({scores.shape[0]}), got shape {ids.shape}")
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first)  # group numbers by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = torch.as_tensor(rank[inverse.reshape(-1)], dtype=torch.long)
    n_groups = order.size
    slot = torch.zeros_like(group)
    counts = torch.zeros(n_groups, dtype=torch.long)
    for i, gi in enumerate(group.tolist()):  # position within the group, in arrival order
        slot[i] = counts[gi]
        counts[gi] += 1
    width = int(counts.max()) if n_groups else 0
    table = torch.full((n_groups, max(width, 2)), float("nan"), dtype=torch.float64)
    positions = group * table.shape[1] + slot
    table.view(-1)[positions] = scores.detach().to(torch.float64)
    return table, positions


def _estimator(name: str, fn: Callable[[Tensor], Tensor], *, exact_group: int | None = None,
               scaled: bool = True) -> Callable[..., tuple[Tensor, Tensor]]:
    def estimator(token_level_rewards: Tensor, response_mask: Tensor, index: Any = None, config: Any = None,
                  **_: Any) -> tuple[Tensor, Tensor]:
        if index is None:
            raise ValueError(f"adv_estimator {name!r} needs the batch's uid index (non_tensor_batch['uid'])")
        if scaled and config is not None and not _get(config, "norm_adv_by_std_in_grpo", True):
            raise ValueError(f"adv_estimator {name!r} divides by the group std; "
                             "norm_adv_by_std_in_grpo=False conflicts "
                             "(use grpo_theory_dr_grpo for centered advantages)")
        scores = token_level_rewards.sum(dim=-1)
        table, positions = group_scores(scores, index)
        sizes = (~torch.isnan(table)).sum(dim=1)
        if exact_group is not None and bool((sizes != exact_group).any()):
            raise ValueError(f"adv_estimator {name!r} needs exactly {exact_group} responses per uid "
                             f"(actor_rollout_ref.rollout.n={exact_group}), "
                             f"got sizes {sorted(set(sizes.tolist()))}")
        adv = fn(table).reshape(-1)[positions].to(token_level_rewards.dtype)
        out = adv.unsqueeze(-1) * response_mask
        return out, out

    estimator.__name__ = f"compute_{name}_advantage"
    estimator.__qualname__ = estimator.__name__
    estimator.__doc__ = f"verl advantage estimator {name!r} (grpo_theory.integrations.verl)."
    return estimator


def _get(config: Any, key: str, default: Any) -> Any:
    getter = getattr(config, "get", None)
    return getter(key, default) if callable(getter) else getattr(config, key, default)


def _preset_fn(preset: str) -> Callable[[Tensor], Tensor]:
    kw = {**ADVANTAGE_PRESETS[preset], "nan_policy": "mask"}
    return lambda table: group_advantages(table, **kw)


def _rloo(table: Tensor) -> Tensor:
    if bool(torch.isnan(table).any()):
        raise ValueError("adv_estimator 'grpo_theory_rloo' needs the same number of responses for every uid")
    return rloo_advantages(table)


def _register(name: str, fn: Callable[..., Any]) -> None:
    # verl refuses a second, different function under one name; a re-import of this module is not a conflict.
    old = core_algos.ADV_ESTIMATOR_REGISTRY.get(name)
    if old is not None and getattr(old, "__module__", None) == __name__:
        core_algos.ADV_ESTIMATOR_REGISTRY[name] = fn
        return
    core_algos.register_adv_est(name)(fn)


_register("two_grpo", _estimator("two_grpo", _preset_fn("paper"), exact_group=2))
for _p in ADVANTAGE_PRESETS:
    _register(f"grpo_theory_{_p}", _estimator(f"grpo_theory_{_p}", _preset_fn(_p),
                                              scaled=ADVANTAGE_PRESETS[_p]["scale"] != "none"))
_register("grpo_theory_rloo", _estimator("grpo_theory_rloo", _rloo, scaled=False))


@core_algos.register_policy_loss(POLICY_LOSS)
def compute_policy_loss_grpo_theory(
    old_log_prob: Tensor,
    log_prob: Tensor,
    advantages: Tensor,
    response_mask: Tensor,
    loss_agg_mode: str = "token-mean",
    config: Any = None,
    rollout_is_weights: Tensor | None = None,
) -> tuple[Tensor, dict[str, Any]]:
    """verl policy loss ``grpo_theory``: our clipped surrogate and aggregation on verl's ``[B, T]`` tensors.

    Reads ``clip_ratio`` / ``clip_ratio_low`` / ``clip_ratio_high`` / ``clip_ratio_c`` and
    ``global_batch_info`` from the actor config (``config=None``: clip 0.2/0.2, dual clip 3, local
    normalizers). Returns ``(loss, {"actor/pg_clipfrac", "actor/ppo_kl", "actor/pg_clipfrac_lower"})``
    like ``vanilla``.
    """
    mode = resolve_mode(loss_agg_mode)
    clip = _get(config, "clip_ratio", 0.2) if config is not None else 0.2
    low = _get(config, "clip_ratio_low", None) if config is not None else None
    high = _get(config, "clip_ratio_high", None) if config is not None else None
    dual = _get(config, "clip_ratio_c", 3.0) if config is not None else 3.0
    info = dict(_get(config, "global_batch_info", {}) or {}) if config is not None else {}
    m3 = response_mask.bool().unsqueeze(1)
    per_token, diag = policy_surrogate(
        log_prob.unsqueeze(1), old_log_prob.unsqueeze(1), advantages.unsqueeze(1), m3,
        clip_low=clip if low is None else low, clip_high=clip if high is None else high,
        dual_clip=dual, log_ratio_clamp=20.0,
    )
    if rollout_is_weights is not None:
        per_token = per_token * rollout_is_weights.unsqueeze(1)
    dp = int(info.get("dp_size") or 1)
    kw: dict[str, Any] = {}
    if mode == "token-mean":
        n_tok = info.get("batch_num_tokens")
        if n_tok is None and dp > 1:
            raise ValueError("global_batch_info['batch_num_tokens'] is required when dp_size > 1")
        if n_tok is not None:
            kw["normalizer"] = float(n_tok) / dp
    elif mode != "token-sum":
        gbs = info.get("global_batch_size")
        if gbs is None and dp > 1:
            raise ValueError("global_batch_info['global_batch_size'] is required when dp_size > 1")
        if gbs is not None:
            kw["normalizer"] = float(gbs) / dp
        else:
            kw["empty_rows"] = "skip"  # a bare agg_loss call counts the rows that have a token
        if mode == "seq-mean-token-sum-norm" and info.get("loss_scale_factor") is not None:
            kw["horizon"] = float(info["loss_scale_factor"])
    loss = aggregate(per_token, m3, mode, **kw)
    if mode == "token-sum":
        loss = loss * dp  # data-parallel ranks average gradients; the sum is over the global batch
    with torch.no_grad():
        n = m3.sum().clamp(min=1)
        neg_kl = torch.where(m3, (log_prob - old_log_prob).unsqueeze(1), torch.zeros_like(per_token))
        ppo_kl = float(-neg_kl.clamp(-20.0, 20.0).sum() / n)
    metrics = {
        "actor/pg_clipfrac": diag["clip_frac"],
        "actor/ppo_kl": ppo_kl,
        "actor/pg_clipfrac_lower": diag["dual_clip_frac"],
    }
    return loss, metrics
