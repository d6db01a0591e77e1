"""The 2-GRPO / 16-GRPO recipes (engine-independent) and the engine adapters' import guard (main venv)."""

import importlib
import importlib.util

import pytest

from grpo_theory.integrations.recipes import (
    BASELINE_PROMPTS,
    Recipe,
    linear_lr,
    sixteen_grpo,
    two_grpo,
    verl_overrides,
)


def test_two_grpo_has_the_baselines_rollouts_with_eight_times_the_prompts():
    base, two = sixteen_grpo(1e-6), two_grpo(8e-6)
    assert (base.group_size, base.prompts_per_step, base.rollouts_per_step) == (16, BASELINE_PROMPTS, 512)
    assert (two.group_size, two.prompts_per_step, two.rollouts_per_step) == (2, 8 * BASELINE_PROMPTS, 512)
    for r in (base, two):
        assert (r.clip_low, r.clip_high, r.warmup_steps, r.epochs) == (0.2, 0.28, 10, 10)
    assert two_grpo(3e-5, baseline_prompts=4).prompts_per_step == 32


def test_learning_rate_is_explicit_and_the_linear_rule_only_offered():
    assert two_grpo(1e-6).learning_rate == 1e-6  # nothing rescales it
    assert linear_lr(1e-6, 32, 256) == pytest.approx(8e-6, rel=1e-15)
    with pytest.raises(TypeError):
        two_grpo()  # type: ignore[call-arg]


def test_generation_batch_is_counted_in_prompts():
    r = two_grpo(8e-6, generation_prompts=512)
    assert r.steps_per_generation == 2
    assert sixteen_grpo(1e-6, generation_prompts=512).steps_per_generation == 16
    assert "data.train_batch_size=512" in verl_overrides(r)
    assert "data.train_batch_size=256" in verl_overrides(two_grpo(8e-6))


@pytest.mark.parametrize("kw, msg", [
    (dict(group_size=1), "group_size must be >= 2"),
    (dict(learning_rate=0.0), "learning_rate must be > 0"),
    (dict(generation_prompts=100), "generation_prompts must be None or a multiple of prompts_per_step=32"),
    (dict(clip_low=1.0), r"clip_low must be in \[0, 1\)"),
])
def test_bad_recipes_fail_with_one_line(kw, msg):
    fields = {"name": "x", "group_size": 16, "prompts_per_step": 32, "learning_rate": 1e-6, **kw}
    with pytest.raises(ValueError, match=msg):
        Recipe(**fields)


@pytest.mark.parametrize("module, extra", [("trl", "trl"), ("verl", "verl")])
def test_adapter_without_its_engine_names_the_extra(module, extra):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here; the guard only fires without it")
    with pytest.raises(ImportError, match=rf"pip install 'grpo_theory\[{extra}\]'"):
        importlib.import_module(f"grpo_theory.integrations.{module}")


def test_recipe_docstring_examples_run():
    import doctest

    from grpo_theory.integrations import recipes

    result = doctest.testmod(recipes)
    assert result.attempted >= 3 and result.failed == 0
