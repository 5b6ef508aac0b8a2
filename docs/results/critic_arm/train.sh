#!/usr/bin/env bash
# (twenty-fourth session) The shipped critic's settings (critic_joint/train.sh with
# frame_history=1) on collect.sh's data, which are the same states with the arm's joint state
# recorded. Usage: [R=runs/arm] train.sh NAME [--set K=V ...] (e.g. --set
# proprio_input=true); writes $R/NAME from the collections in $R.
set -euo pipefail
R="${R:-runs/arm}"
R=$R C0=$R/c0 EXTRA_DATA="[$R/c1,$R/lta,$R/ltb,$R/d0]" \
  exec bash "$(dirname "$0")/../critic_joint/train.sh" "$1" --set frame_history=1 "${@:2}"
