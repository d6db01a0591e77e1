#!/usr/bin/env bash
# Builds .venv-crosscheck: verl, TRL and accelerate next to our package, for tests/crosscheck,
# the engine adapters in grpo_theory/integrations and the peer benchmark (make crosscheck, make bench).
# Its own venv because verl pins transformers/tensordict ranges the main venv need not follow.
# Idempotent: a stamp named after the pins marks a finished install; rerunning with it present does nothing,
# and an interrupted install (no stamp) is simply resumed by pip on the next run.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-crosscheck
TORCH_VERSION=2.13.0
VERL_VERSION=0.9.1
TRL_VERSION=1.16.0
ACCELERATE_VERSION=1.15.0
# Bump SETUP_REV when the package list below changes, so existing venvs are brought up to date.
SETUP_REV=2
STAMP="$VENV/.installed-r$SETUP_REV-torch$TORCH_VERSION-verl$VERL_VERSION-trl$TRL_VERSION-accelerate$ACCELERATE_VERSION"

if [[ -f "$STAMP" && -x "$VENV/bin/python" ]]; then
    exit 0
fi
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# The pinned CPU wheel first, so that nothing below pulls a multi-GB CUDA build of torch.
"$VENV/bin/pip" install -q "torch==$TORCH_VERSION"
# torch is repeated so that the resolver keeps the wheel installed above. cachetools, uvicorn and fastapi:
# verl.trainer.ppo.ray_trainer (compute_advantage) imports them without declaring them.
"$VENV/bin/pip" install -q "torch==$TORCH_VERSION" "verl==$VERL_VERSION" "trl==$TRL_VERSION" \
    "accelerate==$ACCELERATE_VERSION" pytest hypothesis tqdm cachetools uvicorn fastapi
# Our package without its own dependency set (the losses need only torch; the adapters need what TRL brings).
"$VENV/bin/pip" install -q --no-deps -e .
"$VENV/bin/python" -c "import verl, trl, accelerate, torch; print('crosscheck venv: verl', verl.__version__, 'trl', trl.__version__, 'accelerate', accelerate.__version__, 'torch', torch.__version__)"
rm -f "$VENV"/.installed-*
touch "$STAMP"
