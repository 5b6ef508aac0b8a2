#!/usr/bin/env bash
# (twenty-seventh session) Issue 12's settings with the shipped object-scan critic
# (models/safety-critic, o1 in the twenty-sixth session's runs/objscan): every proposer on both
# unseen-seed sets, the long tail and PickUp, two evaluations at a time (one per core). Writes
# runs/objscan/eval_<set>_<proposer>_o1_<steps><TAG>.json; table.py reads them.
# Usage: matrix.sh [TAG]: with the scan as it is now (53 heights, from the twenty-seventh
# session) use TAG=_d53; the proposers whose unshielded figures under the current collision
# rule are already measured (the careless expert and objnav-ppo-lag: this folder's o1 files
# and docs/results/critic_struck's s1h files) run shielded only, the others both.
set -uo pipefail
cd "$(dirname "$0")/../../.."
tag=${1:-}
mkdir -p runs/objscan/o1
[ -e runs/objscan/o1/bundle ] || ln -s "$PWD/models/safety-critic" runs/objscan/o1/bundle
sh=docs/results/critic_joint/shield.sh
jobs=(
  "expert:careless o1 unseen2 300 on"
  "models/objnav-ppo-lag o1 unseen2 600 on"
  "expert:careless o1 unseen 300 on"
  "models/objnav-ppo-lag o1 unseen 600 on"
  "expert:careless o1 longtail 300 on"
  "models/objnav-ppo-lag o1 longtail 600 on"
  "expert:careless o1 pickup 300 on"
  "models/objnav-bc o1 unseen 600 both"
  "models/objnav-ppo o1 unseen 600 both"
  "models/objnav-ppo-penalty o1 unseen 600 both"
  "models/objnav-bc o1 longtail 600 both"
  "models/objnav-ppo o1 longtail 600 both"
  "models/objnav-ppo-penalty o1 longtail 600 both"
)
for j in "${jobs[@]}"; do
  set -- $j
  out=runs/objscan/eval_$3_$(basename "$1" | tr ':' '-')_$2_$4$tag.json
  [ -s "$out" ] && continue
  while [ "$(jobs -rp | wc -l)" -ge "${PAR:-2}" ]; do sleep 5; done
  TAG=$tag RJ=runs/objscan bash $sh $j > "runs/objscan/m_$(basename "$1" | tr ':' '-')_$3$tag.log" 2>&1 &
done
wait
echo done > runs/objscan/matrix$tag.done
