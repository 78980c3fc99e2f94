#!/bin/sh
# Installs this project for a CI job: torch 2.13.0 first, from TORCH_INDEX (default: PyTorch's
# CPU wheel index; on Linux x86-64 the default PyPI build is a multi-GB CUDA one), its wheels kept
# in TORCH_WHEELS (a folder the workflow caches between runs), then the project in editable mode
# with the extras given (default: bench,analysis). Runs the same on a laptop.
#   sh scripts/ci/install.sh [EXTRAS]
set -eu
cd "$(dirname "$0")/../.."
extras="${1:-bench,analysis}"
index="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
wheels="${TORCH_WHEELS:-$HOME/.cache/birnn-torch-wheels}"
torch="torch==2.13.0"
mkdir -p "$wheels"
# Downloads only what the folder lacks; the install then needs no index.
python -m pip download --quiet --dest "$wheels" --index-url "$index" "$torch"
python -m pip install --quiet --no-index --find-links "$wheels" "$torch"
python -m pip install --quiet -e ".[$extras]"
python -c "import torch; print('install: torch', torch.__version__, 'cuda', torch.version.cuda)"
