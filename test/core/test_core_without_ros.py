"""The ROS-free core imports and works in an interpreter whose path has no ROS at all."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Top-level names that come from ROS (wheels or a ROS install); none may be importable.
ROS_PREFIXES = (
    "rclpy",
    "rcl",
    "rmw",
    "rosidl",
    "rpyutils",
    "ament",
    "std_msgs",
    "sensor_msgs",
    "geometry_msgs",
    "diagnostic_msgs",
    "lifecycle_msgs",
    "builtin_interfaces",
    "launch",
    "ros_",
)

CHECK = r"""
import importlib, sys
mods = sys.argv[1:]
for name in mods:
    importlib.import_module(name)
try:
    import rclpy  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("rclpy is importable: the test's path is not ROS-free")
leaked = sorted(m for m in sys.modules if m.split(".")[0] in {"rclpy", "rosidl_runtime_py"})
if leaked:
    raise SystemExit(f"core imported ROS modules: {leaked}")
from safevla_core import ACTIONS, SAFETY_SPEC
assert len(ACTIONS) == 20 and SAFETY_SPEC.categories[0] == "corner"
print("ok", len(mods))
"""


def _ros_free_site(tmp_path: Path) -> Path:
    """A site folder holding links to every installed package except ROS ones."""
    site = tmp_path / "site"
    site.mkdir()
    purelib = Path(sysconfig.get_paths()["purelib"])
    for entry in purelib.iterdir():
        name = entry.name.lower()
        if name.startswith(ROS_PREFIXES) or name.endswith(".pth") or name == "safevla_ros":
            continue
        (site / entry.name).symlink_to(entry)
    return site


def core_modules() -> list[str]:
    """Every module of the ROS-free floors (core, sim_bridge, eval, train) and the CLI,
    except ROS node files."""
    names = []
    for package in (
        "safevla_core",
        "sim_bridge",
        "safevla_eval",
        "safevla_train",
        "safevla_ros/cli",
    ):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.stem.endswith("_node") or path.name == "__main__.py":
                continue
            rel = path.relative_to(REPO).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(parts))
    return names


def test_core_imports_without_rclpy(tmp_path):
    site = _ros_free_site(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AMENT", "ROS"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(site)])
    env["LD_LIBRARY_PATH"] = ""
    mods = core_modules()
    assert "safevla_core" in mods and len(mods) > 3
    result = subprocess.run(
        [sys.executable, "-S", "-c", CHECK, *mods],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
