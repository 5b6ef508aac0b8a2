#!/usr/bin/env bash
# (forty-third session) The shipped policies' shielded rows run whole at 600 steps with the
# monitor's defaults (they were spliced: docs/results/stall_draw/standing.py), two at a time.
#   bash docs/results/arm_pass/whole_rows.sh OUT_DIR
set -euo pipefail
out=${1:?OUT_DIR}
mkdir -p "$out"
jobs=()
for set_ in unseen2 unseen longtail ltval lt2; do
  for p in objnav-ppo-lag objnav-bc objnav-ppo objnav-ppo-penalty; do
    [[ $set_ == unseen && ( $p == objnav-ppo || $p == objnav-bc ) ]] && continue  # run whole before
    jobs+=("$set_ $p")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 bash -c '
  set_=$0; p=$1; f='"$out"'/eval_${set_}_${p}_600_whole.json
  [[ -s $f ]] && exit 0
  case $set_ in
    unseen) e=sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz ;;
    unseen2) e=sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz ;;
    longtail) e="longtail --count 40" ;;
    ltval) e=longtail-val ;;
    lt2) e=docs/results/longtail_s2/longtail_s2.jsonl.gz ;;
  esac
  .venv/bin/safevla eval --bundle models/$p --task objnav --episodes $e --max-steps 600 \
    --workers 1 --shield on --critic models/safety-critic --json $f.part > $f.log 2>&1 \
    && mv $f.part $f && echo "done $set_ $p"'
