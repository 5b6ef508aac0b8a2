#!/usr/bin/env bash
# (twenty-second session) Part 2: run.sh's critics leave dangerous equipment with 7
# calibration episodes (threshold ~1e-6: 40% of harmless motions vetoed by that category
# alone). Risk-eliciting scenes as extra collection episodes: 300 long-tail episodes built with
# a seed no evaluation uses, visited once each by the same proposers in two halves (one core
# each), then the critics of run.sh retrained on all four collections. Writes runs/critic32/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
S=".venv/bin/safevla"
R=runs/critic32
DATA=(--set states=16000 --set probe_every=3 --set history_length=16
      --set 'proposers=[expert:careless,expert:careful,random,bundle]'
      --set policy_bundle=models/objnav-ppo-lag)
MODEL=(--set encoder=efficientnet_lite0 --set steps=800 --set dropout=0.3
       --set weight_decay=0.01 --set batch_size=256 --set alpha=0.3 --set bump_input=true)
[ -f $R/lt1001.jsonl.gz ] || $S eval --make-longtail $R/lt1001.jsonl.gz --count 300 --seed 1001 --no-progress
.venv/bin/python - <<'P'
from sim_bridge.episodes import load_episodes, save_episodes
eps = load_episodes("runs/critic32/lt1001.jsonl.gz")
save_episodes(eps[:150], "runs/critic32/lt1001a.jsonl.gz")
save_episodes(eps[150:], "runs/critic32/lt1001b.jsonl.gz")
P
i=0
for h in a b; do
  [ -f $R/lt$h/critic_data.npz ] && { i=$((i + 1)); continue; }
  $S train critic --out $R/lt$h --set seed=$((50 + i)) "${DATA[@]}" --set 'tasks=[objnav]' \
    --set episodes_file=$R/lt1001$h.jsonl.gz --set steps=1 --set threads=1 > $R/lt$h.log 2>&1 &
  i=$((i + 1))
done
wait
for v in bump-lt scan-lt; do
  mkdir -p $R/$v
  cp $R/c0/critic_data.npz $R/$v/
done
X="extra_data=[$R/c1,$R/lta,$R/ltb]"
$S train critic --out $R/bump-lt --set seed=40 "${DATA[@]}" "${MODEL[@]}" --set "$X" \
  --set threads=1 > $R/bump-lt.log 2>&1 &
$S train critic --out $R/scan-lt --set seed=40 "${DATA[@]}" "${MODEL[@]}" --set "$X" \
  --set threads=1 --set scan_input=true > $R/scan-lt.log 2>&1 &
wait
echo done > $R/trained-lt
