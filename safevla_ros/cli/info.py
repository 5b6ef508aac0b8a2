"""``safevla info``: what this installation has (versions, ROS interfaces, accelerators)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json

from safevla_core import ACTION_NAMES, SAFETY_SPEC
from safevla_ros import __version__

_OPTIONAL = ("rclpy", "onnxruntime", "mujoco", "torch", "ai2thor", "cv2", "gymnasium")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "info",
        help="show versions, available parts and the action/safety spec",
        description="Show what this installation has: versions of the parts, whether the ROS "
        "interfaces are built, ONNX Runtime execution providers, action space and safety spec.",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def collect() -> dict:
    """Versions and availability of each part (never raises for a missing part)."""
    parts: dict[str, str | None] = {}
    for name in _OPTIONAL:
        if importlib.util.find_spec(name) is None:
            parts[name] = None
            continue
        try:
            module = importlib.import_module(name)
            parts[name] = str(getattr(module, "__version__", "installed"))
        except Exception as exc:  # a broken install is reported, not raised
            parts[name] = f"broken: {exc}"
    info: dict = {"safevla_ros": __version__, "parts": parts}
    try:
        from safevla_ros.msg import SafetyVerdict  # noqa: F401

        info["ros_interfaces"] = "built"
    except ImportError as exc:
        info["ros_interfaces"] = f"missing ({exc}); run scripts/setup.sh or colcon build"
    if parts.get("onnxruntime") and not str(parts["onnxruntime"]).startswith("broken"):
        import onnxruntime

        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    info["actions"] = list(ACTION_NAMES)
    info["safety_spec_version"] = SAFETY_SPEC.version
    info["cost_categories"] = list(SAFETY_SPEC.categories)
    return info


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"safevla_ros {info['safevla_ros']}")
    for name, version in info["parts"].items():
        print(f"  {name:<12} {version or 'not installed'}")
    print(f"  ROS interfaces: {info['ros_interfaces']}")
    if "onnxruntime_providers" in info:
        print(f"  ONNX Runtime providers: {', '.join(info['onnxruntime_providers'])}")
    print(f"  actions ({len(info['actions'])}): {', '.join(info['actions'])}")
    print(f"  safety spec v{info['safety_spec_version']}: {', '.join(info['cost_categories'])}")
    return 0
