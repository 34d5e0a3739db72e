#!/usr/bin/env bash
# Compile-checks the CUDA kernels of detnas without a GPU (DESIGN.md §5).
#
#   1. every .cu file under detnas/ is compiled with `nvcc -c` for sm_80 and sm_90
#      (the .cu files include no torch headers, so a CPU-only machine with nvcc can do this);
#   2. every ATen launcher .cpp under a csrc/cuda/ folder is syntax-checked with the C++
#      compiler against the installed torch's headers plus the CUDA headers (skipped when
#      torch is not importable). A CPU torch lacks c10/cuda/impl/cuda_cmake_macros.h, so an
#      empty stand-in is generated in a temporary folder.
#
# Exits 0 when nvcc is absent (nothing to check; says so), non-zero on any failure.
# Environment: NVCC (default: nvcc on PATH), PYTHON (default: .venv/bin/python, else python3),
#              ARCHS (default: "sm_80 sm_90").
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NVCC="${NVCC:-$(command -v nvcc || true)}"
ARCHS="${ARCHS:-sm_80 sm_90}"
if [ -z "$NVCC" ]; then
  echo "[check_cuda_compile] nvcc not found: skipping the CUDA compile check"
  exit 0
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
fail=0
mapfile -t CU < <(cd "$ROOT" && find detnas -name '*.cu' | sort)
if [ "${#CU[@]}" -eq 0 ]; then
  echo "[check_cuda_compile] no .cu files found under detnas/" >&2
  exit 1
fi
for f in "${CU[@]}"; do
  for arch in $ARCHS; do
    start=$(date +%s)
    if "$NVCC" -c -std=c++17 -O3 -arch="$arch" "$ROOT/$f" -o "$TMP/$(basename "$f").$arch.o"; then
      echo "[check_cuda_compile] ok    $f ($arch, $(( $(date +%s) - start )) s)"
    else
      echo "[check_cuda_compile] FAIL  $f ($arch)" >&2
      fail=1
    fi
  done
done

PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3 || true)"
TORCH_DIR="$([ -n "$PY" ] && "$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null || true)"
CXX="${CXX:-$(command -v g++ || command -v c++ || true)}"
CUDA_INC=""
for d in "${CUDA_HOME:-/nonexistent}/include" "$(dirname "$(dirname "$(readlink -f "$NVCC")")")/include" \
         /usr/local/cuda/include; do
  if [ -f "$d/cuda_runtime_api.h" ]; then CUDA_INC="$d"; break; fi
done
if [ -n "$TORCH_DIR" ] && [ -n "$CXX" ] && [ -n "$CUDA_INC" ]; then
  mkdir -p "$TMP/stub/c10/cuda/impl"
  echo '#pragma once' > "$TMP/stub/c10/cuda/impl/cuda_cmake_macros.h"
  mapfile -t LAUNCHERS < <(cd "$ROOT" && find detnas -path '*csrc/cuda/*.cpp' | sort)
  for f in "${LAUNCHERS[@]}"; do
    if "$CXX" -std=c++20 -fsyntax-only -I"$TMP/stub" -I"$TORCH_DIR/include" \
        -I"$TORCH_DIR/include/torch/csrc/api/include" -I"$CUDA_INC" "$ROOT/$f"; then
      echo "[check_cuda_compile] ok    $f (syntax, host compiler)"
    else
      echo "[check_cuda_compile] FAIL  $f (syntax, host compiler)" >&2
      fail=1
    fi
  done
else
  echo "[check_cuda_compile] torch, a C++ compiler or the CUDA headers not found:" \
    "launcher syntax check skipped"
fi
exit $fail
