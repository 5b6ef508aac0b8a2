#!/usr/bin/env bash
# the fixed-penalty run's last checkpoint (284,160 steps, as PPO-Lagrangian's): export, then the
# evaluations the other two had (both unseen-seed sets, long tail 40, perturbed 20)
cd /work/main; export MUJOCO_GL=egl OMP_NUM_THREADS=1
R=runs/s22; S=.venv/bin/safevla; B=models/objnav-ppo-penalty
$S export --checkpoint runs/s21/kl-ppo-penalty/checkpoint.pt --out $B --name objnav-ppo-penalty --end-gate 0.3 > $R/export_pen.log 2>&1
U1=sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz
U2=sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz
C=(--task objnav --workers 2 --max-steps 600 --no-progress)
$S eval --bundle $B "${C[@]}" --episodes $U1 --json $R/u1_pen.json > $R/u1_pen.log 2>&1
$S eval --bundle $B "${C[@]}" --episodes $U2 --json $R/u2_pen.json > $R/u2_pen.log 2>&1
$S eval --bundle $B "${C[@]}" --episodes longtail --count 40 --json $R/longtail_pen.json > $R/longtail_pen.log 2>&1
$S eval --bundle $B "${C[@]}" --seed 0 --count 20 --perturb lighting,color,material,camera-noise,paraphrase --json $R/perturbed_pen.json > $R/perturbed_pen.log 2>&1
echo done > $R/pen.done
