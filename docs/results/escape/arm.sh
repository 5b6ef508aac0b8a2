#!/usr/bin/env bash
# One arm of the fourteenth session's DAgger continuation (docs/training.md, "A teacher that
# gets out of contact"): the teacher-only objnav-bc run continued with learner-driven rounds
# (beta 0.3), then exported with the shipped gate and evaluated on the 100 unseen-seed episodes.
# First, once: re-collect the run's eight teacher-only rounds next to its checkpoint
#   MUJOCO_GL=egl .venv/bin/python docs/results/escape/regen.py \
#       models/train_state/objnav-bc.pt runs/s14/base
# then, one core each:
#   docs/results/escape/arm.sh plain 12
#   docs/results/escape/arm.sh escape 12 --set bc.expert_mode=explorer-reactive+escape \
#       --set bc.model.bump_input=true
# BASE (default runs/s14/base) is the run folder an arm starts as a copy of, next to it.
set -euo pipefail
cd "$(dirname "$0")/../../.."
NAME=$1; ROUNDS=$2; shift 2
BASE=${BASE:-runs/s14/base}
OUT=$(dirname "$BASE")/$NAME
export MUJOCO_GL=egl OMP_NUM_THREADS=1
if [ ! -d "$OUT" ]; then cp -r "$BASE" "$OUT"; fi
.venv/bin/safevla train dagger --out "$OUT" --resume --no-progress --no-tensorboard \
  --set rounds="$ROUNDS" --set beta0=0.3 --set beta_decay=1.0 "$@"
.venv/bin/safevla export --checkpoint "$OUT/checkpoint.pt" --out "$OUT/bundle_r$ROUNDS" --end-gate 0.3
.venv/bin/safevla eval --bundle "$OUT/bundle_r$ROUNDS" --task objnav --workers 1 --max-steps 600 \
  --no-progress --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz \
  --json "$OUT/unseen_r$ROUNDS.json"
