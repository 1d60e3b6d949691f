#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with CPU torch (no CUDA download) and imcnas + dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch 2.13.0 CPU lies on this machine's disk; constraints.txt pins it so nothing pulls a CUDA build.
.venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
# aihwkit (the accuracy cross-check) without its declared torchvision, which cannot load beside CPU torch here
.venv/bin/python -m pip install -q --no-deps aihwkit==1.1.0
.venv/bin/python -m pip uninstall -q -y torchvision 2>/dev/null || true
.venv/bin/imcnas --help >/dev/null
echo "imcnas is set up: source .venv/bin/activate"
