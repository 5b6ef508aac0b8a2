#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite: lint, unit, multi-process ROS 2, CLI smoke.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" or scripts/test.sh test/ros
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
VENV=${SAFEVLA_VENV:-$ROOT/.venv}
cd "$ROOT"
export MUJOCO_GL=${MUJOCO_GL:-egl}
echo "[test] ruff check"
"$VENV/bin/ruff" check --quiet .
echo "[test] pytest"
exec "$VENV/bin/python" -m pytest "$@"
