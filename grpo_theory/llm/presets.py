"""Experiment presets: the paper's headline protocol, its learning-rate sweep and its group-size ablation.

The paper (arXiv 2510.00977, §6 of v2 / §5 of v3) compares, at equal epochs over the same prompt set:

* 16-GRPO: P prompts x 16 rollouts per optimizer mini-batch, learning rate eta;
* 2-GRPO: 8P prompts x 2 rollouts per mini-batch (the same rollouts per mini-batch), so at equal epochs
  it takes 1/8 of the optimizer steps and uses 1/8 of the rollouts; the paper scales its lr by 8
  (the linear rule for an 8x larger prompt batch);
* 2-GRPO+RS: a tied pair is replaced by the pair of a fresh prompt, within 16-GRPO's rollout budget;
* and, for the "2-GRPO is DPO" reading, online DPO on the same pairs (ties dropped, the start policy
  as reference).

One generation batch is 16P prompts, consumed in consecutive mini-batches: 16 updates per generation for
16-GRPO, 2 for 2-GRPO (the v3 ablation's 512-prompt generation batch at P = 32). Every method warms its lr up
linearly over 10 steps; clip 0.2 / 0.28, no KL, training temperature 1 (the paper's recipe).

Arms of the ``headline`` experiment (:data:`ARMS`): the four methods above, each at its own learning
rate chosen on the validation split (:func:`lr_sweep_runs`; the choice is committed in
``results/headline/lr_sweep/`` and copied into :data:`TUNED_LRS`), plus the paper's rule as its own arm
("2-GRPO (8eta)") and a random-reward control (2-GRPO whose rewards are coin flips at the task's base
rate, independent of correctness): any gain the control also shows is not due to the reward signal.

Dense evaluation: every run is evaluated at ``eval_points`` fixed fractions of its own steps; the
reference run also at the 2-rollout runs' evaluation steps, so that curves can be compared at equal
optimizer steps as well as at equal epochs, rollouts and CPU seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from grpo_theory.configfields import option
from grpo_theory.llm.config import TrainConfig

#: Name of the reference method that retention, rollout and time ratios are relative to.
REFERENCE = "16-GRPO"
#: The paper's headline figures for 2-GRPO relative to 16-GRPO (v2 abstract / §6.2, see the paper digest):
#: accuracy retained, rollouts used, wall-clock used.
PAPER_CLAIMS = {"retention_pct": 97.6, "rollouts_pct": 12.5, "time_pct": 21.0}
#: Arms of the headline experiment, in table order.
ARMS = ("16-GRPO", "2-GRPO", "2-GRPO (8eta)", "2-GRPO+RS", "online DPO", "2-GRPO random reward")
#: Methods whose learning rate the sweep chooses (the other arms borrow one: see :func:`headline_runs`).
SWEPT = ("16-GRPO", "2-GRPO", "2-GRPO+RS", "online DPO")
#: The random-reward control's P(reward = 1): the start checkpoint's training accuracy at temperature 1
#: (0.24-0.36 in the first steps of the earlier 2-GRPO and 16-GRPO runs on 3-digit addition).
BASE_RATE = 0.3
#: The paper's warm-up: linear over the first 10 optimizer steps.
WARMUP_STEPS = 10


@dataclass(frozen=True)
class Sweep:
    """The learning-rate sweep of a preset (on the validation split, never on test); the batch shapes are
    the preset's."""

    grid_16: tuple[float, ...] = option(help="absolute candidate lrs of 16-GRPO; its choice is eta")
    multipliers: tuple[float, ...] = option(
        (0.5, 1.0, math.sqrt(8.0), 8.0, 16.0), "candidates of every 2-rollout method as multiples of eta; "
        "(1, sqrt 8, 8) are the no-scaling, square-root and linear rules for an 8x larger prompt batch, "
        "1/2 and 16 bracket them")
    train_size: int = option(0, "training prompts of the sweep's (shorter) schedule (0 = the preset's)")
    epochs: int = option(0, "epochs of the sweep's schedule (0 = the preset's)")
    eval_size: int = option(500, "validation problems")


@dataclass(frozen=True)
class Preset:
    """One experiment scale."""

    name: str = option(help="preset name ('quick', 'full', 'paper', 'gpu')")
    description: str = option(help="what it is for and what it costs")
    base: TrainConfig = option(  # noqa: RUF009 (option is dataclasses.field with a help text)
        help="TrainConfig shared by every run (task, data, epochs, evaluation, clip, warm-up, device ...)")
    lr: float = option(help="eta, the 16-GRPO learning rate")
    lrs: Mapping[str, float] = option(
        help="learning rate per swept method (see SWEPT); a method missing here uses the paper's linear "
             "rule (eta for 16-GRPO, 8 eta for the 2-rollout methods)", factory=dict)
    prompts_16: int = option(32, "P, prompts per 16-GRPO mini-batch; 2-GRPO takes 8P")
    seeds: tuple[int, ...] = option((0, 1, 2), "default run seeds")
    pretrain: dict[str, Any] = option(  # noqa: RUF009 (option is dataclasses.field, with a factory)
        help="keyword arguments of PretrainConfig for the start checkpoint (base.policy == 'tiny')",
        factory=dict)
    eval_points: int = option(10, "evaluations per run at fixed fractions of its steps (0 = only at the end)")
    sweep: Sweep | None = option(None, "the learning-rate sweep, or None")  # noqa: RUF009 (a field)
    checkpoint_every: int = option(0, "optimizer steps between resumable checkpoints of each run")

    def with_base(self, **changes: Any) -> Preset:
        return replace(self, base=self.base.replace(**changes))

    def lr_of(self, method: str) -> float:
        """The method's lr: the tuned one when the preset has it, else the paper's linear rule."""
        if method in self.lrs:
            return self.lrs[method]
        return self.lr if method == REFERENCE else 8 * self.lr


# Learning rates chosen on the validation split by `grpo-theory experiment lr_sweep --preset full --seeds 0`
# (results/headline/lr_sweep/summary.json; tests/llm/test_presets.py checks that these equal its choice).
# The full and paper presets share batch shapes, so one sweep serves both.
# Validation Mean@8 (one seed, 500 problems, s.e. ~2 points): 16-GRPO 59.6 / 60.5 / 60.4 / 52.0 / 4.9 at
# 1.25e-5 ... 2e-4; every 2-rollout method peaks at eta itself (2-GRPO 53.1 / 55.0 / 53.1 / 39.5 / 0.4 at
# eta/2, eta, sqrt(8) eta, 8 eta, 16 eta): the linear rule's 8 eta is below the start checkpoint (47.2).
ETA_TUNED = 2.5e-5
TUNED_LRS: dict[str, float] = {"16-GRPO": 2.5e-5, "2-GRPO": 2.5e-5, "2-GRPO+RS": 2.5e-5, "online DPO": 2.5e-5}

#: The quick preset is a pipeline check (256 prompts x 3 epochs: 192 16-GRPO steps of 4 x 16, 24 2-rollout
#: steps of 32 x 2). Its lrs were chosen on the validation split (500 problems, Mean@4, start 45.6%):
#: 16-GRPO 2e-5 -> 55.3, 5e-5 -> 55.0 (1e-4 fell below the start: 48.1 -> 46.0 on the test split);
#: 2-GRPO / 2-GRPO+RS / online DPO at 2e-5 -> 48.0 / 47.8 / 47.7, at 5e-5 -> 46.1 / 48.1 / 44.9, at 1e-4 ->
#: 46.2 / 48.0 / 35.0, at 3e-4 -> 7.0 / 19.4 / 1.7; the 8 eta rule (8e-4) collapses them to ~0%.
ETA_QUICK = 2e-5
QUICK_LRS: dict[str, float] = {"2-GRPO": 2e-5, "2-GRPO+RS": 2e-5, "online DPO": 2e-5}

# Shared by the full and paper presets: P = 4 (64 rollouts per mini-batch for every method; the paper
# has 512, a size this 2-core machine cannot afford at the paper's step count), a generation batch of
# 16P = 64 prompts, 10 epochs, the paper's warm-up, 500 test problems, Mean@8.
_BASE = TrainConfig(rollout_prompts=64, epochs=10, warmup_steps=WARMUP_STEPS, eval_size=500, eval_k=8,
                    threads=1)
#: The sweep's shorter schedule: 512 prompts x 5 epochs (640 / 80 steps), 500 validation problems.
_SWEEP = Sweep(grid_16=(1.25e-5, 2.5e-5, 5e-5, 1e-4, 2e-4), train_size=512, epochs=5)

PRESETS: dict[str, Preset] = {
    "quick": Preset(
        name="quick",
        description="pipeline check: 256 prompts x 3 epochs, 1 seed (a few minutes on 2 CPU cores)",
        base=TrainConfig(train_size=256, epochs=3, rollout_prompts=64, eval_size=500, eval_k=4, threads=1),
        lr=ETA_QUICK,
        lrs=QUICK_LRS,
        prompts_16=4,
        seeds=(0,),
        eval_points=0,
        sweep=Sweep(grid_16=(2e-5, 5e-5), multipliers=(1.0, 8.0), train_size=256, epochs=1),
        checkpoint_every=8,
    ),
    "full": Preset(
        name="full",
        description="for users, on 2 CPU cores: ~1M-parameter model, 3-digit addition, 512 prompts x 10 "
                    "epochs, 4 x 16 / 32 x 2 mini-batches (1280 vs 160 optimizer steps), tuned lrs, 500 test "
                    "problems, 3 seeds",
        base=_BASE.replace(train_size=512),
        lr=ETA_TUNED,
        lrs=TUNED_LRS,
        prompts_16=4,
        sweep=_SWEEP,
        checkpoint_every=32,
    ),
    "paper": Preset(
        name="paper",
        description="the committed headline: the paper's ratios at its step count, 960 prompts x 10 epochs, "
                    "4 x 16 / 32 x 2 mini-batches (2400 vs 300 optimizer steps), tuned lrs, 500 test "
                    "problems, 3 seeds",
        base=_BASE.replace(train_size=960),
        lr=ETA_TUNED,
        lrs=TUNED_LRS,
        prompts_16=4,
        sweep=_SWEEP,
        checkpoint_every=64,
    ),
    "gpu": Preset(
        name="gpu",
        description="a ~14M-parameter model on one CUDA GPU, bf16 autocast, the paper preset's schedule",
        base=_BASE.replace(train_size=960, device="cuda", dtype="bfloat16", threads=0),
        lr=ETA_TUNED,
        lrs=TUNED_LRS,
        prompts_16=4,
        pretrain={"size": "gpu"},
        sweep=_SWEEP,
        checkpoint_every=64,
    ),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[name]


def _fractions(total: int, points: int) -> set[int]:
    """Optimizer steps at k/points of ``total`` (k = 1..points), rounded, at least step 1."""
    return {max(1, round(total * k / points)) for k in range(1, points + 1)} if points else set()


def _steps_str(steps: set[int]) -> str:
    return ",".join(str(s) for s in sorted(steps))


def _method_configs(p: Preset) -> dict[str, TrainConfig]:
    """16-GRPO, 2-GRPO, 2-GRPO+RS and online DPO with the preset's batch shapes (lr not yet set)."""
    b, p2 = p.base, 8 * p.prompts_16
    two = b.replace(loss="two_grpo", group_size=2, prompts_per_step=p2)
    return {
        REFERENCE: b.replace(name=REFERENCE, loss="grpo", group_size=16, prompts_per_step=p.prompts_16),
        "2-GRPO": two.replace(name="2-GRPO"),
        # Budget 8 = 16 / 2: at most 16-GRPO's rollouts per generation batch (the paper's cap).
        "2-GRPO+RS": two.replace(name="2-GRPO+RS", resample=True, resample_budget=8.0),
        "online DPO": two.replace(name="online DPO", loss="online_dpo"),
    }


def headline_runs(p: Preset) -> dict[str, TrainConfig]:
    """Every arm of :data:`ARMS` at equal epochs (the paper's Table 1 setup), with dense evaluation."""
    m = _method_configs(p)
    runs = {name: cfg.replace(lr=p.lr_of(name)) for name, cfg in m.items()}
    runs["2-GRPO (8eta)"] = m["2-GRPO"].replace(name="2-GRPO (8eta)", lr=8 * p.lr)
    runs["2-GRPO random reward"] = m["2-GRPO"].replace(name="2-GRPO random reward", lr=p.lr_of("2-GRPO"),
                                                      reward_mode="random", random_reward_rate=BASE_RATE)
    return _dense_eval({name: runs[name] for name in ARMS}, p)


def _dense_eval(runs: dict[str, TrainConfig], p: Preset) -> dict[str, TrainConfig]:
    """Evaluation at ``p.eval_points`` fractions of each run's steps; 16-GRPO also at 2-GRPO's points."""
    two_steps = _fractions(runs["2-GRPO"].total_steps, p.eval_points)
    out = {}
    for name, cfg in runs.items():
        steps = _fractions(cfg.total_steps, p.eval_points)
        if name == REFERENCE:
            steps |= two_steps  # equal-optimizer-step comparison points
        out[name] = cfg.replace(eval_steps=_steps_str(steps))
    return out


def partial_credit_runs(p: Preset) -> dict[str, TrainConfig]:
    """16-GRPO and 2-GRPO trained on the partial-credit reward (``addition_partial``), evaluated by exact
    match.

    Everything else, the learning rates included, is the headline's, so the binary-reward arms of the
    headline at the same preset are the comparison: does 2-GRPO's rank-only signal (the sign of a reward
    difference) lose more or less against 16-GRPO's magnitude-aware one than under a 0/1 reward?
    """
    m = _method_configs(p.with_base(task="addition_partial"))
    return _dense_eval({name: m[name].replace(lr=p.lr_of(name)) for name in (REFERENCE, "2-GRPO")}, p)


def lr_sweep_runs(p: Preset) -> dict[str, TrainConfig]:
    """Each swept method at each candidate lr on the sweep's schedule, evaluated on the validation split.

    16-GRPO takes ``sweep.grid_16``; the 2-rollout methods take ``sweep.multipliers`` x eta (``p.lr``),
    so the sweep runs in two stages: 16-GRPO first (its choice becomes eta), then the others.
    Run names are ``"<method> lr=<lr>"``.
    """
    if p.sweep is None:
        raise ValueError(f"preset {p.name!r} has no learning-rate sweep")
    s = p.sweep
    shape = {"train_size": s.train_size or p.base.train_size, "epochs": s.epochs or p.base.epochs,
             "eval_split": "validation", "eval_size": s.eval_size}
    runs: dict[str, TrainConfig] = {}
    for method, cfg in _method_configs(p.with_base(**shape)).items():
        grid = s.grid_16 if method == REFERENCE else tuple(f * p.lr for f in s.multipliers)
        for lr in grid:
            name = f"{method} lr={lr:.3g}"
            runs[name] = cfg.replace(name=name, lr=float(f"{lr:.3g}"))
    return runs


def ablation_runs(p: Preset) -> dict[str, TrainConfig]:
    """Group size G in {2, 4, 8, 16} at the same prompts per mini-batch and eta (v3 Table 4 analog)."""
    return {
        f"G={g}": p.base.replace(name=f"G={g}", loss="grpo", group_size=g, prompts_per_step=p.prompts_16,
                                 lr=p.lr)
        for g in (16, 8, 4, 2)
    }


EXPERIMENTS: dict[str, Callable[[Preset], dict[str, TrainConfig]]] = {
    "headline": headline_runs, "ablation": ablation_runs, "lr_sweep": lr_sweep_runs,
    "partial_credit": partial_credit_runs,
}
