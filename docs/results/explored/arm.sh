#!/usr/bin/env bash
# The explored-map arm (docs/training.md, "The explored map as an input"): the teacher-only
# objnav-bc run, its eight rounds re-collected with the map recorded, continued with
# learner-driven rounds (beta 0.3) by a policy that reads the map, then exported with the
# shipped gate and evaluated on the 100 unseen-seed episodes. The same schedule as the
# fourteenth session's plain arm (docs/results/escape/arm.sh plain 12).
# First, once (~10 min):
#   MUJOCO_GL=egl .venv/bin/python docs/results/explored/regen.py \
#       runs/s14/base/checkpoint.pt runs/s18/xbase
# then:
#   docs/results/explored/arm.sh map 12
set -euo pipefail
cd "$(dirname "$0")/../../.."
NAME=$1; ROUNDS=$2; shift 2
OUT=runs/s18/$NAME
export MUJOCO_GL=egl OMP_NUM_THREADS=1
if [ ! -d "$OUT" ]; then cp -r runs/s18/xbase "$OUT"; fi
.venv/bin/safevla train dagger --out "$OUT" --resume --no-progress --no-tensorboard \
  --set rounds="$ROUNDS" --set beta0=0.3 --set beta_decay=1.0 \
  --set bc.model.explored_input=true --set bc.env.explored_map=true "$@"
.venv/bin/safevla export --checkpoint "$OUT/checkpoint.pt" --out "$OUT/bundle_r$ROUNDS" --end-gate 0.3
.venv/bin/safevla eval --bundle "$OUT/bundle_r$ROUNDS" --task objnav --workers 1 --max-steps 600 \
  --no-progress --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz \
  --json "$OUT/unseen_r$ROUNDS.json"
