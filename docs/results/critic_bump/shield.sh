#!/usr/bin/env bash
# Shielded evaluations with the two critics of run.sh: 100 unseen-seed ObjectNav episodes,
# 300 steps, greedy (2026-12-04, sixteenth session). Usage: shield.sh PROPOSER CRITIC_RUN
# e.g. shield.sh expert:careless bump32; writes runs/critic/eval_<proposer>_<critic>.json.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
proposer=$1 critic=$2
name=$(basename "$proposer" | tr ':' '-')
.venv/bin/safevla eval --bundle "$proposer" --task objnav --max-steps 300 --workers 1 \
  --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz --no-progress \
  --shield on --critic "runs/critic/$critic/bundle" \
  --json "runs/critic/eval_${name}_${critic}.json"
