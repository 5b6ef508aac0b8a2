#!/usr/bin/env bash
# (thirty-ninth session) On-policy collections for the critic: each shipped ObjectNav policy
# drives (with the collector's 20% random moving actions) through the 300 risk-eliciting
# training episodes runs/critic32/lt1001.jsonl.gz (no scene shared with an evaluation set; see
# models/README.md for the command that writes it), up to 200 steps an episode, every 3rd state
# probed with all 20 actions: 4,000 states per policy. Two queues, one core each (~18 min measured).
# The shipped critic's own five collections (docs/results/critic_arm/collect.sh, R=runs/dense)
# come first; this adds runs/dense/{plag,pbc,pppo,ppen}.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
R="${R:-runs/dense}"
N="${N:-4000}"
one() {  # NAME SEED POLICY: a collection, kept when it runs out of episodes
  local name=$1 seed=$2 pol=$3
  [ -f $R/$name/critic_data.npz ] && return 0
  .venv/bin/safevla train critic --out $R/$name --set seed=$seed --set states=$N \
    --set probe_every=3 --set history_length=16 --set 'proposers=[bundle]' \
    --set policy_bundle=models/$pol --set 'tasks=[objnav]' \
    --set episodes_file=runs/critic32/lt1001.jsonl.gz --set episode_max_steps=200 \
    --set steps=1 --set threads=1 > $R/$name.log 2>&1 || test -f $R/$name/critic_data.npz
}
( one plag 70 objnav-ppo-lag; one pppo 72 objnav-ppo ) &
( one pbc 71 objnav-bc; one ppen 73 objnav-ppo-penalty ) &
wait
