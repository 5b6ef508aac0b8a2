"""What both launch files build: one bringup of the node table as a namespaced group.

Imported by ``launch/*.launch.py`` inside a ROS 2 install (``launch`` and ``launch_ros`` come
from the distribution; they are imported when the group is built, so the rest of the package
never needs them).
"""

from __future__ import annotations

from safevla_ros.nodes import nodes_of

PACKAGE = "safevla_ros"


def bringup_group(bringup: str, files: list, overrides: dict, namespace):
    """A ``GroupAction``: ``PushRosNamespace(namespace)`` then one ``Node`` per executable of
    ``bringup``, each with the parameter ``files`` (in order) and its entry of ``overrides``
    (launch arguments, applied last)."""
    from launch.actions import GroupAction
    from launch_ros.actions import Node, PushRosNamespace

    nodes = [
        Node(
            package=PACKAGE,
            executable=n.name,
            name=n.name,
            parameters=[*files, *([overrides[n.name]] if n.name in overrides else [])],
            output="screen",
        )
        for n in nodes_of(bringup)
    ]
    return GroupAction([PushRosNamespace(namespace), *nodes])
