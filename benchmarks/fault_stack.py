"""The runtime stack under test of the fault benchmarks (fault_matrix.py, soak.py).

The four runtime nodes (perception, policy, safety monitor, action adapter) run as separate
processes with the same executables and parameter files as ``safevla run --sim``
(config/robot.yaml, config/sim.yaml, then this run's overrides), supervised by the runner's own
:class:`safevla_ros.runner.Supervisor` (a node that exits is restarted at once, as under
``safevla run``), in a ROS domain of their own. The monitor and the adapter share a verdict key
(``verdict_key_file``), as recommended on a robot. This process plays the camera (a fixed
128x96 rgb8 frame at ``rate_hz``; faults pause, thin out or re-stamp it) and records what the
actuator side does, with receive times on this process's monotonic clock.

Node logs (and ROS_LOG_DIR) live on a small tmpfs when this process may mount one (root), so a
fault can fill the disk under them; otherwise in a plain folder and that fault is skipped.

Signals, from what the recorder receives:

* **stop**: a zero Twist on ``cmd_vel``, ``stop`` on ``sim/action``, or a stop verdict of the
  configured monitor;
* **go**: a non-zero Twist, or an executed moving action on ``sim/action``.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from bisect import bisect_left
from collections import defaultdict
from pathlib import Path

import numpy as np
import rclpy
import yaml
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image
from std_msgs.msg import String

from safevla_core.action_adapter import MotionProfile, command_for
from safevla_core.actions import ACTION_NAMES, ACTIONS
from safevla_ros.msg import SafetyEvent, SafetyVerdict
from safevla_ros.msg_conversions import verdict_in
from safevla_ros.nodes import CONFIG_FILES, ROBOT, SIM, nodes_of
from safevla_ros.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from safevla_ros.runner import Supervisor, config_dir, node_env

REPO = Path(__file__).resolve().parents[1]
RUNTIME = nodes_of(ROBOT)  # perception, policy, safety monitor, action adapter
CAM, VERDICT, CMD, SIM_ACTION = "camera/image_raw", "safevla/verdict", "cmd_vel", "sim/action"
EVENTS, ESTOP, PROP, FRAME_STAMP = (
    "safevla/safety_events",
    "safevla/estop",
    "safevla/proposal",
    "safevla/image_stamp",
)
MONITOR_NAME = "/safety_monitor_node"  # the adapter's configured monitor (no namespace)
PROFILE = MotionProfile()  # config/robot.yaml keeps the default motion profile
MOVING = frozenset(a.name for a in ACTIONS if a.moves_robot)
# A Twist may reach the recorder a little before the verdict behind it (two publishers, one
# executor): this much earlier still counts as "after" the verdict.
ORDER_SLACK_S = 0.2
LONGEST_S = max(command_for(i, PROFILE).duration_s for i in range(len(ACTIONS)))


class Recorder:
    """An rclpy node in this process: publishes the inputs, records the outputs."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("fault_harness", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.signals: list[tuple[float, str]] = []  # (t, "go" | "stop"), in receive order
        self.verdicts: list[tuple[float, SafetyVerdict, bool]] = []  # (t, msg, valid)
        self.commands: list[tuple[float, object]] = []  # non-stop Twists and sim actions
        self.events: list[tuple[float, SafetyEvent]] = []
        self._seen: set[tuple[str, int]] = set()
        self._last: dict[str, tuple[int, float]] = {}  # session -> (sequence, receive time)
        self.last_valid_t = 0.0  # receive time of the last valid verdict
        # (from, to): receive times around verdicts this process missed (see audit)
        self.gaps: list[tuple[float, float]] = []
        self._pubs: dict[str, object] = {}
        sub = self.node.create_subscription
        sub(SafetyVerdict, VERDICT, self._on_verdict, 50)
        sub(Twist, CMD, self._on_twist, RELIABLE_QOS)
        sub(String, SIM_ACTION, self._on_sim_action, RELIABLE_QOS)
        sub(SafetyEvent, EVENTS, lambda m: self.events.append((time.monotonic(), m)), 50)

    def valid(self, msg: SafetyVerdict) -> bool:
        """From the configured monitor, HMAC right, and the first receipt of its sequence."""
        ident = (msg.monitor_id, int(msg.verdict_sequence))
        ok = msg.monitor_id.split("#")[0] == MONITOR_NAME and msg.auth == verdict_in(msg).digest(
            self.key
        )
        if ok and ident in self._seen:
            return False  # a replay of a verdict already received
        if ok:
            self._seen.add(ident)
        return ok

    def _on_verdict(self, msg: SafetyVerdict) -> None:
        t, ok = time.monotonic(), self.valid(msg)
        self.verdicts.append((t, msg, ok))
        if ok:  # a sequence gap: the monitor sent verdicts this process did not get
            seq, (last, t_last) = int(msg.verdict_sequence), self._last.get(msg.monitor_id, (0, 0))
            if seq > last + 1:  # a new session counts from the last verdict of any session
                self.gaps.append((t_last if last else self.last_valid_t, t))
            self._last[msg.monitor_id] = (max(seq, last), t)
            self.last_valid_t = t
        if ok and msg.safe_stop:
            self.signals.append((t, "stop"))

    def _on_twist(self, msg: Twist) -> None:
        t = time.monotonic()
        go = msg.linear.x != 0.0 or msg.angular.z != 0.0
        self.signals.append((t, "go" if go else "stop"))
        if go:
            self.commands.append((t, msg))

    def _on_sim_action(self, msg: String) -> None:
        t = time.monotonic()
        if msg.data == "stop":
            self.signals.append((t, "stop"))
            return
        self.commands.append((t, msg))
        if msg.data in MOVING:
            self.signals.append((t, "go"))

    def publisher(self, topic: str, msg_type, qos=RELIABLE_QOS):
        if topic not in self._pubs:
            self._pubs[topic] = self.node.create_publisher(msg_type, topic, qos)
        return self._pubs[topic]

    def now_msg(self, offset_s: float = 0.0) -> Time:
        """This process's ROS clock (+ offset) as a builtin_interfaces/Time."""
        t = self.node.get_clock().now().nanoseconds + int(offset_s * 1e9)
        sec, nanosec = divmod(t, 1_000_000_000)
        return Time(sec=sec, nanosec=nanosec)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


class Camera:
    """A fixed frame at ``rate_hz``. Faults set ``paused``, ``drop_p`` (chance a frame is not
    sent) and ``age_s`` (the stamp lies this far in the past; negative = future)."""

    def __init__(self, recorder: Recorder, rate_hz: float, seed: int = 0) -> None:
        self.recorder, self.period = recorder, 1.0 / rate_hz
        self.rng = random.Random(seed)
        self.pixels = np.random.default_rng(seed).integers(0, 256, (96, 128, 3), np.uint8)
        self.pub = recorder.publisher(CAM, Image, SENSOR_QOS)
        self.paused, self.drop_p, self.age_s = False, 0.0, 0.0
        self.next_t = time.monotonic()

    def reset(self) -> None:
        self.paused, self.drop_p, self.age_s = False, 0.0, 0.0

    def tick(self, now: float) -> None:
        if now < self.next_t:
            return
        self.next_t = max(self.next_t + self.period, now)  # no burst after a stall
        if self.paused or self.rng.random() < self.drop_p:
            return
        h, w, _ = self.pixels.shape
        msg = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=self.pixels.tobytes())
        msg.header.stamp, msg.header.frame_id = self.recorder.now_msg(-self.age_s), "camera"
        self.pub.publish(msg)


def _mount_tmpfs(folder: Path, size_mb: int) -> str:
    """Mount a tmpfs of ``size_mb`` on ``folder``; returns why not ("" when mounted)."""
    if os.geteuid() != 0:
        return "not root: cannot mount a small tmpfs for the logs"
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    return "" if r.returncode == 0 else f"mount tmpfs failed: {r.stderr.strip()[:200]}"


class Stack:
    """The runtime nodes, the camera and the recorder; see the module docstring.

    Args:
        bundle: model bundle folder.
        rate_hz: camera frame rate.
        domain: ROS_DOMAIN_ID (default random in 1..101).
        log_tmpfs_mb: size of the log tmpfs (0 = a plain folder).
        params: per-node parameter overrides, ``{node name: {param: value}}``.
    """

    def __init__(
        self,
        bundle: str | Path,
        rate_hz: float = 10.0,
        domain: int | None = None,
        log_tmpfs_mb: int = 64,
        params: dict | None = None,
    ) -> None:
        self.bundle = Path(bundle).resolve()
        self.run_dir = Path(tempfile.mkdtemp(prefix="safevla-faults-"))
        self.log_dir = self.run_dir / "logs"
        self.log_dir.mkdir()
        self.tmpfs_problem = _mount_tmpfs(self.log_dir, log_tmpfs_mb) if log_tmpfs_mb else "off"
        self.key = base64.b64encode(os.urandom(32))
        key_file = self.run_dir / "verdict.key"
        key_file.write_bytes(self.key)
        over: dict = defaultdict(dict)
        for name in ("perception_node", "policy_node"):
            over[name]["bundle_path"] = str(self.bundle)
        for name in ("safety_monitor_node", "action_adapter_node"):
            over[name]["verdict_key_file"] = str(key_file)
        for name, values in (params or {}).items():
            over[name].update(values)
        extra = self.run_dir / "overrides.yaml"
        extra.write_text(yaml.safe_dump({k: {"ros__parameters": v} for k, v in over.items()}))
        files = [*(config_dir() / f for f in CONFIG_FILES[SIM]), extra]
        self.domain = domain if domain is not None else random.SystemRandom().randint(1, 101)
        self._environ = dict(os.environ)  # restored by close(): tests share this process
        os.environ.update(
            ROS_DOMAIN_ID=str(self.domain),
            ROS_LOCALHOST_ONLY="1",
            ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        )
        env = node_env(self.domain)
        env["ROS_LOG_DIR"] = str(self.log_dir / "ros")
        os.environ.update({k: v for k, v in env.items() if "PROFILES_FILE" in k})
        self.recorder = Recorder(self.key)
        self.camera = Camera(self.recorder, rate_hz)
        self.hooks: list = []  # called with (stack, now) on every spin iteration
        self.supervisor = Supervisor(env, files, self.log_dir, RUNTIME, max_restarts=10**6)
        instruction = self.recorder.publisher("safevla/instruction", String, LATCHED_QOS)
        instruction.publish(String(data="find an apple"))
        self.filler: Path | None = None

    # --- processes ---------------------------------------------------------------------------

    def proc(self, name: str) -> subprocess.Popen:
        return self.supervisor.procs[[n.name for n in RUNTIME].index(name)]

    def send(self, name: str, sig: int) -> None:
        """Send ``sig`` to node ``name`` (by its process id); SIGKILL also reaps it."""
        p = self.proc(name)
        p.send_signal(sig)
        if sig == signal.SIGKILL:
            p.wait(5)

    def restarts(self) -> dict[str, int]:
        return dict(self.supervisor.restarts)

    def alive(self) -> dict[str, bool]:
        return {n.name: p.poll() is None for n, p in zip(RUNTIME, self.supervisor.procs)}

    def rss_kib(self) -> dict[str, tuple[int, int]]:
        """``{node: (pid, VmRSS KiB)}`` of the running node processes."""
        out = {}
        for n, p in zip(RUNTIME, self.supervisor.procs):
            try:
                status = Path(f"/proc/{p.pid}/status").read_text()
            except OSError:
                continue
            kib = next((int(x.split()[1]) for x in status.splitlines() if x[:6] == "VmRSS:"), 0)
            out[n.name] = (p.pid, kib)
        return out

    def log_sizes(self) -> dict[str, int]:
        return {n.name: self._log(n.name).stat().st_size for n in RUNTIME}

    def log_since(self, name: str, offset: int) -> str:
        with open(self._log(name), "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    # --- disk ----------------------------------------------------------------------------------

    def fill_disk(self) -> int:
        """Fill the log tmpfs until ENOSPC; returns the bytes written.

        tmpfs allocates whole pages, so a full disk still takes appends into the part of each
        log file's last page that is free: those are padded with newlines too, so the nodes'
        next log line really fails (the blank lines in a log mark the fault).
        """
        self.filler = self.log_dir / "filler.bin"
        written = _fill(self.filler, "wb", b"\0", (1 << 20, 1 << 12, 1))
        for log in sorted(self.log_dir.rglob("*.log")):
            written += _fill(log, "ab", b"\n", (512, 64, 1))
        return written

    def free_disk(self) -> None:
        if self.filler is not None:
            self.filler.unlink(missing_ok=True)
            self.filler = None

    # --- time ----------------------------------------------------------------------------------

    def spin(self, seconds: float, until=None) -> bool:
        """Run camera, supervisor, hooks and callbacks for ``seconds`` or until ``until()``."""
        end = time.monotonic() + seconds
        next_check = 0.0
        while True:
            now = time.monotonic()
            if until is not None and until():
                return True
            if now >= end:
                return False
            self.camera.tick(now)
            if now >= next_check:  # as often as `safevla run` polls its nodes
                self.supervisor.check()
                next_check = now + 0.1
            for hook in self.hooks:
                hook(self, now)
            self.recorder.executor.spin_once(timeout_sec=0.005)

    def moving(self, within_s: float = 0.3) -> bool:
        """The newest signal is a go, received within ``within_s``."""
        s = self.recorder.signals
        return bool(s) and s[-1][1] == "go" and time.monotonic() - s[-1][0] <= within_s

    def signals(self, t0: float, t1: float = float("inf")) -> list[tuple[float, str]]:
        s = self.recorder.signals
        i = bisect_left(s, (t0, ""))
        return [x for x in s[i:] if x[0] < t1]

    def audit(self, t0: float = 0.0, t1: float = float("inf")) -> tuple[list[str], list[str]]:
        """Commands in ``[t0, t1)`` that no valid verdict received just before explains: a
        non-zero Twist needs a motion verdict whose command it is, within that command's
        duration; a sim action a verdict executing that action.

        Returns:
            (unverified, unseen): ``unseen`` are those received while this process missed
            verdicts of the monitor: a gap in a session's sequence (a writer queue overflowed
            by a burst), or a new session (a restarted monitor) whose first verdict seen here
            is not its first (discovery still under way). The sequence is signed, so only the
            monitor can make such a gap; the command is unexplained here, not shown
            unverified. ``unverified`` are all the others.
        """
        good = [(t, v) for t, v, ok in self.recorder.verdicts if ok and not v.safe_stop]
        times, gaps = [t for t, _ in good], self.recorder.gaps
        unverified, unseen = [], []
        for t, m in self.recorder.commands:
            if not t0 <= t < t1:
                continue
            lo = bisect_left(times, t - LONGEST_S - ORDER_SLACK_S)
            hi = bisect_left(times, t + ORDER_SLACK_S + 1e-9)
            if any(_explains(v, tv, m, t) for tv, v in good[lo:hi]):
                continue
            what = m.data if isinstance(m, String) else f"Twist({m.linear.x}, {m.angular.z})"
            missed = any(a - ORDER_SLACK_S <= t <= b + ORDER_SLACK_S for a, b in gaps)
            (unseen if missed else unverified).append(f"{what} at {t:.3f}")
        return unverified, unseen

    def close(self, keep_logs: bool = True) -> Path:
        """Stop the nodes (SIGINT, then SIGKILL), save the logs, unmount; returns the logs."""
        self.free_disk()
        for p in self.supervisor.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)  # a frozen process cannot handle SIGINT
        self.supervisor.stop()
        self.recorder.close()
        os.environ.clear()
        os.environ.update(self._environ)
        saved = self.run_dir / "node-logs"
        if keep_logs:
            shutil.copytree(self.log_dir, saved, dirs_exist_ok=True)
        if not self.tmpfs_problem:
            subprocess.run(["umount", "-l", str(self.log_dir)], check=False)
        return saved


def _explains(v: SafetyVerdict, tv: float, m, t: float) -> bool:
    if not 0 <= v.executed_action < len(ACTION_NAMES):
        return False
    cmd = command_for(int(v.executed_action), PROFILE)
    if not tv - ORDER_SLACK_S <= t <= tv + cmd.duration_s + ORDER_SLACK_S:
        return False
    if isinstance(m, String):
        return m.data == v.executed_action_name
    return abs(m.linear.x - cmd.linear_x) < 1e-6 and abs(m.angular.z - cmd.angular_z) < 1e-6


def _fill(path: Path, mode: str, byte: bytes, chunks: tuple[int, ...]) -> int:
    """Write ``byte`` to ``path`` in ever smaller chunks until the disk refuses; bytes written."""
    written = 0
    with open(path, mode, buffering=0) as f:
        for chunk in chunks:
            try:
                while True:
                    written += f.write(byte * chunk)
            except OSError:
                continue
    return written
