#!/usr/bin/env bash
# Set up safevla_ros on a Debian/Ubuntu machine without a ROS 2 install:
#   system packages (apt, when root) -> .venv with the ROS 2 wheels, torch 2.13.0 (CPU), Ray
#   (--ray) and the project -> the ROS interfaces (msg/, srv/) built with cmake into the venv.
# Idempotent: a second run with nothing changed takes seconds.
# Env: SAFEVLA_VENV (default <repo>/.venv), PYTHON (default python3), SAFEVLA_FORCE_SETUP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${SAFEVLA_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
BUILD=$ROOT/build/interfaces
APT_PACKAGES=(cmake g++ make libosmesa6 libegl1 libgl1-mesa-dri libglib2.0-0)

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# --- system packages ---------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || log "apt-get update failed; trying the install anyway"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  else
    die "missing system packages: ${missing[*]}. Install them with:
    sudo apt-get install -y ${missing[*]}
  then run this script again."
  fi
fi

# --- the venv and Python packages ----------------------------------------------------------------
stamp_of() {
  cat "$ROOT/setup.py" "$ROOT/scripts/setup.sh" "$ROOT/CMakeLists.txt" "$ROOT/package.xml" \
    "$ROOT"/msg/*.msg "$ROOT"/srv/*.srv | sha256sum | cut -d' ' -f1
}
STAMP=$VENV/.safevla-setup-stamp
want=$(stamp_of)
if [ "${SAFEVLA_FORCE_SETUP:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
   && [ -x "$VENV/bin/safevla" ]; then
  log "up to date ($VENV)"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create a venv with $PYTHON (install python3-venv)"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
log "installing Python packages (first run: a few minutes)"
# torch first and alone, pinned: any looser spec pulls a multi-GB CUDA build.
"${PIP[@]}" install -q "torch==2.13.0" || die "pip install torch==2.13.0 failed"
(cd "$ROOT" && "${PIP[@]}" install -q -e ".[ros,ros-build,train,fleet,dev]" \
  --config-settings editable_mode=compat) || die "pip install of the project failed"

# --- ROS interfaces with cmake (no colcon needed) --------------------------------------------------
# The ROS wheels' CMake files point at the wheel builder's Python and numpy includes; point them
# at this venv's.
PYINC=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
NPINC=$("$VENV/bin/python" -c "import numpy; print(numpy.get_include())")
{ grep -rlE "/opt/python/cp311-cp311/(include|lib)" "$VENV/share" --include='*.cmake' || true; } \
  | xargs -r sed -i -E \
    -e "s#/opt/python/cp311-cp311/lib/python3\.11/site-packages/numpy/_?core/include#$NPINC#g" \
    -e "s#/opt/python/cp311-cp311/include/python3\.11#$PYINC#g"
log "building ROS interfaces (msg/, srv/) into the venv"
rm -rf "$BUILD"; mkdir -p "$(dirname "$BUILD")"
export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV PATH=$VENV/bin:$PATH
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" \
  -DBUILD_TESTING=OFF -DSAFEVLA_INTERFACES_ONLY=ON >"$BUILD.log" 2>&1 \
  || die "cmake configure failed; see $BUILD.log"
cmake --build "$BUILD" -j"$(nproc)" >>"$BUILD.log" 2>&1 || die "interface build failed; see $BUILD.log"
cmake --install "$BUILD" >>"$BUILD.log" 2>&1 || die "interface install failed; see $BUILD.log"
# The generated site-packages/safevla_ros/__init__.py would shadow the project's package; without
# it that folder is a portion that safevla_ros/__init__.py adds to its __path__ (msg, srv).
SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
rm -f "$SITE/safevla_ros/__init__.py"

(cd /tmp && "$VENV/bin/python" -c "from safevla_ros.msg import SafetyVerdict; import rclpy") \
  || die "interfaces built but 'from safevla_ros.msg import SafetyVerdict' fails; see $BUILD.log"
echo "$want" >"$STAMP"
log "done: $VENV (activate with: source $VENV/bin/activate)"
