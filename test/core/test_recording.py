"""The recorder's ROS-free parts: the frame ring, downsampling, rotation by size and age, and
a write error that ends recording without raising."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safevla_core.recording import (
    FrameRing,
    RotatingRecorder,
    RotationPolicy,
    Schema,
    downsample,
)

STRING = Schema("std_msgs/msg/String", "string data\n")
CDR_HI = b"\x00\x01\x00\x00\x03\x00\x00\x00hi\x00"  # std_msgs/String "hi", little-endian CDR


def test_ring_keeps_the_window_and_drains_once():
    ring = FrameRing(1.0)
    for k in range(30):
        ring.push(k * 100_000_000, k)  # 10 per second
    assert [x for _, x in ring.drain()] == list(range(19, 30))
    assert ring.drain() == []
    with pytest.raises(ValueError, match="window_s = -1"):
        FrameRing(-1)


def test_downsample_averages_blocks():
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    small = downsample(img, 2)
    assert small.shape == (2, 3, 3) and small.dtype == np.uint8
    assert small[0, 0, 0] == round(img[:2, :2, 0].mean())
    assert downsample(img, 1) is img
    with pytest.raises(ValueError, match="smaller than factor 8"):
        downsample(img, 8)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_rotates_by_size_and_by_age(tmp_path):
    clock = Clock()
    policy = RotationPolicy(max_bytes=2000, max_seconds=10.0, flush_period_s=0.1)
    rec = RotatingRecorder(tmp_path, "r", {"/s": STRING}, policy, clock=clock)
    for k in range(200):  # ~30 bytes each, flushed every tick: a new file past 2000 bytes
        clock.t += 0.1
        assert rec.write("/s", k, CDR_HI)
        rec.tick()
    by_size = len(rec.files)
    assert by_size >= 2
    clock.t += 11.0
    rec.tick()
    assert len(rec.files) == by_size + 1
    rec.close()
    assert all(Path(f).read_bytes().endswith(b"\x89MCAP0\r\n") for f in rec.files)


def test_a_write_error_stops_recording_without_raising(tmp_path):
    errors = []
    rec = RotatingRecorder(tmp_path, "r", {"/s": STRING}, on_error=errors.append)
    rec._file.close()  # the file goes away under the writer (as on a failed disk)
    rec.write("/s", 1, CDR_HI)
    rec.tick()
    rec._flushed = -1e9
    rec.tick()
    assert not rec.recording and rec.error and errors == [rec.error]
    assert "recording stopped" in rec.error
    assert rec.write("/s", 2, CDR_HI) is False  # later writes are no-ops
    rec.close()
    blocked = tmp_path / "file"
    blocked.write_text("")
    rec2 = RotatingRecorder(blocked / "sub", "r", {"/s": STRING}, on_error=errors.append)
    assert not rec2.recording and "recording stopped" in rec2.error
