#!/usr/bin/env bash
# (twentieth session) Sampled-action evaluations of the two RL runs' last checkpoints and of the
# start on the lent machine (set up as docs/results/device_rl/run_rl.sh says; .whl2 = the wheels
# without the EfficientNet ones; runs/s20/bundles carried). Locally the same command with
# --workers 1 takes ~15 min per policy.
# Device call: sampled-action evaluations (100 unseen-seed episodes, 600 steps, 14 workers).
T0=$(date +%s)
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl2/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD/.dev/shim:$PWD MUJOCO_GL=egl OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
python3 - <<'P' || { export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json; echo "retry with nvidia egl vendor"; }
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size="1"/></worldbody></mujoco>')
r = mujoco.Renderer(m, 32, 32); d = mujoco.MjData(m); r.update_scene(d); print("render", r.render().shape)
P
for b in runs/s20/bundles/ppo-lag-last runs/s20/bundles/ppo-last models/objnav-bc-map; do
  n=$(basename $b)
  python3 .dev/run_cli.py eval --bundle $b --task objnav --max-steps 600 --workers 14 --sampling sample \
    --episodes sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz --no-progress \
    --json $OUT/sampled_$n.json 2>&1 | grep -v -i "initializer\|warn" | tail -4
  echo "== $n t=$(( $(date +%s) - T0 ))s"
done
ls -la $OUT
