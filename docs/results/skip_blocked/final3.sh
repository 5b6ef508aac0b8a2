#!/usr/bin/env bash
# PPO's last checkpoint (295,680 steps) beside PPO-Lagrangian's last (284,160): same length of training
cd /work/main; export MUJOCO_GL=egl OMP_NUM_THREADS=1
R=runs/s21; B=$R/bundles; S=.venv/bin/safevla
$S export --checkpoint $R/kl-ppo/checkpoint.pt --out $B/kl-ppo-last --name objnav-map-kl-ppo-last --end-gate 0.3 > $R/export3.log 2>&1
U1=sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz
U2=sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz
C=(--task objnav --workers 2 --max-steps 600 --no-progress)
while pgrep -f "u1_laglast.json" > /dev/null; do sleep 10; done
$S eval --bundle $B/kl-ppo-last "${C[@]}" --episodes $U1 --skip-blocked --json $R/u1_ppolast_skip.json > $R/u1_ppolast_skip.log 2>&1
$S eval --bundle $B/kl-ppo-last "${C[@]}" --episodes $U1 --json $R/u1_ppolast.json > $R/u1_ppolast.log 2>&1
$S eval --bundle $B/kl-ppo-lag-last --bundle $B/kl-ppo-last "${C[@]}" --episodes $U2 --skip-blocked --json $R/u2_last_skip.json > $R/u2_last_skip.log 2>&1
$S eval --bundle $B/kl-ppo-lag-last --bundle $B/kl-ppo-last "${C[@]}" --episodes $U2 --json $R/u2_last.json > $R/u2_last.log 2>&1
