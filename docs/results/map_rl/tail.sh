#!/usr/bin/env bash
# (twentieth session) The long-tail (40) and perturbed (20) ObjectNav sets, 600 steps, greedy:
# the shipped map start and the two KL-pull runs' best in-run policies (runs/s20/bundles/: see
# docs/training.md for the runs and the exports). ~7 min on the two cores.
cd /work/main; export MUJOCO_GL=egl OMP_NUM_THREADS=1
P=(--bundle models/objnav-bc-map --bundle runs/s20/bundles/kl-ppo-best --bundle runs/s20/bundles/kl-ppo-lag-best)
C=(--task objnav --workers 2 --max-steps 600 --baseline runs/s20/bundles/kl-ppo-best --no-progress)
.venv/bin/safevla eval "${P[@]}" "${C[@]}" --episodes longtail --count 40 --json runs/s20/longtail_kl.json > runs/s20/longtail_kl.log 2>&1
.venv/bin/safevla eval "${P[@]}" "${C[@]}" --seed 0 --count 20 --perturb lighting,color,material,camera-noise,paraphrase --json runs/s20/perturbed_kl.json > runs/s20/perturbed_kl.log 2>&1
