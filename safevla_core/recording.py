"""The safety recorder's logic without ROS: a ring buffer of camera frames, frame downsampling,
and an MCAP writer that rotates files, flushes often and stops (never raises) on a write error.

Messages arrive already serialized (ROS 2 CDR, as ``rclpy`` delivers them to a raw
subscription); each file gets one ``ros2msg`` schema per message type, so ``ros2 bag``,
rosbags, Foxglove and :mod:`mcap_ros2` decode it. The ROS node is
:mod:`safevla_ros.safety_recorder_node`; the reader is :mod:`safevla_eval.fleet_log`.

Loss on a crash: the writer finishes the open chunk and flushes the file every
``flush_period_s``, so a ``kill -9`` loses at most the messages of the last period (plus what
the OS had not written when the machine itself died). A file whose writer was killed has no
summary section; it is read in order from the start (:func:`safevla_eval.fleet_log.read_file`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RECORDING_PROFILE = "ros2"
METADATA_NAME = "safevla_recording"  # the MCAP metadata record: robot id, parameters


@dataclass(frozen=True)
class Schema:
    """A ROS message type: ``pkg/msg/Type`` and its ros2msg text (dependencies appended)."""

    name: str
    text: str


class FrameRing:
    """The newest camera frames of the last ``window_s`` seconds (by receive time).

    Frames are kept as opaque items (serialized messages); :meth:`drain` hands them all out in
    arrival order and empties the ring, so each frame is written at most once.
    """

    def __init__(self, window_s: float, max_frames: int = 10_000) -> None:
        if window_s < 0:
            raise ValueError(f"window_s = {window_s!r}: must be >= 0 (seconds before an event)")
        self.window_ns = int(window_s * 1e9)
        self._items: deque[tuple[int, object]] = deque(maxlen=max_frames)

    def __len__(self) -> int:
        return len(self._items)

    def push(self, t_ns: int, item: object) -> None:
        self._items.append((t_ns, item))
        while self._items and self._items[0][0] < t_ns - self.window_ns:
            self._items.popleft()

    def drain(self) -> list[tuple[int, object]]:
        out = list(self._items)
        self._items.clear()
        return out


def downsample(rgb: np.ndarray, factor: int) -> np.ndarray:
    """An (H, W, C) uint8 image shrunk by an integer ``factor`` (mean of each block; edges that
    do not fill a block are cut). ``factor`` 1 returns the image unchanged."""
    if factor < 1:
        raise ValueError(f"factor = {factor!r}: must be an integer >= 1")
    if factor == 1:
        return rgb
    h, w = rgb.shape[0] // factor, rgb.shape[1] // factor
    if h == 0 or w == 0:
        raise ValueError(f"a {rgb.shape[1]}x{rgb.shape[0]} image is smaller than factor {factor}")
    blocks = rgb[: h * factor, : w * factor].reshape(h, factor, w, factor, -1)
    return blocks.mean(axis=(1, 3)).round().astype(np.uint8)


@dataclass(frozen=True)
class RotationPolicy:
    """When a file ends and the next begins, and how often buffered data reaches the file."""

    max_bytes: int = 64 * 2**20
    max_seconds: float = 3600.0
    flush_period_s: float = 0.5
    chunk_bytes: int = 256 * 2**10

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_seconds", "flush_period_s", "chunk_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be > 0")


class RotatingRecorder:
    """MCAP files ``<prefix>_<UTC start>_<n>.mcap`` in ``folder``, rotated by size and age.

    :meth:`write` and :meth:`tick` never raise: the first error (a full disk, a removed folder,
    a permission problem) ends the recording, is kept in :attr:`error` and is reported once
    through ``on_error``; later calls do nothing. The robot does not depend on any of it.
    """

    def __init__(
        self,
        folder: Path,
        prefix: str,
        schemas: dict[str, Schema],
        policy: RotationPolicy = RotationPolicy(),
        metadata: dict[str, str] | None = None,
        on_error: Callable[[str], None] | None = None,
        channel_roles: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder, self.prefix, self.policy = Path(folder), prefix, policy
        self.schemas = schemas  # topic -> schema
        self.metadata = dict(metadata or {})
        self.on_error, self.clock = on_error, clock
        self.roles = dict(channel_roles or {})  # topic -> role (channel metadata "role")
        self.error: str | None = None
        self.files: list[Path] = []
        self.messages = 0
        self._file = self._writer = None
        self._channels: dict[str, int] = {}
        self._opened = self._flushed = 0.0
        self._guard(self._open)

    @property
    def recording(self) -> bool:
        return self.error is None and self._writer is not None

    @property
    def path(self) -> Path | None:
        return self.files[-1] if self.files else None

    def write(self, topic: str, log_time_ns: int, data: bytes) -> bool:
        """Append one serialized message of ``topic`` (one of ``schemas``); False when the
        recording has stopped."""
        if not self.recording:
            return False
        return self._guard(self._write, topic, log_time_ns, data)

    def tick(self) -> None:
        """Flush when ``flush_period_s`` has passed; rotate when the file is too big or old."""
        if self.recording:
            self._guard(self._tick)

    def close(self) -> None:
        """Finish the open file (its summary section makes it seekable)."""
        if self.recording:
            self._guard(self._finish)
        self._writer = None

    # -- inside the guard ---------------------------------------------------------------------

    def _guard(self, fn, *args) -> bool:
        try:
            fn(*args)
            return True
        except Exception as exc:  # any write problem ends recording, never the caller
            self._fail(exc)
            return False

    def _fail(self, exc: Exception) -> None:
        where = f" ({self.path})" if self.path else ""
        self.error = f"recording stopped{where}: {type(exc).__name__}: {exc}"
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
        self._file = self._writer = None
        if self.on_error is not None:
            self.on_error(self.error)

    def _open(self) -> None:
        from mcap.well_known import MessageEncoding, SchemaEncoding
        from mcap.writer import CompressionType, Writer

        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = self.folder / f"{self.prefix}_{stamp}_{len(self.files):04d}.mcap"
        self._file = open(path, "xb")  # noqa: SIM115 (closed by _finish or _fail)
        self.files.append(path)
        w = Writer(
            self._file, chunk_size=self.policy.chunk_bytes, compression=CompressionType.ZSTD
        )
        w.start(profile=RECORDING_PROFILE, library="safevla_ros recorder")
        ids = {}
        for s in {s.name: s for s in self.schemas.values()}.values():
            ids[s.name] = w.register_schema(s.name, SchemaEncoding.ROS2, s.text.encode())
        self._channels = {
            topic: w.register_channel(
                topic, MessageEncoding.CDR, ids[s.name], {"role": self.roles.get(topic, "")}
            )
            for topic, s in self.schemas.items()
        }
        w.add_metadata(METADATA_NAME, {**self.metadata, "file_index": str(len(self.files) - 1)})
        self._writer = w
        self._opened = self._flushed = self.clock()
        w.flush()

    def _write(self, topic: str, log_time_ns: int, data: bytes) -> None:
        channel = self._channels.get(topic)
        if channel is None:
            raise KeyError(f"topic {topic!r} has no schema; known: {sorted(self._channels)}")
        self._writer.add_message(channel, log_time_ns, data, log_time_ns)
        self.messages += 1

    def _tick(self) -> None:
        now = self.clock()
        if now - self._flushed >= self.policy.flush_period_s:
            self._writer.flush()
            self._flushed = now
        too_big = self._file.tell() >= self.policy.max_bytes
        if too_big or now - self._opened >= self.policy.max_seconds:
            self._finish()
            self._open()

    def _finish(self) -> None:
        self._writer.finish()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = self._writer = None
