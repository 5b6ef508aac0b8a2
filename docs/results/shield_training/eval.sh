#!/usr/bin/env bash
# (twenty-ninth session) A policy bundle on the ObjectNav sets of issue 12, shielded by the
# shipped critic and unshielded on the same episodes, 600 steps.
# Usage: eval.sh BUNDLE SET [TAG]
#   SET: unseen (objnav_unseen_s20261201), unseen2 (objnav_unseen_s20261202) or longtail (the
#   40 long-tail ObjectNav episodes). Writes docs/results/shield_training/eval_<set>_<name><TAG>.json
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
bundle=$1 set=$2 tag=${3:-}
case $set in
  unseen) eps=(--episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz) ;;
  unseen2) eps=(--episodes sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz) ;;
  longtail) eps=(--episodes longtail --count 40) ;;
  *) echo "unknown set $set" >&2; exit 2 ;;
esac
.venv/bin/safevla eval --bundle "$bundle" --task objnav "${eps[@]}" --max-steps 600 --workers 1 \
  --no-progress --shield both --critic models/safety-critic \
  --json "docs/results/shield_training/eval_${set}_$(basename "$bundle")${tag}.json"
