#!/usr/bin/env bash
# (twenty-third session) Critics on the data of docs/results/critic_scan32 (run.sh, run_lt.sh)
# plus a collection aimed at dangerous equipment (danger.sh), with the settings of the scan +
# long-tail critic and one threshold on any event. Usage: train.sh NAME [--set K=V ...];
# writes runs/joint/NAME. Other data: R (the runs folder), C0 (the run whose data is the
# critic's own) and EXTRA_DATA (the critic.extra_data list), as critic_arm/train.sh sets them.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
R=${R:-runs/joint}
C0=${C0:-runs/critic32/c0}
EXTRA_DATA=${EXTRA_DATA:-[runs/critic32/c1,runs/critic32/lta,runs/critic32/ltb,runs/danger/d0]}
name=$1
shift
mkdir -p $R/$name
[ -f $R/$name/critic_data.npz ] || ln -f $C0/critic_data.npz $R/$name/
.venv/bin/safevla train critic --out $R/$name --set seed=40 --set states=16000 \
  --set probe_every=3 --set history_length=16 \
  --set 'proposers=[expert:careless,expert:careful,random,bundle]' \
  --set policy_bundle=models/objnav-ppo-lag --set encoder=efficientnet_lite0 --set steps=800 \
  --set dropout=0.3 --set weight_decay=0.01 --set batch_size=256 --set alpha=0.1 \
  --set bump_input=true --set scan_input=true --set threads=1 \
  --set "extra_data=$EXTRA_DATA" "$@" > $R/$name.log 2>&1
