#!/usr/bin/env bash
# (twenty-second session) Shielded evaluations with the two critics of run.sh, as in
# docs/results/critic_bump/shield.sh: 100 unseen-seed ObjectNav episodes, 300 steps, greedy.
# Usage: shield.sh PROPOSER CRITIC [SHIELD]; writes runs/critic32/eval_<proposer>_<critic>.json.
# SHIELD: on (default) or both (the proposer unshielded too, on the same episodes).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
proposer=$1 critic=$2 shield=${3:-on}
name=$(basename "$proposer" | tr ':' '-')
.venv/bin/safevla eval --bundle "$proposer" --task objnav --max-steps 300 --workers 1 \
  --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz --no-progress \
  --shield "$shield" --critic "runs/critic32/$critic/bundle" \
  --json "runs/critic32/eval_${name}_${critic}.json"
