#!/bin/bash
# after training: choose on validation (100 episodes, 600 steps), export, evaluate on the unseen seeds
cd "$(dirname "$0")/../../.."  # the repository root
export MUJOCO_GL=egl OMP_NUM_THREADS=1
for r in ppo lag; do
  ( .venv/bin/safevla select --run runs/s15/$r --count 100 --no-progress > runs/s15/select_$r.log 2>&1 &&
    .venv/bin/safevla export --checkpoint runs/s15/$r/checkpoint_selected.pt --out runs/s15/bundle_$r > runs/s15/export_$r.log 2>&1 &&
    .venv/bin/safevla eval --bundle runs/s15/bundle_$r --task objnav --workers 1 --max-steps 600 --no-progress \
      --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz --json runs/s15/unseen_$r.json > runs/s15/eval_$r.log 2>&1 ) &
done
wait
