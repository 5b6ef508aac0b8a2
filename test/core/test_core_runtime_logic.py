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


# --- the adapter's own guard (issue 11) ---------------------------------------------------------

from safevla_core.action_adapter import (  # noqa: E402
    AdapterLimits,
    VerdictGate,
    VerdictIn,
    heartbeat_digest,
)

KEY = b"shared-secret"
MON = "/safety_monitor_node#a1b2"
AHEAD = ACTION_NAMES.index("move_ahead")


def verdict(seq, now_s, action=AHEAD, key=KEY, monitor=MON, stop=False, age_s=0.0):
    v = VerdictIn(monitor, seq, int((now_s - age_s) * 1e9), seq, action, stop)
    return VerdictIn(**{**v.__dict__, "auth": v.digest(key)})


def gate(key=KEY, **limits):
    return VerdictGate(AdapterLimits(**limits), MotionProfile(), key, start_s=0.0)


def test_gate_executes_a_signed_verdict_of_the_configured_monitor():
    g = gate()
    assert g.admit(verdict(1, 1.0), 1.0) == (AHEAD, "")


@pytest.mark.parametrize(
    "forged,match",
    [
        (verdict(1, 1.0, key=b"guess"), "auth"),
        (VerdictIn(MON, 1, 1_000_000_000, 1, AHEAD, False), "auth"),
        (verdict(1, 1.0, monitor="/teleop#1"), "not the configured monitor"),
        (verdict(1, 1.0, age_s=3.0), "stamped"),
        (verdict(1, 1.0, age_s=-3.0), "stamped"),
    ],
)
def test_gate_refuses_forged_or_stale_verdicts(forged, match):
    action, why = gate().admit(forged, 1.0)
    assert action is None and match in why


def test_gate_refuses_replays_and_obeys_any_stop():
    g = gate()
    assert g.admit(verdict(5, 1.0), 1.0)[0] == AHEAD
    action, why = g.admit(verdict(5, 1.2), 1.2)
    assert action is None and "replayed" in why
    forged_stop = VerdictIn("/anyone", 0, 0, 0, AHEAD, True)
    assert g.admit(forged_stop, 1.3) == (None, "")
    restarted = verdict(1, 1.4, monitor="/safety_monitor_node#ffff")  # a new monitor session
    assert g.admit(restarted, 1.4)[0] == AHEAD


def test_gate_enforces_estop_speed_and_rate_on_its_own():
    g = gate()
    g.on_estop(True)
    assert g.admit(verdict(1, 1.0), 1.0) == (None, "e-stop engaged")
    g.on_estop(False)
    assert g.admit(verdict(2, 1.1), 1.1)[0] == AHEAD
    action, why = g.admit(verdict(3, 1.11), 1.11)  # 10 ms later, limit 20 Hz
    assert action is None and "max_action_rate_hz" in why
    slow = gate(max_linear_speed=0.1)
    action, why = slow.admit(verdict(1, 1.0), 1.0)
    assert action is None and "max_linear_speed" in why
    action, why = gate().admit(verdict(1, 1.0, action=20), 1.0)
    assert action is None and "outside" in why


def test_gate_reports_a_silent_monitor_and_heartbeats_keep_it_alive():
    g = gate(monitor_timeout_s=0.5)
    assert g.silence(0.4) == ""
    assert "0.60 s" in g.silence(0.6)
    assert g.on_heartbeat(MON, 600_000_000, heartbeat_digest(KEY, MON, 600_000_000), 0.6) == ""
    assert g.silence(0.9) == ""
    assert "auth" in g.on_heartbeat(MON, 900_000_000, "", 0.9)
    no_key = gate(key=b"")
    assert no_key.admit(verdict(1, 1.0, key=b""), 1.0)[0] == AHEAD
