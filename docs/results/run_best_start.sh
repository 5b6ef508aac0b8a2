#!/usr/bin/env bash
# The evaluations behind "Best evaluated policies" in docs/results.md: the three RL bundles kept
# by their in-run evaluation (models/objnav-ppo, -ppo-penalty, -ppo-lag), greedy, 300-step
# limit, unshielded. objnav-bc's rows are in docs/results/detector_start/ (the same bundle).
# About 20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=docs/results/best_start
mkdir -p "$OUT"
for b in objnav-ppo objnav-ppo-penalty objnav-ppo-lag; do
  .venv/bin/safevla eval --bundle "models/$b" --task objnav --max-steps 300 --no-progress \
    --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz --json "$OUT/unseen_$b.json"
done
P=(--bundle models/objnav-ppo --bundle models/objnav-ppo-penalty --bundle models/objnav-ppo-lag)
C=(--task objnav --seed 0 --workers 2 --max-steps 300 --baseline models/objnav-ppo --no-progress)
.venv/bin/safevla eval "${P[@]}" "${C[@]}" --count 20 \
  --perturb lighting,color,material,camera-noise,paraphrase --json "$OUT/perturbed.json"
.venv/bin/safevla eval "${P[@]}" "${C[@]}" --episodes longtail --count 40 --json "$OUT/longtail.json"
