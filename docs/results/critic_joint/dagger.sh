#!/usr/bin/env bash
# (twenty-third session) A collection under the shield of a critic of train.sh
# (critic.shield_critic): the proposers of docs/results/critic_scan32, each action through the
# critic, a vetoed one replaced by a random allowed one. Usage: dagger.sh CRITIC SEED STATES;
# writes runs/joint/dagger_CRITIC_SEED.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
c=$1 seed=$2 n=$3
.venv/bin/safevla train critic --out runs/joint/dagger_${c}_$seed --set seed=$seed --set states=$n \
  --set probe_every=3 --set history_length=16 \
  --set 'proposers=[expert:careless,expert:careful,random,bundle]' \
  --set policy_bundle=models/objnav-ppo-lag --set shield_critic=runs/joint/$c/bundle \
  --set steps=1 --set threads=1 > runs/joint/dagger_${c}_$seed.log 2>&1
