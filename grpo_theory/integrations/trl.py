r"""Our advantages and loss inside TRL's ``GRPOTrainer`` (trl 1.16.0); the paper's recipes as ``GRPOConfig``.

:class:`GRPOTheoryTrainer` is a ``trl.GRPOTrainer`` whose

* advantages come from :func:`grpo_theory.losses.group_advantages` (any ``ADVANTAGE_PRESETS`` entry or a
  keyword dict), :func:`~grpo_theory.losses.rloo_advantages`, or a callable ``[P, G] -> [P, G]``. They are
  computed at generation time, on the rewards TRL gathers from every process, because TRL then shuffles
  rollouts and cuts them into micro-batches, so no micro-batch holds a whole group. A rollout whose every
  reward function returned ``None`` has a NaN reward: ``nan_policy="mask"`` (default) leaves it out of its
  group's mean and std and gives it advantage 0, as TRL does.
* per-token loss is :func:`~grpo_theory.losses.policy_surrogate` plus, for ``beta > 0``, k3
  (:func:`~grpo_theory.losses.kl_estimate`), or with ``use_bias_correction_kl`` (TRL's default) k3 times
  the ratio (:func:`~grpo_theory.losses.kl_importance_weighted`); aggregation is
  :func:`~grpo_theory.losses.aggregate`, with TRL's normalizers for ``loss_type`` ``grpo``, ``bnpo``,
  ``dr_grpo``, ``dapo`` and ``luspo``; ``cispo`` and ``sapo`` use
  :func:`~grpo_theory.losses.cispo_surrogate` / :func:`~grpo_theory.losses.sapo_surrogate` instead.

With the default ``advantage=None`` (TRL's own convention: Bessel std + 1e-4, ``scale_rewards`` from the
config) it reproduces the native trainer (``tests/crosscheck``: loss and gradients to float32 rounding,
and the same parameters after a 2-process run). TRL features outside the shared library raise
``ValueError`` at construction (two-sided ``delta``, entropy masking or bonus, off-policy masking, vLLM,
``normalize_then_sum``).

Micro-batch layout: TRL hands ``_compute_loss`` a flat ``[B, T]`` slice; it is passed to the library as
``[B, 1, T]`` (B rollouts, one per "group"), which the loss functions accept once advantages exist.

Import needs the ``[trl]`` extra (``pip install 'grpo_theory[trl]'``, trl pinned to 1.16.0: this module
overrides private trainer methods).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

try:
    import trl
    from trl import GRPOConfig, GRPOTrainer
except ImportError as exc:  # pragma: no cover - exercised in the main venv, which has no trl
    raise ImportError(
        "grpo_theory.integrations.trl needs TRL: pip install 'grpo_theory[trl]' (trl==1.16.0), "
        "or use .venv-crosscheck (bash grpo_theory/crosscheck/setup.sh)"
    ) from exc

import torch

from grpo_theory.integrations.recipes import Recipe, sixteen_grpo, two_grpo
from grpo_theory.losses import (
    ADVANTAGE_PRESETS,
    aggregate,
    cispo_surrogate,
    group_advantages,
    kl_estimate,
    kl_importance_weighted,
    policy_surrogate,
    rloo_advantages,
    sapo_surrogate,
)
from grpo_theory.vocab import AggMode

Tensor = torch.Tensor

TRL_VERSION = "1.16.0"
if trl.__version__ != TRL_VERSION:  # the overridden methods are private: say so once, do not refuse
    warnings.warn(f"grpo_theory.integrations.trl was written against trl {TRL_VERSION}, "
                  f"found {trl.__version__}", stacklevel=2)

#: Optional model inputs TRL passes through to the forward pass (vision-language models).
_MULTIMODAL_INPUTS = ("pixel_values", "image_grid_thw", "num_images", "pixel_attention_mask",
                      "spatial_shapes", "num_tiles", "image_sizes", "token_type_ids", "mm_token_type_ids",
                      "image_position_ids")

#: TRL loss_type -> (our aggregation mode, how the denominator is formed; see ``_normalizer``).
LOSS_TYPES: dict[str, tuple[AggMode, str]] = {
    "grpo": ("seq-mean-token-mean", "rows"),
    "bnpo": ("token-mean", "local_tokens"),
    "dr_grpo": ("seq-mean-token-sum-norm", "rows"),
    "dapo": ("token-mean", "global_tokens"),
    "luspo": ("seq-mean-token-sum", "rows"),
    "cispo": ("token-mean", "global_tokens"),
    "sapo": ("seq-mean-token-mean", "rows"),
}

AdvantageSpec = str | dict[str, Any] | Callable[[Tensor], Tensor] | None


def resolve_advantage(spec: AdvantageSpec, scale_rewards: str = "group") -> Callable[[Tensor], Tensor]:
    """Turns an advantage spec into ``f(rewards [P, G] with NaN for missing) -> [P, G]``.

    ``None``: TRL's convention (``ADVANTAGE_PRESETS["trl"]`` with ``scale=scale_rewards``); a preset name
    (then ``scale_rewards`` must be ``"group"``, TRL's default, or equal the preset's scale); ``"rloo"``;
    a dict of :func:`group_advantages` keywords; or a callable.
    """
    if callable(spec):
        return spec
    if spec is None:
        kw = {**ADVANTAGE_PRESETS["trl"], "scale": scale_rewards}
    elif spec == "rloo":
        def _rloo(r: Tensor) -> Tensor:
            if bool(torch.isnan(r).any()):
                raise ValueError("advantage='rloo' cannot mask missing (None) rewards; "
                                 "use a group_advantages preset")
            return rloo_advantages(r)
        return _rloo
    elif isinstance(spec, str):
        if spec not in ADVANTAGE_PRESETS:
            raise ValueError(f"advantage must be None, 'rloo', a dict, a callable or one of "
                             f"{sorted(ADVANTAGE_PRESETS)}, got {spec!r}")
        kw = dict(ADVANTAGE_PRESETS[spec])
        if scale_rewards not in ("group", kw["scale"]):
            raise ValueError(f"advantage preset {spec!r} fixes scale={kw['scale']!r}; "
                             f"scale_rewards={scale_rewards!r} conflicts "
                             "(leave it at 'group' or pass a dict)")
    elif isinstance(spec, dict):
        kw = dict(spec)
    else:
        raise ValueError("advantage must be None, 'rloo', a preset name, a dict or a callable, "
                         f"got {type(spec).__name__}")
    kw.setdefault("nan_policy", "mask")

    def _group(r: Tensor) -> Tensor:
        return group_advantages(r, **kw)
    return _group


def _check_supported(trainer: GRPOTrainer) -> None:
    a = trainer.args
    problems = {
        f"loss_type={trainer.loss_type!r} (supported: {sorted(LOSS_TYPES)})":
            trainer.loss_type not in LOSS_TYPES,
        "delta (two-sided clipping)": a.delta is not None,
        "top_entropy_quantile < 1": trainer.top_entropy_quantile < 1.0,
        "off_policy_mask_threshold": trainer.off_policy_mask_threshold is not None,
        "use_vllm": bool(trainer.use_vllm),
        "entropy_coef / use_adaptive_entropy": bool(trainer._entropy_bonus_enabled),
        "a MoE router aux loss": bool(trainer.aux_loss_enabled),
        "multi_objective_aggregation='normalize_then_sum'":
            trainer.multi_objective_aggregation != "sum_then_normalize",
    }
    bad = [k for k, v in problems.items() if v]
    if bad:
        raise ValueError(f"GRPOTheoryTrainer does not support {', '.join(bad)}; "
                         "use trl.GRPOTrainer for these")


class GRPOTheoryTrainer(GRPOTrainer):
    """``trl.GRPOTrainer`` with advantages and loss from :mod:`grpo_theory.losses`.

    Args (beyond ``GRPOTrainer``'s, keyword-only):
        advantage: ``None`` (TRL's convention), a name in ``ADVANTAGE_PRESETS`` (``"paper"``, ``"verl"``,
            ``"dr_grpo"``, ...), ``"rloo"``, a dict of :func:`group_advantages` keywords, or a callable
            ``rewards [P, G] -> advantages [P, G]`` (NaN marks a rollout no reward function scored).

    Advantages are computed in float64 from TRL's float32 rewards and stored in float32; tied groups get
    exactly 0 (TRL's float32 arithmetic can leave a residue, up to 0.0024 measured). Metrics
    ``grpo_theory/adv_abs_mean`` and ``grpo_theory/zero_signal_frac`` are logged next to TRL's.
    """

    def __init__(self, *args: Any, advantage: AdvantageSpec = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_supported(self)
        self._advantage_fn = resolve_advantage(advantage, self.scale_rewards)
        self._gathered_rewards: Tensor | None = None

    # --- advantages: at generation time, from the gathered rewards ------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._gathered_rewards = rewards_per_func  # [N_all, n_funcs], every process's rollouts, in order
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        per_func = self._gathered_rewards
        if per_func is None:  # pragma: no cover - TRL always scores before it returns
            raise RuntimeError("rewards were not computed; "
                               "the TRL version differs from the one this adapter targets")
        self._gathered_rewards = None
        mode = "train" if self.model.training else "eval"
        g = self.num_generations if mode == "train" else self.num_generations_eval
        # TRL's sum_then_normalize: weighted nansum over reward functions; NaN only if every function gave
        # None.
        rewards = (per_func * self.reward_weights.to(per_func.device).unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(per_func).all(dim=1)] = torch.nan
        grouped = rewards.to(torch.float64).view(-1, g)
        # A group of one (eval with num_generations_eval=1) has no baseline: TRL gives it 0, so do we.
        adv = self._advantage_fn(grouped) if g > 1 else torch.zeros_like(grouped)
        adv = adv.reshape(-1)
        n_local, rank = len(inputs), self.accelerator.process_index
        local = slice(rank * n_local, (rank + 1) * n_local)
        out["advantages"] = adv[local].to(out["advantages"].dtype)
        valid = ~torch.isnan(grouped)
        hi = torch.where(valid, grouped, -torch.inf).amax(dim=1)
        lo = torch.where(valid, grouped, torch.inf).amin(dim=1)
        self._metrics[mode]["grpo_theory/adv_abs_mean"].append(float(adv.abs().mean()))
        tied = (hi == lo) | (valid.sum(1) <= 1)
        self._metrics[mode]["grpo_theory/zero_signal_frac"].append(float(tied.double().mean()))
        return out

    # --- loss: per micro-batch, shared library --------------------------------------------------------------
    def _normalizer(self, how: str, mask: Tensor, inputs: dict, mode: str) -> float:
        """TRL's denominator for this loss type, for one micro-batch (train: over its accumulation window)."""
        gas = float(self.current_gradient_accumulation_steps) if mode == "train" else 1.0
        if how == "rows":  # mean over this micro-batch's rows, divided by the accumulation steps
            return mask.shape[0] * gas
        if how == "local_tokens":
            return max(float(mask.sum()), 1.0) * gas
        # global_tokens: num_items_in_batch spans the generation batch of every process
        n = max(float(inputs["num_items_in_batch"]), 1.0) / self.accelerator.num_processes
        if mode == "train":
            n = n * gas / self.args.steps_per_generation
        return n

    def _compute_loss(self, model, inputs):
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True,
            **{k: inputs.get(k) for k in _MULTIMODAL_INPUTS},
        )
        old = inputs.get("old_per_token_logps")
        old = logps.detach() if old is None else old
        adv = inputs["advantages"]
        # Library layout: B rollouts as [B, 1, T]; advantages [B, 1] (or per token [B, 1, T]).
        lp3, old3, m3 = logps.unsqueeze(1), old.unsqueeze(1), mask.unsqueeze(1).bool()
        adv3 = adv.unsqueeze(1)
        level = self.importance_sampling_level
        if self.loss_type == "cispo":  # TRL: the ratio clipped from above at epsilon_high itself, no floor
            per_token, _ = cispo_surrogate(lp3, old3, adv3, m3, ratio_max=self.epsilon_high, ratio_min=None,
                                           level=level)
        elif self.loss_type == "sapo":
            per_token, _ = sapo_surrogate(lp3, old3, adv3, m3, tau_pos=self.args.sapo_temperature_pos,
                                          tau_neg=self.args.sapo_temperature_neg, level=level)
        else:
            per_token, _ = policy_surrogate(lp3, old3, adv3, m3, clip_low=self.epsilon_low,
                                            clip_high=self.epsilon_high, level=level)
        kl = None
        if self.beta != 0.0:
            ref3 = inputs["ref_per_token_logps"].unsqueeze(1)
            if self.args.use_bias_correction_kl:  # k3 times the surrogate's ratio (with its gradient)
                kl = kl_importance_weighted(lp3, ref3, old3, m3, kind="k3", level=level)
            else:
                kl = kl_estimate(lp3, ref3, "k3")
            per_token = per_token + self.beta * torch.where(m3, kl, torch.zeros_like(kl))
        mode = "train" if self.model.training else "eval"
        agg_mode, how = LOSS_TYPES[self.loss_type]
        kw: dict[str, Any] = {"normalizer": self._normalizer(how, mask, inputs, mode), "empty_rows": "count"}
        if agg_mode == "seq-mean-token-sum-norm":
            kw["horizon"] = float(self.max_completion_length)
        loss = aggregate(per_token, m3, agg_mode, **kw)
        self._log_loss_metrics(mode, m3, entropies.unsqueeze(1), kl, lp3, old3, adv3,
                               clip=self.loss_type not in ("cispo", "sapo"))
        return loss

    def _log_loss_metrics(self, mode, m3, ent3, kl, lp3, old3, adv3, clip: bool = True) -> None:
        """TRL's metric names, as token means over every process's micro-batch."""
        def global_mean(x: Tensor) -> float:
            x = x.detach().to(torch.float32)
            local = torch.stack([torch.where(m3, x, torch.zeros_like(x)).sum(), m3.sum().to(torch.float32)])
            tot = self.accelerator.reduce(local, reduction="sum")
            return float(tot[0] / tot[1].clamp(min=1.0))

        with torch.no_grad():
            ratio = _ratio(lp3, old3, m3, self.importance_sampling_level)
            adv = adv3.unsqueeze(-1) if adv3.dim() == 2 else adv3
            low = ((ratio < 1 - self.epsilon_low) & (adv < 0)).expand_as(m3)
            high = ((ratio > 1 + self.epsilon_high) & (adv > 0)).expand_as(m3)
            if kl is not None:
                self._metrics[mode]["kl"].append(global_mean(kl))
            self._metrics[mode]["entropy"].append(global_mean(ent3))
            if not clip:
                return
            self._metrics[mode]["clip_ratio/low_mean"].append(global_mean(low.float()))
            self._metrics[mode]["clip_ratio/high_mean"].append(global_mean(high.float()))
            self._metrics[mode]["clip_ratio/region_mean"].append(global_mean((low | high).float()))


def _ratio(lp3: Tensor, old3: Tensor, m3: Tensor, level: str) -> Tensor:
    """The importance ratio of :func:`policy_surrogate`, for the clip metrics: per token or per sequence."""
    log_ratio = torch.where(m3, lp3 - old3, torch.zeros_like(lp3))
    if level == "sequence":
        n = m3.sum(dim=-1, keepdim=True).clamp(min=1)
        log_ratio = (log_ratio.sum(dim=-1, keepdim=True) / n).expand_as(lp3)
    return torch.exp(log_ratio)


# --- recipes ------------------------------------------------------------------------------------------------


def _world_size(num_processes: int | None) -> int:
    if num_processes is not None:
        if num_processes < 1:
            raise ValueError(f"num_processes must be >= 1, got {num_processes}")
        return num_processes
    return int(os.environ.get("WORLD_SIZE", "1"))


def recipe_config(recipe: Recipe, output_dir: str, *, num_processes: int | None = None,
                  per_device_rollouts: int | None = None, **overrides: Any) -> GRPOConfig:
    """A ``GRPOConfig`` for a :class:`~grpo_theory.integrations.recipes.Recipe`.

    One optimizer step sees ``recipe.rollouts_per_step`` rollouts = ``num_processes`` (default:
    ``WORLD_SIZE``, else 1) x ``per_device_rollouts`` (default: all of them, no accumulation) x
    ``gradient_accumulation_steps``.
    Set: ``num_generations``, batch sizes, ``steps_per_generation`` (from ``generation_prompts``),
    ``learning_rate``, ``warmup_steps`` with ``lr_scheduler_type="constant_with_warmup"``, ``epsilon`` /
    ``epsilon_high``, ``num_train_epochs``, temperature 1, top-p 1, ``beta=0``, ``loss_type="dapo"`` (token
    mean over the whole mini-batch: verl's default ``token-mean``, which the paper ran) and
    ``scale_rewards="group"``. ``overrides`` are any other ``GRPOConfig`` fields and win.
    """
    world = _world_size(num_processes)
    total = recipe.rollouts_per_step
    per_dev = per_device_rollouts or total // world
    if per_dev < 1 or total % (world * per_dev):
        raise ValueError(f"rollouts per step ({total}) must be a multiple of "
                         f"num_processes x per_device_rollouts ({world} x {per_device_rollouts})")
    gas = total // (world * per_dev)
    fields: dict[str, Any] = {
        "output_dir": output_dir,
        "num_generations": recipe.group_size,
        "per_device_train_batch_size": per_dev,
        "gradient_accumulation_steps": gas,
        "learning_rate": recipe.learning_rate,
        "lr_scheduler_type": "constant_with_warmup",
        "warmup_steps": recipe.warmup_steps,
        "epsilon": recipe.clip_low,
        "epsilon_high": recipe.clip_high,
        "num_train_epochs": recipe.epochs,
        "temperature": 1.0,
        "top_p": 1.0,
        "beta": 0.0,
        "loss_type": "dapo",
        "scale_rewards": "group",
    }
    if recipe.steps_per_generation > 1:
        fields["steps_per_generation"] = gas * recipe.steps_per_generation
    fields.update(overrides)
    return GRPOConfig(**fields)


def two_grpo_config(output_dir: str, *, learning_rate: float, baseline_prompts: int = 32,
                    generation_prompts: int | None = None, num_processes: int | None = None,
                    per_device_rollouts: int | None = None, **overrides: Any) -> GRPOConfig:
    """The paper's 2-GRPO: G = 2, 8 x ``baseline_prompts`` (default 256) prompts per step, clip 0.2/0.28,
    10 warm-up steps, 10 epochs. ``learning_rate`` is required; the paper used the linear rule
    (``grpo_theory.integrations.recipes.linear_lr(lr_16, 32, 256)``, i.e. 8 x the 16-GRPO rate).
    Same keywords as :func:`sixteen_grpo_config`, so switching is one line."""
    recipe = two_grpo(learning_rate, baseline_prompts=baseline_prompts, generation_prompts=generation_prompts)
    return recipe_config(recipe, output_dir, num_processes=num_processes,
                         per_device_rollouts=per_device_rollouts, **overrides)


def sixteen_grpo_config(output_dir: str, *, learning_rate: float, baseline_prompts: int = 32,
                        generation_prompts: int | None = None, num_processes: int | None = None,
                        per_device_rollouts: int | None = None, **overrides: Any) -> GRPOConfig:
    """The paper's 16-GRPO baseline: G = 16, ``baseline_prompts`` (default 32) prompts per step (512
    rollouts), clip 0.2/0.28, 10 warm-up steps, 10 epochs; ``learning_rate`` required (the paper: 1e-6)."""
    recipe = sixteen_grpo(learning_rate, prompts_per_step=baseline_prompts,
                          generation_prompts=generation_prompts)
    return recipe_config(recipe, output_dir, num_processes=num_processes,
                         per_device_rollouts=per_device_rollouts, **overrides)
