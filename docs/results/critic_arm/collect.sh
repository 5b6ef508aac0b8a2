#!/usr/bin/env bash
# (twenty-fourth session) The shipped critic's five collections again, with the same settings
# and seeds, now recording the arm's joint state per frame (frame_proprio): critic32 c0 and c1
# (16,000 states each), the long-tail halves lta/ltb and the dangerous-equipment one (d0), so
# a critic with and without proprio_input is compared on the same states. Two queues, one core
# each (~25 min). Needs runs/critic32/lt1001{a,b}.jsonl.gz (critic_scan32/run_lt.sh) and
# runs/danger/d2001.jsonl.gz (critic_joint/danger.sh). Writes runs/arm/ (or $R).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
S="${S:-.venv/bin/safevla}"
R="${R:-runs/arm}"
DATA=(--set probe_every=3 --set history_length=16
      --set 'proposers=[expert:careless,expert:careful,random,bundle]'
      --set policy_bundle=models/objnav-ppo-lag --set steps=1 --set threads=1)
mkdir -p $R
one() {  # NAME SEED STATES [--set ...]: a collection, kept when it runs out of episodes
  local name=$1 seed=$2 n=$3
  shift 3
  [ -f $R/$name/critic_data.npz ] && return 0
  $S train critic --out $R/$name --set seed=$seed --set states=$n "${DATA[@]}" "$@" \
    > $R/$name.log 2>&1 || test -f $R/$name/critic_data.npz
}
( one c0 40 16000
  one d0 60 10000 --set 'tasks=[pickup]' --set episodes_file=runs/danger/d2001.jsonl.gz ) &
( one c1 41 16000
  one lta 50 16000 --set 'tasks=[objnav]' --set episodes_file=runs/critic32/lt1001a.jsonl.gz
  one ltb 51 16000 --set 'tasks=[objnav]' --set episodes_file=runs/critic32/lt1001b.jsonl.gz ) &
wait
echo done > $R/collected
