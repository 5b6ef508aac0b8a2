#!/bin/bash
# PPO-Lagrangian from the shipped imitation start with the motion-feedback input (zero-initialised).
cd "$(dirname "$0")/../../.."
MUJOCO_GL=egl OMP_NUM_THREADS=1 exec .venv/bin/safevla train ppo-lag --config models/train_configs/ppo_objnav_long.yaml \
  --init models/train_state/objnav-bc.pt --out runs/lag_bump --no-progress \
  --set best_by=success_within_limit --set cost_limit=1.25 --set multiplier_episodes=fresh \
  --set ref_kl_coef=0.03 --set bump_input=true --set update_threads=2 "$@"
