"""The package's executables in one table: the runtime nodes and the ``safevla`` CLI.

Everything that lists nodes reads this table: setup.py (console scripts), the launch files
(which nodes a bringup starts, with which parameter files), ``safevla run --sim`` (the sim
bringup without ``ros2 launch``) and the tests, which also keep ``ros_scripts/`` (the
``ros2 run`` launchers that CMakeLists.txt installs) equal to :func:`ros_script` of each row.
Adding a node is its ``*_node.py``, its spec in :mod:`safevla_ros.params` and one row here;
then ``python -m safevla_ros.nodes`` writes its ``ros_scripts/`` launcher.

Standard library only and no package imports at load time: setup.py runs this file directly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Executable:
    """One executable of the package.

    Attributes:
        name: the console script, ``ros2 run`` executable, ``ros_scripts/`` file and, for a node,
            the ROS node name (the section name in ``config/*.yaml``).
        module: the module whose ``main()`` it runs.
        params: name of the node's parameter spec tuple in :mod:`safevla_ros.params`; empty for
            an executable that is not a node.
        bringups: the bringups that start it; bringup ``b`` is ``launch/b.launch.py``.
    """

    name: str
    module: str
    params: str = ""
    bringups: tuple[str, ...] = ()

    @property
    def entry_point(self) -> str:
        """The setuptools ``console_scripts`` entry."""
        return f"{self.name} = {self.module}:main"

    def specs(self) -> tuple:
        """The node's :class:`~safevla_ros.params.ParamSpec` tuple (empty for the CLI)."""
        if not self.params:
            return ()
        from safevla_ros import params

        return getattr(params, self.params)


ROBOT, SIM = "robot", "sim"
# Parameter files (config/) of each bringup, in load order: a later file's value wins.
CONFIG_FILES: dict[str, tuple[str, ...]] = {
    ROBOT: ("robot.yaml",),
    SIM: ("robot.yaml", "sim.yaml"),
}

NODES: tuple[Executable, ...] = (
    Executable(
        "perception_node", "safevla_ros.perception_node", "PERCEPTION_PARAMS", (ROBOT, SIM)
    ),
    Executable("policy_node", "safevla_ros.policy_node", "POLICY_PARAMS", (ROBOT, SIM)),
    Executable(
        "safety_monitor_node", "safevla_ros.safety_monitor_node", "MONITOR_PARAMS", (ROBOT, SIM)
    ),
    Executable(
        "action_adapter_node", "safevla_ros.action_adapter_node", "ADAPTER_PARAMS", (ROBOT, SIM)
    ),
    Executable("sim_bridge_node", "safevla_ros.sim_bridge_node", "SIM_BRIDGE_PARAMS", (SIM,)),
    Executable(
        "safety_recorder_node", "safevla_ros.safety_recorder_node", "RECORDER_PARAMS", (ROBOT, SIM)
    ),
)
CLI = Executable("safevla", "safevla_ros.cli.main")
EXECUTABLES: tuple[Executable, ...] = (*NODES, CLI)


def node(name: str) -> Executable:
    """The node called ``name``.

    Raises:
        KeyError: naming the known nodes.
    """
    for n in NODES:
        if n.name == name:
            return n
    raise KeyError(f"no node {name!r}; nodes: {[n.name for n in NODES]}")


def nodes_of(bringup: str) -> tuple[Executable, ...]:
    """The nodes a bringup starts, in table order."""
    if bringup not in CONFIG_FILES:
        raise KeyError(f"no bringup {bringup!r}; bringups: {sorted(CONFIG_FILES)}")
    return tuple(n for n in NODES if bringup in n.bringups)


def launch_file(bringup: str) -> str:
    """The launch file name of a bringup."""
    return f"{bringup}.launch.py"


def ros_script(exe: Executable) -> str:
    """The text of ``ros_scripts/<name>``: ``ros2 run`` needs an executable file per node."""
    return (
        "#!/usr/bin/env python3\n"
        f'"""`ros2 run safevla_ros {exe.name}`; written by `python -m safevla_ros.nodes`."""\n\n'
        "import sys\n\n"
        f"from {exe.module} import main\n\n"
        'if __name__ == "__main__":\n'
        "    sys.exit(main())\n"
    )


def write_ros_scripts(folder: Path) -> list[Path]:
    """Write one executable launcher per row into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for exe in EXECUTABLES:
        path = folder / exe.name
        path.write_text(ros_script(exe))
        path.chmod(0o755)
        paths.append(path)
    return paths


if __name__ == "__main__":
    # Only in a source checkout: ros_scripts/ sits next to this package.
    written = write_ros_scripts(Path(__file__).resolve().parents[1] / "ros_scripts")
    print("\n".join(str(p) for p in written))
    sys.exit(0)
