#!/usr/bin/env bash
# The eleventh session's PickUp imitation cell (careful teacher driving, 20k frames, both
# cameras, frozen encoder), optionally with more --set flags; then export and the 100
# unseen-seed PickUp episodes at 600 steps.  Usage: pick.sh NAME [--set ...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
NAME=$1; shift
OUT=runs/pickup_proprio/$NAME
export MUJOCO_GL=egl OMP_NUM_THREADS=1
.venv/bin/safevla train dagger --out "$OUT" --no-progress --no-tensorboard --set rounds=4 --set beta_decay=1.0 \
  --set eval_episodes=0 --set bc.demo_steps=5000 --set bc.demo_max_steps=200 --set bc.updates=200 \
  --set bc.batch_chunks=32 --set bc.chunk_len=32 --set bc.env.num_envs=4 \
  --set 'bc.env.tasks=[pickup]' --set bc.env.render_manip=true --set bc.model.context_length=32 \
  --set bc.model.encoder=efficientnet_lite0 --set bc.model.camera=nav_rgb+manip_rgb \
  --set bc.model.image_width=128 --set bc.expert_mode=careful --set 'bc.end_relabel_tasks=[pickup]' "$@"
.venv/bin/safevla export --checkpoint "$OUT/checkpoint.pt" --out "$OUT/bundle" --name "pickup-$NAME"
.venv/bin/safevla eval --bundle "$OUT/bundle" --task pickup --workers 1 --no-progress \
  --episodes sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz --max-steps 600 \
  --json "$OUT/unseen.json"
