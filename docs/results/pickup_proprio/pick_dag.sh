#!/usr/bin/env bash
# The proprio PickUp cell continued with 4 learner-driven rounds (beta 0.3), then exported
# with the holding gate and evaluated on the 100 unseen-seed PickUp episodes (600 steps).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=runs/pickup_proprio/proprio_dag
export MUJOCO_GL=egl OMP_NUM_THREADS=1
# start from the proprio cell of pick.sh (its checkpoint and rounds)
if [ ! -d "$OUT" ]; then mkdir -p "$OUT" && cp -r runs/pickup_proprio/proprio/checkpoint.pt runs/pickup_proprio/proprio/data "$OUT"/; fi
.venv/bin/safevla train dagger --out "$OUT" --resume --no-progress --no-tensorboard \
  --set rounds=8 --set beta0=0.3 --set beta_decay=1.0
.venv/bin/safevla export --checkpoint "$OUT/checkpoint.pt" --out "$OUT/bundle_hold" --name pickup-proprio-dag --end-needs-holding
.venv/bin/safevla eval --bundle "$OUT/bundle_hold" --task pickup --workers 1 --no-progress \
  --episodes sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz --max-steps 600 --json "$OUT/unseen_hold.json"
