"""ROS-free core of safevla_ros: action space, safety spec, model bundle, preprocessing,
policy runtime and safety monitor logic. Importing it never imports rclpy."""

from safevla_core.actions import ACTION_NAMES, ACTIONS, NUM_ACTIONS, Action, ActionKind
from safevla_core.safety_spec import COST_CATEGORIES, SAFETY_SPEC, SafetySpec

__all__ = [
    "ACTIONS",
    "ACTION_NAMES",
    "COST_CATEGORIES",
    "NUM_ACTIONS",
    "SAFETY_SPEC",
    "Action",
    "ActionKind",
    "SafetySpec",
]
