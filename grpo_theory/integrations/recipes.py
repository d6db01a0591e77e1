r"""The paper's 2-GRPO and 16-GRPO recipes as engine-independent batch arithmetic.

The paper (setup section: verl, Adam, 10 epochs, clip 0.2/0.28, linear warm-up over 10 steps) trains
16-GRPO on 32 prompts x 16 rollouts per optimizer mini-batch at lr 1e-6, and 2-GRPO on 256 prompts x 2
rollouts at lr 8e-6: the same 512 rollouts per mini-batch, 8x the prompts, and the learning rate scaled
by the linear batch rule. :class:`Recipe` holds those numbers; :mod:`grpo_theory.integrations.trl` turns
one into a ``GRPOConfig`` and :func:`verl_overrides` into verl command-line overrides.

The learning rate is always an explicit argument: :func:`linear_lr` computes the linear rule
(lr proportional to prompts per mini-batch) for a caller who wants it, but nothing applies it silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from grpo_theory.vocab import AggMode

#: Prompts per optimizer mini-batch of the paper's 16-GRPO baseline (32 x 16 = 512 rollouts).
BASELINE_PROMPTS = 32
#: Rollouts per prompt of the baseline.
BASELINE_GROUP = 16


@dataclass(frozen=True)
class Recipe:
    """One GRPO run's shape, independent of the engine.

    Attributes:
        name: display name, e.g. ``"2-GRPO"``.
        group_size: G, rollouts per prompt (>= 2).
        prompts_per_step: prompts per optimizer mini-batch.
        learning_rate: Adam learning rate (explicit; see :func:`linear_lr`).
        warmup_steps: linear warm-up steps, then constant (the paper: 10).
        clip_low, clip_high: PPO clip epsilons (the paper: 0.2, 0.28).
        epochs: passes over the training prompts (the paper: 10).
        generation_prompts: prompts per generation batch, a multiple of ``prompts_per_step``; the batch
            is split into consecutive mini-batches (later ones off-policy). ``None``: one mini-batch per
            generation (on-policy).
    """

    name: str
    group_size: int
    prompts_per_step: int
    learning_rate: float
    warmup_steps: int = 10
    clip_low: float = 0.2
    clip_high: float = 0.28
    epochs: int = 10
    generation_prompts: int | None = None

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2 (GRPO compares rollouts of one prompt), "
                             f"got {self.group_size}")
        if self.prompts_per_step < 1:
            raise ValueError(f"prompts_per_step must be >= 1, got {self.prompts_per_step}")
        if not (self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.warmup_steps < 0 or self.epochs < 1:
            raise ValueError("warmup_steps must be >= 0 and epochs >= 1, "
                             f"got {self.warmup_steps}, {self.epochs}")
        if not (0 <= self.clip_low < 1 and self.clip_high >= 0):
            raise ValueError("clip_low must be in [0, 1) and clip_high >= 0, "
                             f"got {self.clip_low}, {self.clip_high}")
        g = self.generation_prompts
        if g is not None and (g < self.prompts_per_step or g % self.prompts_per_step):
            raise ValueError(
                "generation_prompts must be None or a multiple of "
                f"prompts_per_step={self.prompts_per_step}, got {g}"
            )

    @property
    def rollouts_per_step(self) -> int:
        """Rollouts per optimizer mini-batch: ``prompts_per_step * group_size``."""
        return self.prompts_per_step * self.group_size

    @property
    def steps_per_generation(self) -> int:
        """Optimizer steps per generation batch (1 when on-policy)."""
        return 1 if self.generation_prompts is None else self.generation_prompts // self.prompts_per_step


def linear_lr(learning_rate: float, from_prompts: int, to_prompts: int) -> float:
    r"""The linear batch rule: :math:`\mathrm{lr}\cdot\text{to\_prompts}/\text{from\_prompts}`.

    The paper's 2-GRPO rate: ``linear_lr(1e-6, 32, 256) == 8e-6``. Offered, never applied implicitly.

    Examples:
        >>> linear_lr(1e-6, 32, 256)
        8e-06
    """
    if from_prompts < 1 or to_prompts < 1:
        raise ValueError(f"prompt counts must be >= 1, got {from_prompts}, {to_prompts}")
    return learning_rate * to_prompts / from_prompts


def sixteen_grpo(learning_rate: float, *, prompts_per_step: int = BASELINE_PROMPTS, **fields) -> Recipe:
    """16-GRPO: G = 16, ``prompts_per_step`` prompts (default 32) per mini-batch.

    ``fields``: other :class:`Recipe` fields.
    """
    return Recipe("16-GRPO", BASELINE_GROUP, prompts_per_step, learning_rate, **fields)


def two_grpo(learning_rate: float, *, baseline_prompts: int = BASELINE_PROMPTS, **fields) -> Recipe:
    """2-GRPO at the rollouts of a 16-GRPO baseline: G = 2 and 8x its prompts (default 256) per mini-batch.

    ``learning_rate`` is explicit: the paper used
    ``linear_lr(lr_16, baseline_prompts, 8 * baseline_prompts)``.
    ``generation_prompts`` (if given) is kept in prompts, so both recipes generate for the same prompts.

    Examples:
        >>> r = two_grpo(linear_lr(1e-6, 32, 256))
        >>> (r.group_size, r.prompts_per_step, r.rollouts_per_step, r.learning_rate)
        (2, 256, 512, 8e-06)
    """
    prompts = baseline_prompts * BASELINE_GROUP // 2
    return Recipe("2-GRPO", 2, prompts, learning_rate, **fields)


def verl_overrides(recipe: Recipe, *, adv_estimator: str | None = None, loss_mode: str = "grpo_theory",
                   loss_agg_mode: AggMode = "token-mean") -> list[str]:
    """verl 0.9.1 Hydra overrides (``key=value``) for a recipe, with our plugin's estimator and loss.

    ``adv_estimator`` defaults to ``"two_grpo"`` for G = 2 and ``"grpo_theory_verl"`` otherwise (both
    registered by :mod:`grpo_theory.integrations.verl`); ``loss_mode`` ``"grpo_theory"`` is our surrogate
    (pass ``"vanilla"`` for verl's own). Model, data and cluster keys are left to the caller.
    verl counts ``ppo_mini_batch_size`` and ``train_batch_size`` in prompts.

    Examples:
        >>> [o for o in verl_overrides(two_grpo(8e-6)) if "mini_batch" in o or "rollout.n" in o]
        ['actor_rollout_ref.rollout.n=2', 'actor_rollout_ref.actor.ppo_mini_batch_size=256']
    """
    est = adv_estimator or ("two_grpo" if recipe.group_size == 2 else "grpo_theory_verl")
    gen = recipe.generation_prompts or recipe.prompts_per_step
    return [
        f"algorithm.adv_estimator={est}",
        "algorithm.use_kl_in_reward=False",
        f"data.train_batch_size={gen}",
        f"actor_rollout_ref.rollout.n={recipe.group_size}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={recipe.prompts_per_step}",
        f"actor_rollout_ref.actor.optim.lr={recipe.learning_rate:g}",
        f"actor_rollout_ref.actor.optim.lr_warmup_steps={recipe.warmup_steps}",
        f"actor_rollout_ref.actor.clip_ratio_low={recipe.clip_low:g}",
        f"actor_rollout_ref.actor.clip_ratio_high={recipe.clip_high:g}",
        f"actor_rollout_ref.actor.policy_loss.loss_mode={loss_mode}",
        f"actor_rollout_ref.actor.loss_agg_mode={loss_agg_mode}",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "actor_rollout_ref.rollout.temperature=1.0",
        "actor_rollout_ref.rollout.top_p=1.0",
        f"trainer.total_epochs={recipe.epochs}",
    ]
