#!/usr/bin/env bash
# (forty-fifth session) Run the job lines of jobs_SEED.txt two at a time; a chunk whose output
# is complete, or under way (its .part file exists), is skipped, so a stopped run resumes (after
# removing the .part files it left) and a second runner can take the same list in another order.
#   bash docs/results/replacement_seed/run.sh docs/results/replacement_seed/jobs_1.txt
set -euo pipefail
export MUJOCO_GL=egl OMP_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
one() {  # BUNDLE EPISODES I,J,... SEED OUT
  { [ -s "$5" ] || [ -e "$5.part" ]; } && return 0
  mkdir -p "$(dirname "$5")"
  : > "$5.part"  # claimed
  "$PY" docs/results/replacement_seed/seeded.py "$1" "$2" models/safety-critic 600 "$3" "$4" "$5.part" 2>"$5.err" || return 1
  rm "$5.err"
  mv "$5.part" "$5"
  echo "$(date +%T) $5"
}
export -f one
export PY
xargs -P "${JOBS:-2}" -L 1 bash -c 'one "$@"' _ < "$1"
