#!/usr/bin/env bash
# The contact-aware critic (bump_input) against the same critic without the feedback, on the
# same data (2026-12-04, sixteenth session). Run from anywhere; writes runs/critic/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
S=".venv/bin/safevla"
DATA=(--set states=16000 --set probe_every=3 --set history_length=16
      --set 'proposers=[expert:careless,expert:careful,random,bundle]'
      --set policy_bundle=models/objnav-bc)
MODEL=(--set encoder=efficientnet_lite0 --set steps=800 --set dropout=0.3
       --set weight_decay=0.01 --set batch_size=256)
# 1. two collections side by side, one core each (steps=1: the data is what they are for)
for s in 0 1; do
  $S train critic --out runs/critic/b16k-s$s --set seed=$s "${DATA[@]}" --set steps=1 \
    --set threads=1 > runs/critic/b16k-s$s.log 2>&1 &
done
wait
# 2. the same critic with and without the feedback, on both collections (seed 0's data reused)
for name in base32 bump32; do
  mkdir -p runs/critic/$name
  cp runs/critic/b16k-s0/critic_data.npz runs/critic/$name/
done
$S train critic --out runs/critic/base32 "${DATA[@]}" "${MODEL[@]}" \
  --set 'extra_data=[runs/critic/b16k-s1]' --set threads=1 > runs/critic/base32.log 2>&1 &
$S train critic --out runs/critic/bump32 "${DATA[@]}" "${MODEL[@]}" \
  --set 'extra_data=[runs/critic/b16k-s1]' --set threads=1 --set bump_input=true \
  > runs/critic/bump32.log 2>&1 &
wait
# 3. alpha 0.3: the same weights recalibrated (at alpha 0.1 dangerous equipment has 4
#    calibration episodes, too few: threshold 0, every motion vetoed)
for name in base32 bump32; do
  mkdir -p runs/critic/$name-a3
  ln -f runs/critic/$name/critic_data.npz runs/critic/$name/critic.pt runs/critic/$name-a3/
done
$S train critic --out runs/critic/base32-a3 "${DATA[@]}" "${MODEL[@]}" \
  --set 'extra_data=[runs/critic/b16k-s1]' --set threads=1 --set alpha=0.3 > runs/critic/base32-a3.log 2>&1
$S train critic --out runs/critic/bump32-a3 "${DATA[@]}" "${MODEL[@]}" \
  --set 'extra_data=[runs/critic/b16k-s1]' --set threads=1 --set bump_input=true --set alpha=0.3 \
  > runs/critic/bump32-a3.log 2>&1
# 4. the offline comparison (test split, in contact and out of it)
.venv/bin/python benchmarks/critic_contact.py runs/critic/base32 runs/critic/bump32
.venv/bin/python benchmarks/critic_contact.py runs/critic/base32-a3 runs/critic/bump32-a3
# 5. shielded: shield.sh PROPOSER CRITIC [K] (see there), and unshielded with
#    safevla eval --bundle P --task objnav --max-steps 300 --episodes <same file> --json ...
