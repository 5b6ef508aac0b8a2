#!/usr/bin/env bash
# (twenty-seventh session) Issue 12's settings with the shipped object-scan critic
# (models/safety-critic, o1 in the twenty-sixth session's runs/objscan): every proposer on both
# unseen-seed sets, the long tail and PickUp, two evaluations at a time (one per core). Writes
# runs/objscan/eval_<set>_<proposer>_o1_<steps><TAG>.json; table.py reads them.
# Usage: matrix.sh [TAG]: with the scan as it is now (53 heights, from the twenty-seventh
# session) use TAG=_d53; the proposers whose unshielded figures under the current collision
# rule are already measured (the careless expert and objnav-ppo-lag: this folder's o1 files
# and docs/results/critic_struck's s1h files) run shielded only, the others both.
# C / RJ: another critic (RJ/C/bundle, default o1 in runs/objscan: models/safety-critic);
# the twenty-seventh session's retrained critic: C=d1 RJ=runs/dense.
set -uo pipefail
cd "$(dirname "$0")/../../.."
tag=${1:-} c=${C:-o1} rj=${RJ:-runs/objscan}
mkdir -p $rj/$c
[ -e $rj/o1/bundle ] || [ "$c" != o1 ] || ln -s "$PWD/models/safety-critic" $rj/o1/bundle
sh=docs/results/critic_joint/shield.sh
jobs=(
  "expert:careless $c unseen2 300 on"
  "models/objnav-ppo-lag $c unseen2 600 on"
  "expert:careless $c longtail 300 on"
  "models/objnav-ppo-lag $c longtail 600 on"
  "expert:careless $c unseen 300 on"
  "models/objnav-ppo-lag $c unseen 600 on"
  "expert:careless $c pickup 300 on"
  "models/objnav-bc $c unseen 600 both"
  "models/objnav-ppo $c unseen 600 both"
  "models/objnav-ppo-penalty $c unseen 600 both"
  "models/objnav-bc $c longtail 600 both"
  "models/objnav-ppo $c longtail 600 both"
  "models/objnav-ppo-penalty $c longtail 600 both"
)
for j in "${jobs[@]}"; do
  set -- $j
  out=$rj/eval_$3_$(basename "$1" | tr ':' '-')_$2_$4$tag.json
  [ -s "$out" ] && continue
  while [ "$(jobs -rp | wc -l)" -ge "${PAR:-2}" ]; do sleep 5; done
  TAG=$tag RJ=$rj bash $sh $j > "$rj/m_$(basename "$1" | tr ':' '-')_$3$tag.log" 2>&1 &
done
wait
echo done > $rj/matrix_$c$tag.done
