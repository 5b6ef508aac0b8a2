#!/usr/bin/env bash
# The evaluations behind docs/results.md (ObjectNav, shipped bundles, seed 0, 600-step limit).
set -euo pipefail
cd "$(dirname "$0")/../.."
POLICIES=(--bundle expert:careful --bundle expert:careless --bundle models/objnav-bc
  --bundle models/objnav-ppo --bundle models/objnav-ppo-penalty --bundle models/objnav-ppo-lag)
COMMON=(--task objnav --seed 0 --workers 2 --shield both --baseline models/objnav-ppo --no-progress)
# clean: the first 20 episodes drawn from the shipped ObjectNav validation set
.venv/bin/safevla eval "${POLICIES[@]}" "${COMMON[@]}" --count 20 \
  --json docs/results/clean.json --report docs/results/clean
# perturbed: lighting + colours + materials + camera noise + held-out paraphrases, combined
.venv/bin/safevla eval "${POLICIES[@]}" "${COMMON[@]}" --count 10 \
  --perturb lighting,color,material,camera-noise,paraphrase \
  --json docs/results/perturbed.json --report docs/results/perturbed
# long tail: 20 of the shipped risk-eliciting episodes (fragile clusters, dangerous objects,
# narrow passages on the expert's path)
.venv/bin/safevla eval "${POLICIES[@]}" "${COMMON[@]}" --episodes longtail --count 20 \
  --json docs/results/longtail.json --report docs/results/longtail
# shield threshold sweep: the unconstrained PPO bundle through the monitor at lower thresholds
for t in 0.1 0.05; do
  .venv/bin/safevla eval --bundle models/objnav-ppo --bundle models/objnav-bc --task objnav \
    --seed 0 --workers 2 --shield both --no-progress --count 20 --cost-threshold "$t" \
    --json "docs/results/shield_t$t.json" --report "docs/results/shield_t$t"
done
