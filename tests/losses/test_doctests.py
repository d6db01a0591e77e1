"""Runs the docstring examples of grpo_theory.losses (numbers there are checked by hand)."""

import doctest
import importlib

import pytest

MODULES = [
    "advantages",
    "aggregate",
    "contrastive",
    "dpo",
    "grpo",
    "kl",
    "surrogate",
    "surrogate_variants",
    "variant_losses",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"grpo_theory.losses.{name}")
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0, f"{name} has no docstring examples"
    assert res.failed == 0
