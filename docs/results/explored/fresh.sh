#!/usr/bin/env bash
# The explored map from the start (docs/training.md, "The explored map as an input"): the
# shipped objnav-bc recipe (models/objnav-bc/command.txt: 8 teacher-only rounds of 5,000 frames,
# the explorer-reactive teacher) with model.explored_input, then learner-driven rounds (beta
# 0.3) as in the plain arm (docs/results/escape/arm.sh), exported and evaluated on the 100
# unseen-seed episodes after rounds 12 and 16. One core, ~50 min.
#   docs/results/explored/fresh.sh runs/s18/fresh
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=$1
export MUJOCO_GL=egl OMP_NUM_THREADS=1
COMMON=(--no-progress --no-tensorboard)
if [ ! -f "$OUT/checkpoint.pt" ]; then
  .venv/bin/safevla train dagger --out "$OUT" "${COMMON[@]}" --set rounds=8 --set beta_decay=1.0 \
    --set eval_episodes=0 --set bc.demo_steps=5000 --set bc.demo_max_steps=300 \
    --set bc.updates=200 --set bc.batch_chunks=32 --set bc.chunk_len=64 --set bc.env.num_envs=4 \
    --set bc.model.encoder=efficientnet_lite0 --set bc.model.goal_head=true \
    --set bc.model.seen_head=true --set bc.expert_mode=explorer-reactive \
    --set bc.model.target_readout=true --set bc.model.prev_action_input=false \
    --set bc.model.detector=models/objnav-detector/detector.pt --set bc.model.context_length=64 \
    --set bc.model.explored_input=true --set bc.env.explored_map=true
fi
for ROUNDS in 12 16; do
  .venv/bin/safevla train dagger --out "$OUT" --resume "${COMMON[@]}" \
    --set rounds="$ROUNDS" --set beta0=0.3 --set beta_decay=1.0
  .venv/bin/safevla export --checkpoint "$OUT/checkpoint.pt" --out "$OUT/bundle_r$ROUNDS" \
    --end-gate 0.3
  .venv/bin/safevla eval --bundle "$OUT/bundle_r$ROUNDS" --task objnav --workers 1 \
    --max-steps 600 --no-progress \
    --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz \
    --json "$OUT/unseen_r$ROUNDS.json"
done
