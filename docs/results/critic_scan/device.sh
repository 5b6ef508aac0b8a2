#!/usr/bin/env bash
# (twentieth session) The lent GPU machine's 16 cores: 14 critic collections with the range scan
# side by side, then the same critic with and without scan_input on their data. Set up as
# docs/results/device_rl/run_rl.sh says (.whl, .gl, .dev with the shim, embeddings made by
# make_embeddings.py, run_cli.py and this file), then on the machine:
#   OUT=$OUT N=1500 NC=14 CLIM=300 bash .dev/critic_dev.sh
# Device call: critic data with the range scan (14 collectors), then the same critic with and
# without the scan on it (bump_input both), alpha 0.3; returns bundles + logs.
T0=$(date +%s)
PY=${PY:-python3}
if [ -z "$LOCAL" ]; then
  for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
fi
export PYTHONPATH=/tmp/site:$PWD/.dev/shim:$PWD MUJOCO_GL=egl OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
$PY - <<'P' || { export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json; echo "retry with nvidia egl vendor"; }
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size="1"/></worldbody></mujoco>')
r = mujoco.Renderer(m, 32, 32); d = mujoco.MjData(m); r.update_scene(d); print("render", r.render().shape)
P
S="$PY .dev/run_cli.py"
N=${N:-1500}; NC=${NC:-14}
DATA=(--set states=$N --set probe_every=3 --set history_length=16
      --set 'proposers=[expert:careless,expert:careful,random,bundle]'
      --set policy_bundle=models/objnav-bc)
MODEL=(--set encoder=efficientnet_lite0 --set steps=${STEPS:-800} --set dropout=0.3
       --set weight_decay=0.01 --set batch_size=256 --set alpha=0.3 --set bump_input=true)
R=${R:-runs/c}; mkdir -p $R
for s in $(seq 0 $((NC-1))); do
  timeout ${CLIM:-330} $S train critic --out $R/s$s --set seed=$((s+${SEED0:-10})) "${DATA[@]}" --set steps=1 --set threads=1 > $R/s$s.log 2>&1 &
done
wait
echo "== collected t=$(( $(date +%s) - T0 ))s"
EXTRA=""; FIRST=""
for s in $(seq 0 $((NC-1))); do
  tr '\r' '\n' < $R/s$s.log | grep "collect:" | tail -1
  if [ -f $R/s$s/critic_data.npz ]; then
    if [ -z "$FIRST" ]; then FIRST=$s; else EXTRA="$EXTRA,$R/s$s"; fi
  fi
done
EXTRA="[${EXTRA#,}]"; echo "first $FIRST extra $EXTRA"
for v in bump scan; do
  mkdir -p $R/$v; cp $R/s$FIRST/critic_data.npz $R/$v/
done
$S train critic --out $R/bump --set seed=$((FIRST+${SEED0:-10})) "${DATA[@]}" "${MODEL[@]}" --set "extra_data=$EXTRA" --set threads=8 > $R/bump.log 2>&1 &
$S train critic --out $R/scan --set seed=$((FIRST+${SEED0:-10})) "${DATA[@]}" "${MODEL[@]}" --set "extra_data=$EXTRA" --set threads=8 --set scan_input=true > $R/scan.log 2>&1 &
wait
echo "== trained t=$(( $(date +%s) - T0 ))s"
for v in bump scan; do
  tr '\r' '\n' < $R/$v.log | grep -v -i "initializer\|warn" | tail -25
  tar czf $OUT/bundle_$v.tgz -C $R/$v bundle critic.pt config.yaml 2>/dev/null
done
tar czf $OUT/logs.tgz $R/*.log $R/*/config.yaml 2>/dev/null
ls -la $OUT
