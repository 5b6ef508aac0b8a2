#!/usr/bin/env bash
# (twenty-third session) A critic collection aimed at dangerous-equipment events: 400 PickUp
# episodes on training scenes whose target stands within 0.6 m of a dangerous object
# (danger_episodes.py), visited once each by the proposers of docs/results/critic_scan32.
# Writes runs/danger/ (7,422 states, ~6.5 min on one core).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
mkdir -p runs/danger
[ -f runs/danger/d2001.jsonl.gz ] ||
  .venv/bin/python docs/results/critic_joint/danger_episodes.py runs/danger/d2001.jsonl.gz 400 2001
# the episodes run out before 10,000 states: the collection keeps what it has and stops
.venv/bin/safevla train critic --out runs/danger/d0 --set seed=60 --set states=10000 \
  --set probe_every=3 --set history_length=16 \
  --set 'proposers=[expert:careless,expert:careful,random,bundle]' \
  --set policy_bundle=models/objnav-ppo-lag --set 'tasks=[pickup]' \
  --set episodes_file=runs/danger/d2001.jsonl.gz --set steps=1 --set threads=1 \
  > runs/danger/d0.log 2>&1 || test -f runs/danger/d0/critic_data.npz
