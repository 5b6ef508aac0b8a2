#!/usr/bin/env bash
# The explored-map arm (docs/training.md, "The explored map as an input"): the teacher-only
# objnav-bc run, its eight rounds re-collected with the map recorded, continued with
# learner-driven rounds (beta 0.3) by a policy that reads the map, exported and evaluated on the
# 100 unseen-seed episodes: the plain arm's schedule (docs/results/escape/arm.sh plain 12).
# First, once (~10 min):
#   MUJOCO_GL=egl .venv/bin/python docs/results/escape/regen.py \
#       runs/s14/base/checkpoint.pt runs/s18/xbase --explored
# then: docs/results/explored/arm.sh map 12   (runs/s18/map; again with 16 to go on)
set -euo pipefail
NAME=$1; ROUNDS=$2; shift 2
BASE=runs/s18/xbase exec "$(dirname "$0")/../escape/arm.sh" "$NAME" "$ROUNDS" \
  --set bc.model.explored_input=true --set bc.env.explored_map=true "$@"
