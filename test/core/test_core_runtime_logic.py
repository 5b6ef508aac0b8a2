"""Unit tests of image preprocessing, the action adapter and parameter specs (no rclpy)."""

import math

import cv2
import numpy as np
import pytest

from safevla_core.action_adapter import CommandScheduler, MotionProfile, command_for
from safevla_core.actions import ACTION_NAMES
from safevla_core.image_preprocessing import (
    ImageFormatError,
    PreprocessConfig,
    StaleFrameError,
    decode_image,
    preprocess,
)
from safevla_ros import params

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "encoding,pixels",
    [
        ("rgb8", RGB),
        ("bgr8", RGB[:, :, ::-1]),
        ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 7, np.uint8)])),
        ("bgra8", np.dstack([RGB[:, :, ::-1], np.full(RGB.shape[:2], 7, np.uint8)])),
    ],
)
def test_decode_all_colour_encodings_to_rgb(encoding, pixels):
    h, w, c = pixels.shape
    out = decode_image(encoding, h, w, w * c, np.ascontiguousarray(pixels).tobytes())
    np.testing.assert_array_equal(out, RGB)


def test_decode_mono_and_padded_rows():
    mono = RGB[:, :, 0].copy()
    padded = np.zeros((6, 8), np.uint8)
    padded[:, :5] = mono
    out = decode_image("mono8", 6, 5, 8, padded.tobytes())
    assert out.shape == (6, 5, 3)
    np.testing.assert_array_equal(out[:, :, 1], mono)


@pytest.mark.parametrize(
    "args,match",
    [
        (("yuv422", 6, 5, 10, bytes(60)), "unsupported encoding"),
        (("rgb8", 6, 5, 10, bytes(60)), "step 10 < width"),
        (("rgb8", 6, 5, 15, bytes(89)), "truncated"),
        (("rgb8", 6, 5, 15, bytes(91)), "oversized"),
        (("rgb8", 0, 5, 15, b""), "bad image size"),
    ],
)
def test_malformed_frames_are_rejected_with_the_reason(args, match):
    with pytest.raises(ImageFormatError, match=match):
        decode_image(*args)


def test_preprocess_resizes_and_drops_stale_frames():
    cfg = PreprocessConfig(width=32, height=24, max_frame_age_s=0.2)
    frame = RNG.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    out = preprocess("bgr8", 240, 320, 960, frame.tobytes(), 1_000_000_000, 1_100_000_000, cfg)
    ref = cv2.resize(frame[:, :, ::-1], (32, 24), interpolation=cv2.INTER_AREA)
    assert out.shape == (24, 32, 3)
    np.testing.assert_array_equal(out, ref)
    with pytest.raises(StaleFrameError, match="old"):
        preprocess("bgr8", 240, 320, 960, frame.tobytes(), 0, 300_000_000, cfg)
    with pytest.raises(StaleFrameError, match="future"):
        preprocess("bgr8", 240, 320, 960, frame.tobytes(), 1_000_000_000, 0, cfg)


def test_commands_follow_ros_conventions():
    prof = MotionProfile(linear_speed=0.25, angular_speed=0.5, arm_speed=0.1)
    ahead = command_for(ACTION_NAMES.index("move_ahead"), prof)
    assert ahead.linear_x == 0.25 and math.isclose(ahead.duration_s, 0.8)
    right = command_for(ACTION_NAMES.index("rotate_right"), prof)
    assert right.angular_z == -0.5 and math.isclose(right.duration_s, math.radians(30) / 0.5)
    arm = command_for(ACTION_NAMES.index("arm_out"), prof)
    assert arm.arm_command == "arm_out" and arm.linear_x == 0 and math.isclose(arm.duration_s, 1)
    assert command_for(None, prof).is_stop and command_for(ACTION_NAMES.index("end"), prof).is_stop
    with pytest.raises(ValueError, match="outside"):
        command_for(20, prof)


def test_scheduler_holds_then_zeroes_and_stop_preempts():
    s = CommandScheduler(MotionProfile(linear_speed=0.2))
    s.accept(ACTION_NAMES.index("move_ahead"), now_s=0.0)  # 0.2 m at 0.2 m/s = 1 s
    assert s.tick(0.5) == (0.2, 0.0) and s.tick(1.01) == (0.0, 0.0)
    s.accept(ACTION_NAMES.index("move_ahead"), now_s=2.0)
    s.accept(None, now_s=2.1)
    assert s.tick(2.11) == (0.0, 0.0)


def test_param_specs_validate_with_name_and_range():
    resolved = params.resolve(params.MONITOR_PARAMS, {"cost_threshold": 1})
    assert resolved["cost_threshold"] == 1.0 and resolved["linear_speed"] == 0.25
    with pytest.raises(params.ParameterError, match=r"'cost_threshold' = -1.0 .*\[0, 100\]"):
        params.resolve(params.MONITOR_PARAMS, {"cost_threshold": -1.0})
    with pytest.raises(params.ParameterError, match="unknown parameters"):
        params.resolve(params.MONITOR_PARAMS, {"cost_treshold": 0.2})
    with pytest.raises(params.ParameterError, match="expected float"):
        params.resolve(params.MONITOR_PARAMS, {"cost_threshold": "high"})
    with pytest.raises(params.ParameterError, match="one of"):
        params.resolve(params.SIM_BRIDGE_PARAMS, {"task": "dance"})
