#!/usr/bin/env bash
# (twenty-third session) Two more collections of 16,000 states with the settings of
# docs/results/critic_scan32/run.sh (seeds 42 and 43, one core each; stopped with SIGTERM at
# 8,447 and 8,821 states after 17 min beside two evaluations): does the critic
# that reads one frame gain from 64k states instead of 47k? Writes runs/joint/c2, c3.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
for s in 2 3; do
  [ -f runs/joint/c$s/critic_data.npz ] && continue
  .venv/bin/safevla train critic --out runs/joint/c$s --set seed=$((s + 40)) --set states=16000 \
    --set probe_every=3 --set history_length=16 \
    --set 'proposers=[expert:careless,expert:careful,random,bundle]' \
    --set policy_bundle=models/objnav-ppo-lag --set steps=1 --set threads=1 \
    > runs/joint/c$s.log 2>&1 &
done
wait
