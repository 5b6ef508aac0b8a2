#!/usr/bin/env bash
# (twenty-second session) The range scan as a critic input at bump32's data size: two
# collections of 16,000 probed states side by side on this machine's two cores (they record
# every frame's range scan), then the same critic with and without scan_input on both, alpha
# 0.3, bump_input in both (bump32's settings otherwise). Writes runs/critic32/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
S=".venv/bin/safevla"
R=runs/critic32
N=${N:-16000}
DATA=(--set states=$N --set probe_every=3 --set history_length=16
      --set 'proposers=[expert:careless,expert:careful,random,bundle]'
      --set policy_bundle=models/objnav-ppo-lag)
MODEL=(--set encoder=efficientnet_lite0 --set steps=800 --set dropout=0.3
       --set weight_decay=0.01 --set batch_size=256 --set alpha=0.3 --set bump_input=true)
mkdir -p $R
# 1. two collections, one core each (steps=1: the data is what they are for)
if [ -z "${SKIP_COLLECT:-}" ]; then
  for s in 0 1; do
    $S train critic --out $R/c$s --set seed=$((s + 40)) "${DATA[@]}" --set steps=1 \
      --set threads=1 > $R/c$s.log 2>&1 &
  done
  wait
fi
# 2. the same critic with and without the scan on both collections (c0's data reused)
for v in bump scan; do
  mkdir -p $R/$v
  cp $R/c0/critic_data.npz $R/$v/
done
$S train critic --out $R/bump --set seed=40 "${DATA[@]}" "${MODEL[@]}" \
  --set "extra_data=[$R/c1]" --set threads=1 > $R/bump.log 2>&1 &
$S train critic --out $R/scan --set seed=40 "${DATA[@]}" "${MODEL[@]}" \
  --set "extra_data=[$R/c1]" --set threads=1 --set scan_input=true > $R/scan.log 2>&1 &
wait
echo done > $R/trained
