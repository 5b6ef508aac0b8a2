# ruff: noqa: I001  (launch/ here is this folder, not the ROS `launch` package)
"""Sim-in-the-loop: the robot runtime plus the sim bridge (embedded MuJoCo simulator).

    ros2 launch safevla_ros sim.launch.py bundle:=/path/to/bundle task:=objnav

Same nodes and config/robot.yaml as robot.launch.py, then config/sim.yaml (the adapter drives
the simulator's action topic; sim bridge settings). Without ``ros2 launch`` (pip install),
``safevla run --sim`` starts the same processes with the same files.
"""

import importlib.util
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

PACKAGE = "safevla_ros"
ROBOT_CONFIG_FILE = "robot.yaml"
SIM_CONFIG_FILE = "sim.yaml"


def _robot_launch():
    """robot.launch.py next to this file (its name is not an importable module name)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "robot.launch.py")
    spec = importlib.util.spec_from_file_location("safevla_robot_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate_launch_description():
    share = FindPackageShare(PACKAGE)
    robot_cfg = PathJoinSubstitution([share, "config", ROBOT_CONFIG_FILE])
    sim_cfg = PathJoinSubstitution([share, "config", SIM_CONFIG_FILE])
    args = [
        DeclareLaunchArgument("bundle", description="model bundle folder (bundle.json inside)"),
        DeclareLaunchArgument(
            "task", default_value="objnav", description="objnav | pickup | fetch"
        ),
        DeclareLaunchArgument("namespace", default_value="", description="robot namespace"),
    ]
    nodes = _robot_launch().runtime_nodes(
        robot_cfg,
        LaunchConfiguration("bundle"),
        "camera/image_raw",
        "cmd_vel",
        extra_files=(sim_cfg,),
    )
    sim = Node(
        package=PACKAGE,
        executable="sim_bridge_node",
        name="sim_bridge_node",
        parameters=[robot_cfg, sim_cfg, {"task": LaunchConfiguration("task")}],
        output="screen",
    )
    group = GroupAction([PushRosNamespace(LaunchConfiguration("namespace")), *nodes, sim])
    return LaunchDescription([*args, group])
