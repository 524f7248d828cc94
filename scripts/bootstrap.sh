#!/usr/bin/env bash
# Create ./.venv (if missing) and install gracefuse with its test tools.
# torch==2.13.0 is installed first: on these machines it is a local CPU wheel, and asking
# for any other version would pull gigabytes of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test,download,era5]"
echo "gracefuse installed in $(pwd)/.venv"
