#!/usr/bin/env bash
# (twenty-third session) Issue 12's settings with one critic of train.sh, two evaluations at a
# time (one per core): the careless expert on the long tail and PickUp (300 steps, as the
# earlier critic tables), every shipped ObjectNav policy on the unseen-seed set and the long
# tail (600 steps, as their unshielded evaluations in docs/results.md). Usage: matrix.sh CRITIC
# [policies]; EXTRA and TAG as in shield.sh ("policies": only the shipped policies' rows).
set -uo pipefail
cd "$(dirname "$0")/../../.."
c=$1 sh=docs/results/critic_joint/shield.sh
jobs=()
[ "${2:-}" = policies ] || jobs+=("expert:careless $c longtail 300" "expert:careless $c pickup 300")
jobs+=(
  "models/objnav-ppo-lag $c unseen 600"
  "models/objnav-ppo-lag $c longtail 600"
  "models/objnav-bc $c unseen 600"
  "models/objnav-ppo $c unseen 600"
  "models/objnav-ppo-penalty $c unseen 600"
  "models/objnav-bc $c longtail 600"
  "models/objnav-ppo $c longtail 600"
  "models/objnav-ppo-penalty $c longtail 600"
)
for j in "${jobs[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 5; done
  set -- $j
  bash $sh $j > "runs/joint/m_$(basename $1 | tr ':' '-')_$3_$2${TAG:-}.log" 2>&1 &
done
wait
echo done > runs/joint/matrix_$c${TAG:-}.done
