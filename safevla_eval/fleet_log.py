"""Safety recordings (MCAP, written by the safety recorder node) read back into per-robot counts.

Each file is read in order from its start, so a file whose writer was killed (no summary
section) gives every message up to its last flushed chunk; the rest of such a file is reported
as ``truncated``. Messages are decoded with :mod:`mcap_ros2` from the schemas in the file; topics
are found by the ``role`` the recorder gave each channel (verdict, event, diagnostics,
instruction, frame), so namespaces and topic remappings do not matter.

Counts (exact: one per recorded message):

- ``verdicts``, ``vetoed``, ``stops``: every SafetyVerdict, those with ``vetoed``, those with
  ``safe_stop`` (the monitor's own ``decisions`` / ``vetoes`` / ``stops`` on /diagnostics);
- ``decisions``: verdicts that answer a proposal (``proposal_sequence > 0``); among them
  ``critic_vetoes`` (:func:`safevla_core.monitor_types.critic_veto`) and ``proposal_stops``,
  the vetoes and stops ``safevla run`` prints.
"""

from __future__ import annotations

import contextlib
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from safevla_core.errors import UserError
from safevla_core.monitor_types import critic_veto
from safevla_core.recording import METADATA_NAME

NS = 1_000_000_000


@dataclass
class Event:
    """One SafetyEvent, with the frame nearest before it (filled in later)."""

    robot_id: str
    t_ns: int
    category: str
    severity: int
    reason: str
    context: dict[str, str]
    instruction: str = ""
    frame: np.ndarray | None = None

    @property
    def predicted_cost(self) -> float:
        with contextlib.suppress(ValueError):
            return float(self.context.get("predicted_cost", "nan"))
        return float("nan")

    def badness(self) -> tuple[float, float]:
        """Sort key of the worst events: severity, then the predicted cost of the proposal."""
        cost = self.predicted_cost
        return (self.severity, cost if cost == cost else -1.0)


@dataclass
class RobotLog:
    """Everything the report needs about one robot, from all its files."""

    robot_id: str
    files: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)  # per SafetyEvent category
    rules: Counter = field(default_factory=Counter)  # per verdict triggered_rule (vetoes, stops)
    hours: dict[str, Counter] = field(default_factory=dict)
    instruction_vetoes: Counter = field(default_factory=Counter)
    decision_latency_ms: list[float] = field(default_factory=list)
    frame_age_ms: list[float] = field(default_factory=list)
    monitor_status: dict[str, str] = field(default_factory=dict)
    recorder_errors: list[str] = field(default_factory=list)
    event_list: list[Event] = field(default_factory=list)
    first_ns: int | None = None
    last_ns: int | None = None
    _instr: list[tuple[int, str]] = field(default_factory=list)
    _verdicts: list[tuple] = field(default_factory=list)
    _frames: list[tuple[int, object]] = field(default_factory=list)

    @property
    def hours_recorded(self) -> float:
        if self.first_ns is None:
            return 0.0
        return (self.last_ns - self.first_ns) / (3600 * NS)


def find_recordings(paths: list[str]) -> list[Path]:
    """``*.mcap`` files named, or inside the folders named (recursively), sorted.

    Raises:
        UserError: a path that does not exist, or no recording at all.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(p.rglob("*.mcap"))
        elif p.is_file():
            found.append(p)
        else:
            raise UserError(f"{p}: no such file or folder (give MCAP files or their folders)")
    if not found:
        raise UserError(
            f"no *.mcap recordings in {paths}; the recorder writes them to its "
            "output_dir (default $ROS_HOME/safevla_recordings)"
        )
    return sorted(dict.fromkeys(found))


def read_file(path: Path):
    """``(metadata, messages, complete)`` of one recording: its recorder metadata, a list of
    ``(role, log_time_ns, decoded message)`` in file order, and False when the file ends early
    (a killed writer: everything up to the last flushed chunk is returned).

    Raises:
        UserError: not an MCAP file.
    """
    from mcap.exceptions import McapError
    from mcap.records import Channel, Footer, Message, Metadata, Schema
    from mcap.stream_reader import StreamReader
    from mcap_ros2.decoder import DecoderFactory

    factory = DecoderFactory()
    schemas, channels, meta, out = {}, {}, {}, []
    complete, seen = False, 0
    with open(path, "rb") as f:
        records = StreamReader(f).records
        try:
            for r in records:
                seen += 1
                if isinstance(r, Schema):
                    schemas[r.id] = r
                elif isinstance(r, Channel):
                    decode = factory.decoder_for(r.message_encoding, schemas.get(r.schema_id))
                    channels[r.id] = (r.metadata.get("role", ""), decode)
                elif isinstance(r, Metadata) and r.name == METADATA_NAME:
                    meta = dict(r.metadata)
                elif isinstance(r, Message) and r.channel_id in channels:
                    role, decode = channels[r.channel_id]
                    if decode is not None and role:
                        out.append((role, r.log_time, decode(r.data)))
                elif isinstance(r, Footer):
                    complete = True
        except (McapError, EOFError, struct.error, ValueError) as exc:
            if not seen:  # not even the header: not MCAP (a cut-off file has its header)
                raise UserError(f"{path}: not a readable MCAP recording ({exc})") from None
    return meta, out, complete


def _hour(t_ns: int) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:00", time.gmtime(t_ns // NS))


def _add(log: RobotLog, role: str, t: int, m, ns: str | None = None) -> None:
    """Count one message; diagnostics only of nodes in namespace ``ns`` (None: any)."""
    c = log.counts
    if role == "verdict":
        c["verdicts"] += 1
        c["vetoed"] += int(m.vetoed)
        c["stops"] += int(m.safe_stop)
        answers = m.proposal_sequence > 0
        veto = answers and critic_veto(m.vetoed, m.triggered_rule)
        stop = answers and m.safe_stop
        c["decisions"] += int(answers)
        c["critic_vetoes"] += int(veto)
        c["proposal_stops"] += int(stop)
        if (m.vetoed or m.safe_stop) and m.triggered_rule:
            log.rules[m.triggered_rule] += 1
        h = log.hours.setdefault(_hour(t), Counter())
        h["decisions"] += int(answers)
        h["critic_vetoes"] += int(veto)
        h["proposal_stops"] += int(stop)
        if answers:
            log.decision_latency_ms.append(float(m.decision_latency_ms))
            if m.frame_age_ms >= 0:
                log.frame_age_ms.append(float(m.frame_age_ms))
        if veto:
            log._verdicts.append(t)
    elif role == "event":
        c["events"] += 1
        log.events[m.category] += 1
        ctx = {kv.key: kv.value for kv in m.context}
        log.event_list.append(Event(log.robot_id, t, m.category, m.severity, m.reason, ctx))
    elif role == "instruction":
        c["instructions"] += 1
        log._instr.append((t, m.data))
    elif role == "frame":
        c["frames"] += 1
        log._frames.append((t, m))
    elif role == "diagnostics":
        for s in m.status:
            if ns is not None and s.name.rpartition("/")[0] != ns:
                continue  # another robot's node (older recorders kept all of /diagnostics)
            if s.name.endswith("safety_monitor_node"):
                log.monitor_status = {kv.key: kv.value for kv in s.values}
            elif s.name.endswith("safety_recorder_node") and _level(s.level) >= 2:
                log.recorder_errors += [s.message][: s.message not in log.recorder_errors]


def _level(level) -> int:
    """DiagnosticStatus.level (a ``byte``: decoded as int or as one byte)."""
    return level if isinstance(level, int) else int(bytes(level)[0])


def image_of(m) -> np.ndarray | None:
    """An rgb8/bgr8/mono8 Image message (decoded from MCAP) as (H, W, 3) uint8, else None."""
    ch = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "bgra8": 4}.get(m.encoding)
    if ch is None or m.height == 0 or m.width == 0:
        return None
    buf = np.frombuffer(bytes(m.data), np.uint8)
    if buf.size < m.step * m.height:
        return None
    img = buf[: m.step * m.height].reshape(m.height, m.step)[:, : m.width * ch]
    img = img.reshape(m.height, m.width, ch)
    if ch == 1:
        img = np.repeat(img, 3, axis=2)
    if m.encoding.startswith("bgr"):
        img = img[..., 2::-1]
    return np.ascontiguousarray(img[..., :3])


def _finish(log: RobotLog, frame_window_s: float) -> None:
    """Attribute vetoes to instructions and a frame to each event (both by log time)."""
    import bisect

    log._instr.sort(key=lambda x: x[0])
    times = [t for t, _ in log._instr]
    for t in log._verdicts:
        i = bisect.bisect_right(times, t) - 1
        log.instruction_vetoes[log._instr[i][1] if i >= 0 else "(no instruction)"] += 1
    log._frames.sort(key=lambda x: x[0])
    ftimes = [t for t, _ in log._frames]
    for e in log.event_list:
        i = bisect.bisect_right(times, e.t_ns) - 1
        e.instruction = log._instr[i][1] if i >= 0 else ""
        j = bisect.bisect_right(ftimes, e.t_ns) - 1
        if j >= 0 and e.t_ns - ftimes[j] <= frame_window_s * NS:
            e.frame = image_of(log._frames[j][1])
    log._verdicts, log._frames = [], []


def read_fleet(paths: list[str], frame_window_s: float = 10.0) -> dict[str, RobotLog]:
    """Every robot's :class:`RobotLog`, by robot id (the recorder's ``robot_id``, else the file
    name before its first ``_``), from the recordings at ``paths``.

    Raises:
        UserError: a missing path, no recordings, or a file that is not MCAP.
    """
    logs: dict[str, RobotLog] = {}
    for path in find_recordings(paths):
        meta, messages, complete = read_file(path)
        robot = meta.get("robot_id") or path.stem.split("_")[0]
        log = logs.setdefault(robot, RobotLog(robot))
        log.files.append(str(path))
        if not complete:
            log.truncated.append(str(path))
        node = meta.get("node", "")  # the recorder's fully qualified name
        ns = node.rpartition("/")[0] if node else None
        for role, t, m in messages:
            log.first_ns = t if log.first_ns is None else min(log.first_ns, t)
            log.last_ns = t if log.last_ns is None else max(log.last_ns, t)
            _add(log, role, t, m, ns)
    for log in logs.values():
        _finish(log, frame_window_s)
    return dict(sorted(logs.items()))
