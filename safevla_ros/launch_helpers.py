"""What both launch files build: one bringup of the node table as a namespaced group.

Imported by ``launch/*.launch.py`` inside a ROS 2 install (``launch`` and ``launch_ros`` come
from the distribution; they are imported when the group is built, so the rest of the package
never needs them).
"""

from __future__ import annotations

from safevla_core.action_choice import SHIELDED_BREAK_DITHER
from safevla_ros.nodes import nodes_of

PACKAGE = "safevla_ros"

AUTO = "auto"  # the break_dither launch argument's default: on with a critic, else off


def dither_expression(critic, break_dither) -> list:
    """The parts of the ``PythonExpression`` that gives the policy node its ``break_dither``
    from the ``critic`` and ``break_dither`` launch arguments: ``auto`` = the breaker's
    shielded count with a critic, 0 without
    (:func:`safevla_core.action_choice.default_break_dither`, as ``safevla run --sim`` and
    ``safevla eval``); a number = that number (the node refuses a bad one at configure)."""
    q = "'" * 3  # the arguments are quoted as long strings: a path may hold a quote
    tail = f"{q} == '{AUTO}' else int({q}"
    return [
        f"({SHIELDED_BREAK_DITHER} if {q}",
        critic,
        f"{q} else 0) if {q}",
        break_dither,
        tail,
        break_dither,
        f"{q})",
    ]


def break_dither_param(critic, break_dither):
    """The policy node's ``break_dither`` override (see :func:`dither_expression`)."""
    from launch.substitutions import PythonExpression

    return PythonExpression(dither_expression(critic, break_dither))


def bringup_group(bringup: str, files: list, overrides: dict, namespace, verify_key):
    """A ``GroupAction``: ``PushRosNamespace(namespace)`` then one ``Node`` per executable of
    ``bringup``, each with the parameter ``files`` (in order) and its entry of ``overrides``
    (launch arguments, applied last).

    ``verify_key`` (the ``verify_key`` launch argument) is set on every node that declares
    the parameter (those that load the bundle: perception, policy, safety monitor), one value
    for all: the monitor never judges a bundle or critic under another key than the policy
    runs with, and a key in a parameter file cannot reach one node and miss another."""
    from launch.actions import GroupAction
    from launch_ros.actions import Node, PushRosNamespace

    def params_of(n) -> list:
        extra = dict(overrides.get(n.name, {}))
        if any(s.name == "verify_key" for s in n.specs()):
            extra["verify_key"] = verify_key
        return [*files, *([extra] if extra else [])]

    nodes = [
        Node(
            package=PACKAGE,
            executable=n.name,
            name=n.name,
            parameters=params_of(n),
            output="screen",
        )
        for n in nodes_of(bringup)
    ]
    return GroupAction([PushRosNamespace(namespace), *nodes])
