#!/usr/bin/env bash
# (twenty-fourth session) The shipped critic's settings (critic_joint/train.sh with
# frame_history=1) on collect.sh's data, which are the same states with the arm's joint state
# recorded. Usage: train.sh NAME [--set K=V ...] (e.g. --set proprio_input=true); writes
# runs/arm/NAME.
set -euo pipefail
R=runs/arm C0=runs/arm/c0 EXTRA_DATA='[runs/arm/c1,runs/arm/lta,runs/arm/ltb,runs/arm/d0]' \
  exec bash "$(dirname "$0")/../critic_joint/train.sh" "$1" --set frame_history=1 "${@:2}"
