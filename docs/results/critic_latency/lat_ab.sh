#!/usr/bin/env bash
# A/B of the critic's encoder pass: at frame arrival (this session) against inside the decision
# (04efd94), alternated, same machine minutes apart. Usage: lat_ab.sh TAG (new|old) N
# (old: the three files of 04efd94 are written over the work tree and restored after the run;
# commit or stash changes to them first). The critic run needs runs/critic/bump32-a3
# (docs/results/critic_bump/run.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."
mkdir -p runs/critic_latency
tag=$1 n=$2
files="safevla_core/critic_gate.py safevla_core/safety_critic.py safevla_ros/safety_monitor_node.py"
if [ "$tag" = old ]; then for f in $files; do git show 04efd94:$f > $f; done; fi
OMP_NUM_THREADS=1 MUJOCO_GL=egl timeout 300 .venv/bin/python benchmarks/ros_latency.py --frames 300 --rate 10 \
  --critic runs/critic/bump32-a3/bundle --json runs/critic_latency/lat_${tag}${n}.json > runs/critic_latency/lat_${tag}${n}.log 2>&1 || true
if [ "$tag" = old ]; then git checkout -- $files; fi
grep -E "ms +n=" runs/critic_latency/lat_${tag}${n}.log; uptime
