# ruff: noqa: I001  (launch/ here is this folder, not the ROS `launch` package)
"""Bring up the safevla_ros runtime on a robot: perception, policy, safety monitor, adapter.

    ros2 launch safevla_ros robot.launch.py bundle:=/path/to/bundle \\
        camera_topic:=/camera/color/image_raw cmd_vel:=/cmd_vel namespace:=robot1

Parameters come from config/robot.yaml (installed under share/safevla_ros/config); the launch
arguments override the bundle path and topics. The safety monitor is the only node whose
output reaches the adapter, and the adapter is the only node publishing on cmd_vel.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

PACKAGE = "safevla_ros"
CONFIG_FILE = "robot.yaml"


def runtime_nodes(params_file, bundle, camera_topic, cmd_vel, extra_files=()):
    """The four runtime nodes, each with the shared parameter file(s) and overrides."""
    files = [params_file, *extra_files]
    return [
        Node(
            package=PACKAGE,
            executable="perception_node",
            name="perception_node",
            parameters=[*files, {"bundle_path": bundle, "image_topic": camera_topic}],
            output="screen",
        ),
        Node(
            package=PACKAGE,
            executable="policy_node",
            name="policy_node",
            parameters=[*files, {"bundle_path": bundle}],
            output="screen",
        ),
        Node(
            package=PACKAGE,
            executable="safety_monitor_node",
            name="safety_monitor_node",
            parameters=files,
            output="screen",
        ),
        Node(
            package=PACKAGE,
            executable="action_adapter_node",
            name="action_adapter_node",
            parameters=[*files, {"cmd_vel_topic": cmd_vel}],
            output="screen",
        ),
    ]


def generate_launch_description():
    config = PathJoinSubstitution([FindPackageShare(PACKAGE), "config", CONFIG_FILE])
    args = [
        DeclareLaunchArgument("bundle", description="model bundle folder (bundle.json inside)"),
        DeclareLaunchArgument(
            "camera_topic",
            default_value="camera/image_raw",
            description="sensor_msgs/Image input of the perception node",
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
            "params_file", default_value=config, description="parameter YAML of the runtime nodes"
        ),
    ]
    nodes = runtime_nodes(
        LaunchConfiguration("params_file"),
        LaunchConfiguration("bundle"),
        LaunchConfiguration("camera_topic"),
        LaunchConfiguration("cmd_vel"),
    )
    group = GroupAction([PushRosNamespace(LaunchConfiguration("namespace")), *nodes])
    return LaunchDescription([*args, group])
