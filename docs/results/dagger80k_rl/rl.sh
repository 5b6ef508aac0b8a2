#!/bin/bash
# fifteenth session: PPO and PPO-Lagrangian from the 80k-frame DAgger start, side by side
# (run with --total-steps 307200 and stopped by hand at 158,720 steps, after the 153,600 evaluation;
#  --total-steps 153600 gives the same evaluated policies, the only ones selection reads)
cd "$(dirname "$0")/../../.."  # the repository root
export MUJOCO_GL=egl OMP_NUM_THREADS=1
INIT=models/train_state/objnav-bc-dagger80k.pt
CFG=models/train_configs/ppo_objnav_long.yaml
nohup .venv/bin/safevla train ppo --config $CFG --init $INIT --out runs/s15/ppo --total-steps 307200 \
  --no-progress --set eval_episodes=24 > runs/s15/ppo.log 2>&1 &
nohup .venv/bin/safevla train ppo-lag --config $CFG --init $INIT --out runs/s15/lag --total-steps 307200 \
  --no-progress --set eval_episodes=24 --set best_by=success_within_limit \
  --set multiplier_episodes=fresh --set cost_limit=1.5 > runs/s15/lag.log 2>&1 &
