#!/usr/bin/env bash
# (twenty-third session) A shielded evaluation with a critic of train.sh.
# Usage: shield.sh PROPOSER CRITIC SET STEPS [SHIELD]
#   SET: unseen (the 100 episodes of objnav_unseen_s20261201), unseen2 (the 100 of
#   objnav_unseen_s20261202, added the twenty-fourth session), longtail (the 40 long-tail
#   ObjectNav episodes), longtail_val (the 40 of the long-tail set to tune on, thirty-eighth
#   session) or pickup (the 100 of pickup_unseen_s20261203); SHIELD: on (default)
#   or both (the proposer unshielded too, on the same episodes).
# Writes runs/joint/eval_<set>_<proposer>_<critic>_<steps><TAG>.json; EXTRA: more
# `safevla eval` options (e.g. EXTRA="--critic-margin 1.0" TAG=_m1); RJ: another runs folder
# for the critic and the result (twenty-fifth session: RJ=runs/struck).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
proposer=$1 critic=$2 set=$3 steps=$4 shield=${5:-on} rj=${RJ:-runs/joint}
case $set in
  unseen) eps=(--task objnav --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz) ;;
  unseen2) eps=(--task objnav --episodes sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz) ;;
  longtail) eps=(--task objnav --episodes longtail --count 40) ;;
  longtail_val) eps=(--task objnav --episodes longtail-val) ;;
  pickup) eps=(--task pickup --episodes sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz) ;;
  *) echo "unknown set $set" >&2; exit 2 ;;
esac
name=$(basename "$proposer" | tr ':' '-')
.venv/bin/safevla eval --bundle "$proposer" "${eps[@]}" --max-steps "$steps" --workers 1 \
  --no-progress --shield "$shield" --critic "$rj/$critic/bundle" ${EXTRA:-} \
  --json "$rj/eval_${set}_${name}_${critic}_${steps}${TAG:-}.json"
