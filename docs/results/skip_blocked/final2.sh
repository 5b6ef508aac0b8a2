#!/usr/bin/env bash
# the PPO-Lagrangian run's last checkpoint (284,160 steps, training cost ~2 against PPO's ~9)
cd /work/main; export MUJOCO_GL=egl OMP_NUM_THREADS=1
R=runs/s21; B=$R/bundles; S=.venv/bin/safevla
$S export --checkpoint $R/kl-ppo-lag/checkpoint.pt --out $B/kl-ppo-lag-last --name objnav-map-kl-ppo-lag-last --end-gate 0.3 > $R/export2.log 2>&1
U1=sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz
C=(--task objnav --workers 1 --max-steps 600 --no-progress)
while pgrep -f "unseen1_skip.json" > /dev/null; do sleep 20; done
$S eval --bundle $B/kl-ppo-lag-last "${C[@]}" --episodes $U1 --skip-blocked --json $R/u1_laglast_skip.json > $R/u1_laglast_skip.log 2>&1
$S eval --bundle $B/kl-ppo-lag-last "${C[@]}" --episodes $U1 --json $R/u1_laglast.json > $R/u1_laglast.log 2>&1
