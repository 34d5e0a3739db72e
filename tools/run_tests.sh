#!/usr/bin/env bash
# Sets up the environment (idempotent) and runs the test suite: the README's test command.
#
#   bash tools/run_tests.sh [PYTEST_ARGS...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
bash tools/check_cuda_compile.sh
exec "${DETNAS_VENV:-$ROOT/.venv}/bin/python" -m pytest -q "${@:-tests}"
