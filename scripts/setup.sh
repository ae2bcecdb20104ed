#!/usr/bin/env bash
# Create .venv and install the project with its dev tools, then install and build the browser
# client (scripts/setup-frontend.sh). Idempotent: reinstalls Python packages only when
# pyproject.toml changed since the last successful install, npm packages only when
# frontend/package-lock.json changed, and rebuilds frontend/dist only when its sources changed.
# llama-cpp-python compiles from source the first time (about 5 minutes on 2 cores); pip caches
# the wheel, so later installs are quick. `--python-only` skips the browser client (what lint and
# type checks need).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip wheel
  # The CPU build of torch first (a wheel on local disk here): a bare `torch` requirement would
  # otherwise resolve to the newest CUDA build, gigabytes of GPU libraries.
  .venv/bin/python -m pip install --quiet torch==2.13.0
  # Portable llama.cpp build (AVX2/FMA, no -march=native) so a cached wheel runs on any x86-64
  # host.
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" .venv/bin/python -m pip install --quiet -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
  echo "setup: environment ready in .venv"
fi
[ "${1:-}" = "--python-only" ] || scripts/setup-frontend.sh
