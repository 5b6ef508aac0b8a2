#!/usr/bin/env bash
# (twenty-fourth session) The shipped critic's settings (critic_joint/train.sh with
# frame_history=1) on collect.sh's data, which are the same states with the arm's joint state
# recorded. Usage: train.sh NAME [--set K=V ...] (e.g. --set proprio_input=true); writes
# runs/arm/NAME.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
name=$1
shift
mkdir -p runs/arm/$name
[ -f runs/arm/$name/critic_data.npz ] || ln -f runs/arm/c0/critic_data.npz runs/arm/$name/
.venv/bin/safevla train critic --out runs/arm/$name --set seed=40 --set states=16000 \
  --set probe_every=3 --set history_length=16 \
  --set 'proposers=[expert:careless,expert:careful,random,bundle]' \
  --set policy_bundle=models/objnav-ppo-lag --set encoder=efficientnet_lite0 --set steps=800 \
  --set dropout=0.3 --set weight_decay=0.01 --set batch_size=256 --set alpha=0.1 \
  --set bump_input=true --set scan_input=true --set frame_history=1 --set threads=1 \
  --set 'extra_data=[runs/arm/c1,runs/arm/lta,runs/arm/ltb,runs/arm/d0]' \
  "$@" > runs/arm/$name.log 2>&1
