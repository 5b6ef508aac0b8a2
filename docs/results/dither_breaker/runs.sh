#!/usr/bin/env bash
# (forty-sixth session) Run the job lines of a list (BUNDLE EPISODES I,J,... SHIELD AFTER HOLD
# OUT) two at a time through breaker.py; a chunk whose output exists, or is under way (.part),
# is skipped, so a stopped run resumes after removing the .part files it left. JOB (a JSON
# object) sets more Job fields, e.g. JOB='{"critic_seed": 1}'.
#   bash docs/results/dither_breaker/runs.sh runs/s46/jobs_brk6.txt
set -euo pipefail
export MUJOCO_GL=egl OMP_NUM_THREADS=1 PYTHONPATH=.
one() {
  { [ -s "$7" ] || [ -e "$7.part" ]; } && return 0
  mkdir -p "$(dirname "$7")"
  : > "$7.part"
  .venv/bin/python docs/results/dither_breaker/breaker.py "$1" "$2" models/safety-critic 600 \
    "$3" "$4" "$5" "$6" "$7.part" 2>"$7.err" || return 1
  rm "$7.err"
  mv "$7.part" "$7"
  echo "$(date +%T) $7"
}
export -f one
xargs -P "${JOBS:-2}" -L 1 bash -c 'one "$@"' _ < "$1"
