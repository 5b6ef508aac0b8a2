#!/usr/bin/env bash
# (twenty-seventh session) Issue 12's settings with the shipped object-scan critic
# (models/safety-critic, o1 in the twenty-sixth session's runs/objscan): every proposer on both
# unseen-seed sets, the long tail and PickUp, each shielded and unshielded on the same episodes
# (shield.sh ... both), two evaluations at a time (one per core). Writes
# runs/objscan/eval_<set>_<proposer>_o1_<steps>.json; table.py reads them.
set -uo pipefail
cd "$(dirname "$0")/../../.."
mkdir -p runs/objscan/o1
[ -e runs/objscan/o1/bundle ] || ln -s "$PWD/models/safety-critic" runs/objscan/o1/bundle
sh=docs/results/critic_joint/shield.sh
jobs=(
  "expert:careless o1 unseen2 300"
  "models/objnav-ppo-lag o1 unseen2 600"
  "expert:careless o1 unseen 300"
  "models/objnav-ppo-lag o1 unseen 600"
  "expert:careless o1 longtail 300"
  "models/objnav-ppo-lag o1 longtail 600"
  "models/objnav-bc o1 unseen 600"
  "models/objnav-ppo o1 unseen 600"
  "models/objnav-ppo-penalty o1 unseen 600"
  "models/objnav-bc o1 longtail 600"
  "models/objnav-ppo o1 longtail 600"
  "models/objnav-ppo-penalty o1 longtail 600"
  "expert:careless o1 pickup 300"
)
for j in "${jobs[@]}"; do
  set -- $j
  out=runs/objscan/eval_$3_$(basename "$1" | tr ':' '-')_$2_$4.json
  [ -s "$out" ] && continue
  while [ "$(jobs -rp | wc -l)" -ge "${PAR:-2}" ]; do sleep 5; done
  RJ=runs/objscan bash $sh $j both > "runs/objscan/m_$(basename "$1" | tr ':' '-')_$3.log" 2>&1 &
done
wait
echo done > runs/objscan/matrix.done
