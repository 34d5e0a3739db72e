#!/usr/bin/env bash
# Sets up the environment (idempotent) and runs the main job on the embedded default:
# the README's first command.
#
#   bash tools/run_demo.sh [tools/demo.py options, e.g. --work-dir DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
exec "${DETNAS_VENV:-$ROOT/.venv}/bin/python" tools/demo.py "$@"
