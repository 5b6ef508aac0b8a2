#!/usr/bin/env bash
# long-tail (40) and perturbed (20) sets for the last checkpoints and the penalty run's best, unguarded
cd /work/main; export MUJOCO_GL=egl OMP_NUM_THREADS=1
R=runs/s21; B=$R/bundles; S=.venv/bin/safevla
while pgrep -f final3.sh > /dev/null; do sleep 10; done
P=(--bundle $B/kl-ppo-last --bundle $B/kl-ppo-penalty-best --bundle $B/kl-ppo-lag-last)
C=(--task objnav --workers 2 --max-steps 600 --no-progress)
$S eval "${P[@]}" "${C[@]}" --episodes longtail --count 40 --json $R/longtail_last.json > $R/longtail_last.log 2>&1
$S eval "${P[@]}" "${C[@]}" --seed 0 --count 20 --perturb lighting,color,material,camera-noise,paraphrase --json $R/perturbed_last.json > $R/perturbed_last.log 2>&1
