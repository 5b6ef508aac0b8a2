"""Safety recorder node: the monitor's verdicts and events, /diagnostics, the instruction and the
camera frames around each veto or stop, written to rotating MCAP files for fleet reports.

Subscribes (raw: the messages are stored as the serialized CDR bytes they arrived as, with
``ros2msg`` schemas from the ``.msg`` files, :mod:`safevla_ros.msg_definitions`):

- ``verdict_topic`` (SafetyVerdict), ``event_topic`` (SafetyEvent): every message;
  ``diagnostics_topic`` (DiagnosticArray, global): every message except those whose statuses
  all come from this package's nodes in another namespace (another robot's);
- ``instruction_topic`` (std_msgs/String, latched): every instruction;
- ``image_topic`` (sensor_msgs/Image, best effort): every ``frame_every_n``-th frame, shrunk by
  ``frame_scale``, kept in a ring of the last ``frame_window_s`` seconds; the ring is written
  at each SafetyEvent (every veto and stop), and frames keep being written for
  ``frame_after_s`` after it. Frames away from events are never written.

Files rotate by size (``max_file_mb``) and age (``max_file_s``); every ``flush_period_s`` the
open chunk is finished and flushed, so ``kill -9`` loses at most that much. A write error (a
full disk, anything else) stops recording, logs it and publishes an ERROR on /diagnostics once
a second; the node keeps running, and the robot never waits for it: it only subscribes (best
effort for frames, keep-last queues otherwise). Logic: :mod:`safevla_core.recording`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import String

from safevla_core.image_preprocessing import ImageFormatError, decode_image
from safevla_core.recording import FrameRing, RotatingRecorder, RotationPolicy, downsample
from safevla_ros.msg import SafetyEvent, SafetyVerdict
from safevla_ros.msg_conversions import rgb_image
from safevla_ros.msg_definitions import DefinitionError, schema, type_name_of
from safevla_ros.nodes import NODES
from safevla_ros.params import RECORDER_PARAMS, ParameterError
from safevla_ros.ros_common import (
    ERROR,
    FAILURE,
    LATCHED_QOS,
    OK,
    RELIABLE_QOS,
    SENSOR_QOS,
    SUCCESS,
    declare_params,
    diagnostics,
    read_params,
    run_node,
)

# The role of each recorded topic (channel metadata "role"; the fleet report reads it).
ROLES = {
    "verdict_topic": ("verdict", SafetyVerdict),
    "event_topic": ("event", SafetyEvent),
    "diagnostics_topic": ("diagnostics", DiagnosticArray),
    "instruction_topic": ("instruction", String),
    "image_topic": ("frame", Image),
}
ROLES_BY_ROLE = {role: t for role, t in ROLES.values()}
NODE_NAMES = frozenset(n.name for n in NODES)
_QOS = {"instruction": LATCHED_QOS, "frame": SENSOR_QOS}


def default_output_dir() -> Path:
    """``$ROS_HOME/safevla_recordings`` (``~/.ros`` when ROS_HOME is unset)."""
    home = os.environ.get("ROS_HOME") or os.path.join(os.path.expanduser("~"), ".ros")
    return Path(home) / "safevla_recordings"


class SafetyRecorderNode(LifecycleNode):
    """Safety topics in, MCAP files out; never in the robot's path."""

    def __init__(self) -> None:
        super().__init__("safety_recorder_node")
        declare_params(self, RECORDER_PARAMS)
        self.counts = {"messages": 0, "frames_seen": 0, "frames_written": 0, "events": 0}
        self.recorder: RotatingRecorder | None = None
        self._subs, self._timers = [], []
        self._after_until_ns = 0

    def on_configure(self, state):
        try:
            p = read_params(self, RECORDER_PARAMS)
            topics = {role: self.resolve_topic_name(p[key]) for key, (role, _) in ROLES.items()}
            schemas = {topics[role]: schema(type_name_of(t)) for role, t in ROLES.values()}
        except (ParameterError, DefinitionError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        self.params, self.topics = p, topics
        self.robot_id = p["robot_id"] or self.get_namespace().strip("/") or "robot"
        self.ring = FrameRing(p["frame_window_s"])
        self._diag = self.create_publisher(DiagnosticArray, p["diagnostics_topic"], RELIABLE_QOS)
        self.folder = Path(p["output_dir"]).expanduser() if p["output_dir"] else None
        self.folder = self.folder or default_output_dir()
        policy = RotationPolicy(
            max_bytes=int(p["max_file_mb"] * 2**20),
            max_seconds=p["max_file_s"],
            flush_period_s=p["flush_period_s"],
        )
        meta = {k: str(v) for k, v in p.items()}  # robot_id: the parameter's value resolved
        meta |= {"robot_id": self.robot_id, "node": self.get_fully_qualified_name()}
        meta |= {f"topic.{role}": topic for role, topic in topics.items()}
        self.recorder = RotatingRecorder(
            self.folder,
            re.sub(r"[^A-Za-z0-9_.-]", "_", self.robot_id),
            schemas,
            policy,
            meta,
            on_error=self.on_record_error,
            channel_roles={topic: role for role, topic in topics.items()},
        )
        if self.recorder.recording:
            self.get_logger().info(f"recording to {self.recorder.path}")
        return SUCCESS

    def on_activate(self, state):
        t = self.topics
        self._subs = [
            self._raw(t[role], ROLES_BY_ROLE[role], self._store(t[role]), _QOS.get(role))
            for role in ("verdict", "instruction")
        ]
        self._subs.append(self._raw(t["diagnostics"], DiagnosticArray, self.on_diagnostics))
        self._subs.append(self._raw(t["event"], SafetyEvent, self.on_event))
        self._subs.append(self._raw(t["frame"], Image, self.on_frame, SENSOR_QOS))
        self._timers = [
            self.create_timer(self.params["flush_period_s"], self.on_tick),
            self.create_timer(1.0, self.publish_status),
        ]
        return super().on_activate(state)

    def on_deactivate(self, state):
        for s in self._subs:
            self.destroy_subscription(s)
        for tm in self._timers:
            self.destroy_timer(tm)
        self._subs, self._timers = [], []
        return super().on_deactivate(state)

    def _raw(self, topic, msg_type, callback, qos=None):
        return self.create_subscription(msg_type, topic, callback, qos or RELIABLE_QOS, raw=True)

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _store(self, topic: str):
        def store(data: bytes) -> None:
            self.counts["messages"] += int(self.recorder.write(topic, self._now_ns(), data))

        return store

    def on_diagnostics(self, data: bytes) -> None:
        """Record a DiagnosticArray unless every status in it is another robot's node of
        this package (/diagnostics is one topic for all robots on the domain)."""
        msg = deserialize_message(data, DiagnosticArray)
        if msg.status and all(self._foreign(s.name) for s in msg.status):
            return
        self._store(self.topics["diagnostics"])(data)

    def _foreign(self, name: str) -> bool:
        """``name`` is a node of the node table in another namespace than this recorder's."""
        ns, _, base = name.rpartition("/")
        return base in NODE_NAMES and (ns or "/") != self.get_namespace()

    def on_event(self, data: bytes) -> None:
        """Record the event; write the frames of the window before it, and keep writing frames
        for ``frame_after_s``."""
        now = self._now_ns()
        self.counts["events"] += 1
        self.counts["messages"] += int(self.recorder.write(self.topics["event"], now, data))
        for t_ns, frame in self.ring.drain():
            self._write_frame(t_ns, frame)
        self._after_until_ns = now + int(self.params["frame_after_s"] * 1e9)

    def on_frame(self, data: bytes) -> None:
        self.counts["frames_seen"] += 1
        if (self.counts["frames_seen"] - 1) % self.params["frame_every_n"]:
            return
        if not self.recorder.recording:
            return
        frame = self._thin(data)
        if frame is None:
            return
        now = self._now_ns()
        if now <= self._after_until_ns:
            self._write_frame(now, frame)
        else:
            self.ring.push(now, frame)

    def _thin(self, data: bytes) -> bytes | None:
        """The frame as stored: as received, or shrunk by ``frame_scale`` (rgb8)."""
        scale = self.params["frame_scale"]
        if scale == 1:
            return data
        msg = deserialize_message(data, Image)
        try:
            rgb = decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.data)
            return serialize_message(rgb_image(downsample(rgb, scale), msg.header))
        except (ImageFormatError, ValueError) as exc:
            self.get_logger().warning(f"frame not recorded: {exc}", throttle_duration_sec=5.0)
            return None

    def _write_frame(self, t_ns: int, frame: bytes) -> None:
        if self.recorder.write(self.topics["frame"], t_ns, frame):
            self.counts["frames_written"] += 1
            self.counts["messages"] += 1

    def on_tick(self) -> None:
        self.recorder.tick()

    def on_record_error(self, error: str) -> None:
        self.get_logger().error(f"{error}; the robot is not affected, recording is off")
        if self.recorder is not None:  # else (failed at start) the 1 s status reports it
            self.publish_status()

    def publish_status(self) -> None:
        r = self.recorder
        level, state = (ERROR, r.error) if r.error else (OK, f"recording to {r.path}")
        files = len(r.files)
        self._diag.publish(diagnostics(self, level, state, files=files, **self.counts))

    def on_exit(self) -> None:
        """Finish the open file (its summary makes it seekable)."""
        if self.recorder is not None:
            self.recorder.close()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``safety_recorder_node``."""
    return run_node(SafetyRecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
