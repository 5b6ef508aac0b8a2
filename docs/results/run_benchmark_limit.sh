#!/usr/bin/env bash
# The evaluations behind "At the benchmark's evaluation limit" in docs/results.md: the four shipped
# ObjectNav bundles, greedy, unshielded, at the benchmark's 600-step evaluation limit (the
# default of `safevla eval`; earlier tables used 300): the 100 unseen-seed episodes, 20 perturbed
# and 40 long-tail episodes. About 25 minutes on 2 quiet cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=docs/results/benchmark_limit
mkdir -p "$OUT"
P=(--bundle models/objnav-bc --bundle models/objnav-ppo --bundle models/objnav-ppo-penalty
  --bundle models/objnav-ppo-lag)
C=(--task objnav --workers 2 --max-steps 600 --baseline models/objnav-ppo --no-progress)
.venv/bin/safevla eval "${P[@]}" "${C[@]}" \
  --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz --json "$OUT/unseen.json"
.venv/bin/safevla eval "${P[@]}" "${C[@]}" --seed 0 --count 20 \
  --perturb lighting,color,material,camera-noise,paraphrase --json "$OUT/perturbed.json"
.venv/bin/safevla eval "${P[@]}" "${C[@]}" --episodes longtail --count 40 --json "$OUT/longtail.json"
