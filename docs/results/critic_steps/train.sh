#!/usr/bin/env bash
# (fortieth session) The shipped critic's recipe (models/README.md) with one training setting
# changed, then the corner guard. Usage: train.sh NAME DATA [--set K=V ...], DATA = shipped (the
# five collections of models/README.md) or onpolicy (those and critic_onpolicy/collect.sh's four);
# writes $R/NAME and $R/NAME/guarded. The runs of this folder:
#   train.sh st1600 shipped --set steps=1600
#   train.sh st3200 shipped --set steps=3200
#   train.sh h512 shipped --set steps=1600 --set hidden=512
#   train.sh op1600 onpolicy --set steps=1600
#   mkdir -p $R/a10 && cp $R/repro/critic.pt $R/a10/ && train.sh a10 shipped --set alpha=0.1
#     (the rebuilt shipped weights, recalibrated)
# (repro: train.sh repro shipped, the shipped critic rebuilt; each ~4 min on one core)
set -euo pipefail
cd "$(dirname "$0")/../../.."
R="${R:-runs/dense}"
name=$1 data=$2
shift 2
extra="$R/c1,$R/lta,$R/ltb,$R/d0"
[ "$data" = onpolicy ] && extra="$extra,$R/plag,$R/pbc,$R/pppo,$R/ppen"
[ "$data" = shipped ] || [ "$data" = onpolicy ] || { echo "DATA must be shipped or onpolicy" >&2; exit 2; }
R=$R C0=$R/c0 EXTRA_DATA="[$extra]" bash docs/results/critic_joint/train.sh "$name" \
  --set frame_history=1 --set footprint=true --set footprint_floor=true --set object_scan=true \
  --set threads=1 --set alpha=0.05 --set floor_clearance_m=0.01 --set clear_pass_m=0.03 \
  --set clear_pass_quiet=4 "$@"
.venv/bin/safevla train corner-guard --critic "$R/$name/bundle" --out "$R/$name/guarded"
