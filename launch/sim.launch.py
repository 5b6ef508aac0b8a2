# ruff: noqa: I001  (launch/ here is this folder, not the ROS `launch` package)
"""Sim-in-the-loop: the robot runtime plus the sim bridge (embedded MuJoCo simulator).

    ros2 launch safevla_ros sim.launch.py bundle:=/path/to/bundle task:=objnav [backend:=thor] \\
        [critic:=/path/to/critic] [break_dither:=auto] [verify_key:=/path/to/fleet.pub] \\
        [record_dir:=/path]

The nodes and parameter files are those of the ``sim`` bringup in the node table
(safevla_ros/nodes.py): the robot nodes plus the sim bridge, with config/robot.yaml then
config/sim.yaml (the adapter drives the simulator's action topic). Without ``ros2 launch``
(pip install), ``safevla run --sim`` starts the same processes with the same files.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

from safevla_core.action_choice import SHIELDED_BREAK_DITHER
from safevla_ros.launch_helpers import AUTO, PACKAGE, break_dither_param, bringup_group
from safevla_ros.nodes import CONFIG_FILES, SIM


def generate_launch_description():
    share = FindPackageShare(PACKAGE)
    files = [PathJoinSubstitution([share, "config", f]) for f in CONFIG_FILES[SIM]]
    args = [
        DeclareLaunchArgument("bundle", description="model bundle folder (bundle.json inside)"),
        DeclareLaunchArgument(
            "critic",
            default_value="",
            description="safety-critic bundle folder for the monitor (empty = none)",
        ),
        DeclareLaunchArgument(
            "break_dither",
            default_value=AUTO,
            description=f"the policy node's dither breaker: {AUTO} = {SHIELDED_BREAK_DITHER} "
            "with a critic, off without; or a count (0 = off; docs/ros_runtime.md)",
        ),
        DeclareLaunchArgument(
            "verify_key",
            default_value="",
            description="PEM public key the bundle and critic must be signed with, set on "
            "every node that loads them (empty = unsigned accepted)",
        ),
        DeclareLaunchArgument(
            "task", default_value="objnav", description="objnav | pickup | fetch"
        ),
        DeclareLaunchArgument(
            "backend", default_value="mujoco", description="simulator: mujoco | thor"
        ),
        DeclareLaunchArgument("namespace", default_value="", description="robot namespace"),
        DeclareLaunchArgument(
            "record_dir",
            default_value="",
            description="safety recorder output folder (empty = $ROS_HOME/safevla_recordings)",
        ),
    ]
    bundle = LaunchConfiguration("bundle")
    overrides = {  # launch arguments, applied after the parameter files
        "perception_node": {"bundle_path": bundle},
        "policy_node": {
            "bundle_path": bundle,
            "break_dither": break_dither_param(
                LaunchConfiguration("critic"), LaunchConfiguration("break_dither")
            ),
        },
        "safety_monitor_node": {
            "bundle_path": bundle,  # the critic is checked against it
            "critic_bundle": LaunchConfiguration("critic"),
        },
        "sim_bridge_node": {
            "task": LaunchConfiguration("task"),
            "backend": LaunchConfiguration("backend"),
            "bundle_path": bundle,  # render at the bundle's training frame size
        },
        "safety_recorder_node": {"output_dir": LaunchConfiguration("record_dir")},
    }
    namespace, key = LaunchConfiguration("namespace"), LaunchConfiguration("verify_key")
    group = bringup_group(SIM, files, overrides, namespace, key)
    return LaunchDescription([*args, group])
