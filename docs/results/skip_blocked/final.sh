#!/usr/bin/env bash
# (twenty-first session) after the three KL-pull runs stop: export the best in-run policies and
# evaluate them greedy, 600 steps, with and without --skip-blocked. Most important first.
cd /work/main; export MUJOCO_GL=egl OMP_NUM_THREADS=1
R=runs/s21; B=$R/bundles; S=.venv/bin/safevla
mkdir -p $B
$S export --checkpoint $R/kl-ppo/checkpoint_best.pt --out $B/kl-ppo-best --name objnav-map-kl-ppo-best --end-gate 0.3 > $R/export.log 2>&1
$S export --checkpoint $R/kl-ppo-penalty/checkpoint_best.pt --out $B/kl-ppo-penalty-best --name objnav-map-kl-ppo-penalty-best --end-gate 0.3 >> $R/export.log 2>&1
U1=sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz
U2=sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz
NEW=(--bundle $B/kl-ppo-best --bundle $B/kl-ppo-penalty-best)
ALL=(--bundle models/objnav-bc-map --bundle $B/kl-ppo-best --bundle $B/kl-ppo-penalty-best --bundle runs/s20/bundles/kl-ppo-lag-best)
C=(--task objnav --workers 2 --max-steps 600 --no-progress)
$S eval "${NEW[@]}" "${C[@]}" --episodes $U1 --skip-blocked --json $R/u1_new_skip.json > $R/u1_new_skip.log 2>&1
$S eval "${NEW[@]}" "${C[@]}" --episodes $U1 --json $R/u1_new.json > $R/u1_new.log 2>&1
$S eval "${ALL[@]}" "${C[@]}" --episodes longtail --count 40 --skip-blocked --json $R/longtail_skip.json > $R/longtail_skip.log 2>&1
$S eval "${NEW[@]}" "${C[@]}" --episodes longtail --count 40 --json $R/longtail_new.json > $R/longtail_new.log 2>&1
$S eval "${NEW[@]}" "${C[@]}" --episodes $U2 --json $R/u2_new.json > $R/u2_new.log 2>&1
$S eval "${ALL[@]}" "${C[@]}" --episodes $U2 --skip-blocked --json $R/u2_skip.json > $R/u2_skip.log 2>&1
echo done > $R/final.done
