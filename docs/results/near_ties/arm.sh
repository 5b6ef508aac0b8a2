#!/usr/bin/env bash
# One arm of the seventeenth session's near-tie measurement (docs/training.md, "Near-ties"):
# the teacher-only objnav-bc run continued with 4 learner-driven rounds (beta 0.3), exported
# with the shipped gate and evaluated on the 100 unseen-seed episodes at 600 steps. Needs
# runs/s14/base (its checkpoint and regenerated rounds: docs/results/escape/arm.sh says how).
#   docs/results/near_ties/arm.sh accept 12 --set accept_options=true
#   docs/results/near_ties/arm.sh ahead 12 --set bc.expert_mode=explorer-ahead
set -euo pipefail
cd "$(dirname "$0")/../../.."
NAME=$1; ROUNDS=$2; shift 2
OUT=runs/near_ties/$NAME
export MUJOCO_GL=egl OMP_NUM_THREADS=1
if [ ! -d "$OUT" ]; then cp -r runs/s14/base "$OUT"; fi
.venv/bin/safevla train dagger --out "$OUT" --resume --no-progress --no-tensorboard \
  --set rounds="$ROUNDS" --set beta0=0.3 --set beta_decay=1.0 "$@"
.venv/bin/safevla export --checkpoint "$OUT/checkpoint.pt" --out "$OUT/bundle_r$ROUNDS" --end-gate 0.3
.venv/bin/safevla eval --bundle "$OUT/bundle_r$ROUNDS" --task objnav --workers 1 --max-steps 600 \
  --no-progress --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz \
  --json "$OUT/unseen_r$ROUNDS.json"
