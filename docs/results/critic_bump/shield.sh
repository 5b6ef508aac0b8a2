#!/usr/bin/env bash
# Shielded evaluations with the two critics of run.sh: 100 unseen-seed ObjectNav episodes,
# 300 steps, greedy (2026-12-04, sixteenth session). Usage: shield.sh PROPOSER CRITIC_RUN [K]
# e.g. shield.sh expert:careless bump32-a3 3; writes runs/critic/eval_<proposer>_<critic>[_e<K>].json.
# K: --critic-escape-after (default 0: a veto without a clear replacement is a stop).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
proposer=$1 critic=$2 escape=${3:-0}
name=$(basename "$proposer" | tr ':' '-')
suffix=$([ "$escape" = 0 ] && echo "" || echo "_e$escape")
.venv/bin/safevla eval --bundle "$proposer" --task objnav --max-steps 300 --workers 1 \
  --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz --no-progress \
  --shield on --critic "runs/critic/$critic/bundle" --critic-escape-after "$escape" \
  --json "runs/critic/eval_${name}_${critic}${suffix}.json"
