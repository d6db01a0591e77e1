#!/usr/bin/env bash
# Builds .venv-crosscheck: verl and TRL next to our package, for tests/crosscheck (make crosscheck).
# Its own venv because verl pins transformers/tensordict ranges the main venv need not follow.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-crosscheck
VERL_VERSION=0.9.1
TRL_VERSION=1.16.0
STAMP="$VENV/.installed-verl$VERL_VERSION-trl$TRL_VERSION"

if [[ -f "$STAMP" ]]; then
    exit 0
fi
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# The pinned CPU wheel first, so that nothing below pulls a multi-GB CUDA build of torch.
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q "verl==$VERL_VERSION" "trl==$TRL_VERSION" "torch==2.13.0" pytest hypothesis
# Our package without its own dependency set (the losses need only torch).
"$VENV/bin/pip" install -q --no-deps -e .
"$VENV/bin/python" -c "import verl, trl, torch; print('crosscheck venv: verl', verl.__version__, 'trl', trl.__version__, 'torch', torch.__version__)"
touch "$STAMP"
