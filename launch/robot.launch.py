# ruff: noqa: I001  (launch/ here is this folder, not the ROS `launch` package)
"""Bring up the safevla_ros runtime on a robot: perception, policy, safety monitor, adapter,
safety recorder.

    ros2 launch safevla_ros robot.launch.py bundle:=/path/to/bundle [critic:=/path/to/critic] \\
        [break_dither:=auto] [verify_key:=/path/to/fleet.pub] \\
        camera_topic:=/camera/color/image_raw cmd_vel:=/cmd_vel namespace:=robot1 \\
        [record_dir:=/data/safevla_recordings]

The nodes are those of the ``robot`` bringup in the node table (safevla_ros/nodes.py). Their
parameters are the defaults of safevla_ros/params.py, overridden by config/robot.yaml
(installed under share/safevla_ros/config), then by the launch arguments (bundle path and
topics). ``verify_key`` is set on every node that loads the bundle or the critic, one key for
all (a key in a parameter file is overridden). The safety monitor is the only node whose
output reaches the adapter, and the adapter is the only node publishing on cmd_vel.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

from safevla_core.action_choice import SHIELDED_BREAK_DITHER
from safevla_ros.launch_helpers import AUTO, PACKAGE, break_dither_param, bringup_group
from safevla_ros.nodes import CONFIG_FILES, ROBOT


def generate_launch_description():
    share = FindPackageShare(PACKAGE)
    (config_file,) = CONFIG_FILES[ROBOT]
    config = PathJoinSubstitution([share, "config", config_file])
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
            "camera_topic",
            default_value="camera/image_raw",
            description="sensor_msgs/Image input of the perception node",
        ),
        DeclareLaunchArgument(
            "manip_camera_topic",
            default_value="manip_camera/image_raw",
            description="sensor_msgs/Image of the wrist camera, read only for a bundle that sees "
            "it (image.camera nav_rgb+manip_rgb)",
        ),
        DeclareLaunchArgument(
            "cmd_vel",
            default_value="cmd_vel",
            description="geometry_msgs/Twist output of the adapter",
        ),
        DeclareLaunchArgument(
            "namespace",
            default_value="",
            description="robot namespace (one per robot on a shared domain)",
        ),
        DeclareLaunchArgument(
            "record_dir",
            default_value="",
            description="safety recorder output folder (empty = $ROS_HOME/safevla_recordings)",
        ),
        DeclareLaunchArgument(
            "params_file", default_value=config, description="parameter YAML of the runtime nodes"
        ),
    ]
    bundle = LaunchConfiguration("bundle")
    overrides = {  # launch arguments, applied after the parameter file
        "perception_node": {
            "bundle_path": bundle,
            "image_topic": LaunchConfiguration("camera_topic"),
            "manip_image_topic": LaunchConfiguration("manip_camera_topic"),
        },
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
        "action_adapter_node": {"cmd_vel_topic": LaunchConfiguration("cmd_vel")},
        "safety_recorder_node": {"output_dir": LaunchConfiguration("record_dir")},
    }
    files = [LaunchConfiguration("params_file")]
    namespace, key = LaunchConfiguration("namespace"), LaunchConfiguration("verify_key")
    group = bringup_group(ROBOT, files, overrides, namespace, key)
    return LaunchDescription([*args, group])
