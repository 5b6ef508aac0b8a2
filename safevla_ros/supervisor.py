"""The node processes of ``safevla run --sim``: where they find their parameter files, their
environment, starting them, restarting the ones that exit, and stopping them.

A node that exits is restarted (at most ``MAX_RESTARTS`` times, logged); the nodes die with the
process that started them, even when it is killed: each gets ``SAFEVLA_PARENT_PID`` and asks
Linux for SIGTERM on its parent's death (``PR_SET_PDEATHSIG``, see
:func:`safevla_ros.ros_common.die_with_parent`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from safevla_core.errors import UserError
from safevla_ros.nodes import CONFIG_FILES, SIM, Executable, nodes_of

REPO = Path(__file__).resolve().parents[1]
NODES = nodes_of(SIM)  # the nodes launch/sim.launch.py starts
MAX_RESTARTS = 3  # per node and run; then the run fails with the node's log tail


def config_dir() -> Path:
    """config/ of a source checkout, else share/safevla_ros/config of a ROS install."""
    local = REPO / "config"
    if (local / CONFIG_FILES[SIM][0]).is_file():
        return local
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("safevla_ros")) / "config"
    except Exception:  # no ament index: report the checkout path we expected
        raise UserError(f"cannot find config/{CONFIG_FILES[SIM][0]} (looked in {local})") from None


def node_env(domain: int) -> dict:
    """Environment of the node processes: the ROS domain, unbuffered output, and the Fast DDS
    profile for camera-sized messages (config/fastdds_large_messages.xml) unless the user set
    one."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED="1")
    profile = config_dir() / "fastdds_large_messages.xml"
    keys = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
    if profile.is_file() and not any(k in env for k in keys):
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(profile)  # the name this Fast DDS reads
    return env


def start_node(
    n: Executable, env: dict, files: list[Path], log_dir: Path, ros_args: tuple[str, ...] = ()
) -> subprocess.Popen:
    """One node process with the parameter files and ``ros_args`` (e.g. ``-r __ns:=/robot_0``),
    output appended to ``log_dir/<name>.log``.

    The process gets ``SAFEVLA_PARENT_PID``: it asks Linux for SIGTERM when this process dies
    (:func:`safevla_ros.ros_common.die_with_parent`), so even a SIGKILL of the runner leaves no
    node running.
    """
    cmd = [sys.executable, "-m", n.module, "--ros-args", *ros_args]
    for f in files:
        cmd += ["--params-file", str(f)]
    log = open(log_dir / f"{n.name}.log", "a")  # noqa: SIM115 (lives as long as the process)
    env = dict(env, SAFEVLA_PARENT_PID=str(os.getpid()))
    return subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def start_nodes(
    env: dict,
    files: list[Path],
    log_dir: Path,
    nodes: tuple[Executable, ...] = NODES,
    ros_args: tuple[str, ...] = (),
) -> list[subprocess.Popen]:
    """One process per node, each with the parameter files, output to ``log_dir``."""
    return [start_node(n, env, files, log_dir, ros_args) for n in nodes]


def stop_nodes(procs: list[subprocess.Popen], timeout: float = 15.0) -> None:
    """SIGINT each process we started (by its id), wait up to ``timeout`` s for all of them
    together, then SIGKILL the ones still running. Never raises.

    The wait is long because the last words matter (the adapter's zero Twist, the monitor's stop
    verdict, the recorder closing its file) and a dozen Python processes on a loaded 2-core
    machine take seconds to end; unloaded, they end within a second. A killed process can take
    seconds more to go (freeing a model's memory); one still there after 10 s is named on
    stderr, not waited for.
    """
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
    deadline = time.monotonic() + 10.0
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"process {p.pid} still exiting after SIGKILL", file=sys.stderr, flush=True)


def _log_tail(log_dir: Path, name: str, lines: int = 8) -> list[str]:
    return (log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:]


class Supervisor:
    """The node processes of one run: a node that exits is restarted (at most
    ``max_restarts`` times, each logged on stderr); then the run fails naming it."""

    def __init__(
        self,
        env: dict,
        files: list[Path],
        log_dir: Path,
        nodes: tuple[Executable, ...] = NODES,
        max_restarts: int = MAX_RESTARTS,
        ros_args: tuple[str, ...] = (),
    ) -> None:
        self.env, self.files, self.log_dir, self.nodes = env, files, log_dir, nodes
        self.max_restarts, self.ros_args = max_restarts, ros_args
        self.procs = start_nodes(env, files, log_dir, nodes, ros_args)
        self.restarts = dict.fromkeys((n.name for n in nodes), 0)

    def check(self) -> None:
        """Restart every node that exited.

        Raises:
            UserError: a node exited more than ``max_restarts`` times.
        """
        for i, (n, p) in enumerate(zip(self.nodes, self.procs)):
            if p.poll() is None:
                continue
            tail = _log_tail(self.log_dir, n.name)
            if self.restarts[n.name] >= self.max_restarts:
                raise UserError(
                    f"{n.name} exited with status {p.returncode} after {self.max_restarts} "
                    f"restarts; its log ({self.log_dir / n.name}.log) ends with:\n  "
                    + "\n  ".join(tail)
                )
            self.restarts[n.name] += 1
            last = tail[-1] if tail else ""
            print(
                f"safevla run: {n.name} exited with status {p.returncode} ({last.strip()[:160]}); "
                f"restarting ({self.restarts[n.name]}/{self.max_restarts})",
                file=sys.stderr,
                flush=True,
            )
            self.procs[i] = start_node(n, self.env, self.files, self.log_dir, self.ros_args)

    def stop(self) -> None:
        stop_nodes(self.procs)


def check_alive(procs: list[subprocess.Popen], log_dir: Path) -> None:
    """Raise if any of ``procs`` (started for :data:`NODES`, in order) has exited.

    Raises:
        UserError: naming the first node that exited, with the tail of its log.
    """
    for name, p in zip((n.name for n in NODES), procs):
        if p.poll() is not None:
            tail = _log_tail(log_dir, name)
            raise UserError(
                f"{name} exited with status {p.returncode}; its log ({log_dir / name}.log) "
                "ends with:\n  " + "\n  ".join(tail)
            )
