#!/usr/bin/env bash
# PickUp with the careless expert, unshielded and shielded by a critic of run.sh: the 100
# episodes of pickup_unseen_s20261203, 300 steps, greedy (2026-12-04, seventeenth session).
# Usage: pickup.sh off | pickup.sh CRITIC_RUN [K]   (e.g. pickup.sh bump32-a3 3)
# Writes runs/critic/pickup_careless_<off|CRITIC_RUN>[_e<K>].json.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
critic=$1 escape=${2:-0}
args=(--bundle expert:careless --task pickup --max-steps 300 --workers 1 --no-progress
  --episodes sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz)
if [ "$critic" = off ]; then
  .venv/bin/safevla eval "${args[@]}" --json runs/critic/pickup_careless_off.json
else
  suffix=$([ "$escape" = 0 ] && echo "" || echo "_e$escape")
  .venv/bin/safevla eval "${args[@]}" --shield on --critic "runs/critic/$critic/bundle" \
    --critic-escape-after "$escape" --json "runs/critic/pickup_careless_${critic}${suffix}.json"
fi
