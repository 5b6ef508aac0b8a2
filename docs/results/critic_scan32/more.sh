#!/usr/bin/env bash
# (twenty-second session) The scan + long-tail critic on the issue's other two settings, 300
# steps, greedy: the careless expert on the 40 long-tail episodes and on the 100 unseen-seed
# PickUp episodes (side by side, one core each). Writes runs/critic32/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
C=(--bundle expert:careless --max-steps 300 --workers 1 --no-progress --shield on
   --critic runs/critic32/scan-lt/bundle)
.venv/bin/safevla eval "${C[@]}" --task objnav --episodes longtail \
  --json runs/critic32/eval_longtail_careless_scan-lt.json > runs/critic32/lt_eval.log 2>&1 &
.venv/bin/safevla eval "${C[@]}" --task pickup \
  --episodes sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz \
  --json runs/critic32/eval_pickup_careless_scan-lt.json > runs/critic32/pickup_eval.log 2>&1 &
wait
