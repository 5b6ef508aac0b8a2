#!/usr/bin/env bash
# (thirty-ninth session) The shipped critic's recipe (models/README.md) on its five
# collections plus collect.sh's four on-policy ones, then the corner guard spliced after it.
# Usage: [R=runs/dense] train.sh NAME [--set K=V ...]; writes $R/NAME and $R/NAME/guarded.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R="${R:-runs/dense}"
name=$1
shift
R=$R C0=$R/c0 EXTRA_DATA="[$R/c1,$R/lta,$R/ltb,$R/d0,$R/plag,$R/pbc,$R/pppo,$R/ppen]" \
  bash docs/results/critic_joint/train.sh "$name" --set frame_history=1 --set footprint=true \
  --set footprint_floor=true --set object_scan=true --set threads=2 --set alpha=0.05 \
  --set floor_clearance_m=0.01 --set clear_pass_m=0.03 --set clear_pass_quiet=4 "$@"
.venv/bin/safevla train corner-guard --critic "$R/$name/bundle" --out "$R/$name/guarded"
