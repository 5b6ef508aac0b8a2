"""Latency of the ROS 2 runtime in its multi-process setup (real DDS on loopback).

Starts perception, policy, safety monitor and action adapter as separate processes (the same
config/robot.yaml; the adapter also publishes the discrete command on sim/action, once per
verdict, in the same callback as the Twist), publishes camera frames at ``--rate`` Hz and
measures:

* end to end: camera frame published -> adapter command received (same process clock);
* frame to perception: camera frame published -> the perception node's accepted-frame stamp
  received (transport of the raw frame + decode + resize);
* policy inference: ActionProposal.model_latency_ms (preprocess + ONNX Runtime + embedding
  lookup);
* monitor decision: SafetyVerdict.decision_latency_ms (rules + message fill), measured in the
  node from the proposal callback's start to the filled verdict.

With ``--critic PATH`` the monitor also runs the independent safety critic (its
``critic_bundle`` parameter, set as ``safevla run --critic`` sets it; the critic is checked
against the policy bundle before any process starts). The monitor encodes each perception
frame when it arrives (decode, preprocessing and, for a frozen-encoder critic, the encoder pass:
``CriticGate.on_frame``, in the frame callback, while the policy computes its proposal); the
critic's head over its history and the rule run inside the monitor's rule chain, so inside
``decision_latency_ms``, and the whole path inside the end-to-end figure. The verdict
carries no separate critic timing, and a proposal that an earlier rule (e.g. the cost rule)
stops, or whose frame never reached the monitor, is not judged by the critic: the benchmark
therefore also reports ``monitor_decision_critic_judged_ms``, the decision latency of only the
verdicts the critic judged, and the count of verdicts by ``triggered_rule``. The benchmark
also publishes a latched MotionFeedback (both false), as a base driver does, and a 360-degree
LaserScan (open space, 2 m), a JointState (the arm stowed: lift 0.4 m, arm in; the wrist at
``--wrist-yaw``, default 0) and the holding flag (the gripper empty, so a critic's clear pass
runs on every decision; since the thirty-fifth session) with every camera frame, as a lidar
and the arm and gripper drivers would, for a policy or critic that reads them.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ros_latency.py --frames 300 --rate 10
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ros_latency.py --frames 300 --rate 10 \\
        --critic runs/critic-12k/bundle

Targets (10 Hz camera): end-to-end (camera -> command) p99 <= 30 ms; monitor decision,
critic included, p99 <= 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image, JointState, LaserScan
from std_msgs.msg import Bool, Header, String

from safevla_core.action_choice import default_break_dither
from safevla_core.actions import SCAN_BEAMS
from safevla_core.bundle import BundleError, load_bundle
from safevla_core.critic_gate import CriticGate, PolicyFacts
from safevla_ros.msg import ActionProposal, MotionFeedback, SafetyVerdict
from safevla_ros.msg_conversions import joint_state, laser_scan
from safevla_ros.params import (
    HOLDING_TOPIC,
    JOINT_NAME_PARAMS,
    JOINT_STATES_TOPIC,
    SCAN_ARM_TOPIC,
    SCAN_OBJECTS_TOPIC,
    SCAN_TOPIC,
)
from safevla_ros.ros_common import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from safevla_ros.runner import NODES, config_dir, node_env, start_nodes, stop_nodes


def percentiles(values) -> dict:
    a = np.asarray(values, float)
    if a.size == 0:
        return {"n": 0}
    return {
        "n": int(a.size),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
    }


# the critic rule's stop when the proposal's frame is not stored: no critic step ran
_NO_FRAME = "safety critic: the frame of this proposal"
# ... and its stop when a critic that reads the motion feedback has none yet
_NO_FEEDBACK = "reads the motion feedback of the last action and none has arrived"
# rules that run after the critic: a verdict they decided was judged by the critic first
_AFTER_CRITIC = ("", "velocity_limit", "rate_limit")


def check_inputs(args) -> tuple[Path, Path | None]:
    """The policy bundle and the critic bundle (None without ``--critic``), checked as
    ``safevla run`` checks them, before any process starts.

    Raises:
        SystemExit: an unusable bundle, or a critic that does not match the policy bundle
            (the message names the value and the fix).
    """
    try:
        loaded = load_bundle(args.bundle)
    except BundleError as exc:
        raise SystemExit(f"--bundle {args.bundle}: {exc}") from None
    if not args.critic:
        return loaded.path.resolve(), None
    try:  # the monitor node's own check (safety_monitor_node.load_critic)
        CriticGate.load(args.critic, PolicyFacts.of_bundle(loaded))
    except BundleError as exc:
        raise SystemExit(f"--critic {args.critic}: {exc}") from None
    return loaded.path.resolve(), Path(args.critic).resolve()


def overrides(bundle: Path, critic: Path | None) -> dict:
    """Parameters on top of robot.yaml: the bundle for perception and policy, the discrete
    command on sim/action, and (with a critic) the monitor's ``critic_bundle`` and
    ``bundle_path`` and the policy node's dither breaker, exactly as ``safevla run --critic``
    sets them."""
    robot = {"bundle_path": str(bundle)}
    dither = default_break_dither(critic is not None)
    out = {
        "perception_node": {"ros__parameters": dict(robot)},
        "policy_node": {
            "ros__parameters": dict(robot) | ({"break_dither": dither} if dither else {})
        },
        "action_adapter_node": {"ros__parameters": {"publish_sim_action": True}},
    }
    if critic is not None:
        monitor = {"critic_bundle": str(critic), **robot}
        out["safety_monitor_node"] = {"ros__parameters": monitor}
    return out


def critic_judged(v) -> bool:
    """Whether the critic ran a step for this proposal's verdict: it was reached (no earlier
    rule stopped) and the proposal's frame was stored."""
    if v.triggered_rule == "safety_critic":
        return not v.reason.startswith(_NO_FRAME) and _NO_FEEDBACK not in v.reason
    if v.triggered_rule == "cost_critic":
        return not v.safe_stop  # a replacement goes on to the critic, a stop does not
    return v.triggered_rule in _AFTER_CRITIC


def run(args) -> dict:
    bundle, critic = check_inputs(args)
    log_dir = Path(tempfile.mkdtemp(prefix="safevla-bench-"))
    extra = log_dir / "overrides.yaml"
    extra.write_text(yaml.safe_dump(overrides(bundle, critic)))
    files = [config_dir() / "robot.yaml", extra]
    domain = random.SystemRandom().randint(1, 101)
    env = node_env(domain)
    os.environ.update({k: v for k, v in env.items() if "PROFILES_FILE" in k or "DOMAIN" in k})
    procs = start_nodes(env, files, log_dir, NODES[:4])
    ctx = Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("latency_bench", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    got = {"cmd": [], "prop": [], "verdict": [], "perceived": []}
    node.create_subscription(
        Header,
        "safevla/image_stamp",
        lambda m: got["perceived"].append(time.monotonic()),
        RELIABLE_QOS,
    )
    node.create_subscription(
        String, "sim/action", lambda m: got["cmd"].append(time.monotonic()), RELIABLE_QOS
    )
    node.create_subscription(
        ActionProposal, "safevla/proposal", lambda m: got["prop"].append(m.model_latency_ms), 10
    )
    node.create_subscription(
        SafetyVerdict, "safevla/verdict", lambda m: got["verdict"].append(m), 10
    )
    cam = node.create_publisher(Image, "camera/image_raw", SENSOR_QOS)
    instr = node.create_publisher(String, "safevla/instruction", LATCHED_QOS)
    instr.publish(String(data="find an apple"))
    # the base driver's motion feedback, latched: the robot stands free (read by a policy or a
    # critic that takes it; a critic with bump_input stops every proposal until it arrives)
    bump = node.create_publisher(MotionFeedback, "safevla/bump", LATCHED_QOS)
    bump.publish(MotionFeedback(blocked=False, collided=False))
    # a 360-degree scan with every camera frame, as a lidar at the camera's rate: open space at
    # 2 m all round (read by a critic that takes it; one with scan_input stops every proposal
    # until a fresh one arrives)
    scan = node.create_publisher(LaserScan, SCAN_TOPIC, SENSOR_QOS)
    ranges = np.full(SCAN_BEAMS, 2.0, np.float32)
    # and the same scan filtered against the static map (read by a critic with
    # object_scan_input, which stops every proposal until a fresh one arrives): the 2 m ring is
    # furniture, not walls
    scan_objects = node.create_publisher(LaserScan, SCAN_OBJECTS_TOPIC, SENSOR_QOS)
    # and at the arm's heights only (read by the arm guard, which stops every proposal until a
    # fresh one arrives): a ring at 0.45 m, within the reach of the arm out by a step (so the
    # guard checks every return on every decision) and 4 cm clear of it (nothing is vetoed)
    scan_arm = node.create_publisher(LaserScan, SCAN_ARM_TOPIC, SENSOR_QOS)
    arm_ranges = np.full(SCAN_BEAMS, 0.45, np.float32)
    # the arm driver's joint state with every frame, the arm stowed (read by a critic that
    # takes it; one with proprio_input stops every proposal until a fresh one arrives)
    joints = node.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_QOS)
    lift, arm, wrist = (s.default for s in JOINT_NAME_PARAMS)
    yaw = args.wrist_yaw
    # the gripper empty (read by a critic with a clear pass, which runs the pass on every
    # decision once it is: the footprint against the scan)
    holding = node.create_publisher(Bool, HOLDING_TOPIC, RELIABLE_QOS)

    def sensors() -> None:
        scan.publish(laser_scan(ranges, base_header(node)))
        scan_objects.publish(laser_scan(ranges, base_header(node)))
        scan_arm.publish(laser_scan(arm_ranges, base_header(node)))
        joints.publish(joint_state((0.4, 0.0), base_header(node), lift, arm, wrist, yaw))
        holding.publish(Bool(data=False))

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8).tobytes()
    sent = []
    try:
        # warm-up: until proposals flow (model and text encoder load, discovery); watchdog
        # stops before that are commands too, so count proposals
        deadline = time.monotonic() + 90
        while len(got["prop"]) < 10 and time.monotonic() < deadline:
            publish(node, cam, pixels, args)
            sensors()
            spin(ex, 1.0 / args.rate)
        if len(got["prop"]) < 10:
            raise SystemExit(f"no proposals after 90 s; see the logs in {log_dir}")
        for k in got:
            got[k].clear()
        for _ in range(args.frames):
            t = time.monotonic()
            publish(node, cam, pixels, args)
            sensors()
            sent.append(t)
            spin(ex, max(0.0, t + 1.0 / args.rate - time.monotonic()))
        spin(ex, 0.3)
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        stop_nodes(procs)
    e2e = pair(sent, got["cmd"])
    perceived = pair(sent, got["perceived"])
    answered = [v for v in got["verdict"] if v.proposal_sequence > 0]
    judged = [v for v in answered if critic is not None and critic_judged(v)]
    rules = dict(Counter(v.triggered_rule or "none" for v in answered))
    return {
        "frames": args.frames,
        "rate_hz": args.rate,
        "camera": f"{args.width}x{args.height}",
        "wrist_yaw_rad": args.wrist_yaw,
        "bundle": str(bundle),
        "critic": str(critic) if critic is not None else None,
        "commands_received": len(e2e),
        "end_to_end_ms": percentiles(e2e),
        "frame_to_perception_ms": percentiles(perceived),
        "policy_inference_ms": percentiles(got["prop"]),
        "monitor_decision_ms": percentiles([v.decision_latency_ms for v in answered]),
        "monitor_decision_critic_judged_ms": percentiles([v.decision_latency_ms for v in judged]),
        "verdicts": len(answered),
        "critic_judged": len(judged),
        "stops": sum(v.safe_stop for v in answered),
        "triggered_rules": rules,
        # why the critic stopped, the reason up to its first ';' (the most common three)
        "critic_stop_reasons": Counter(
            v.reason.split(";")[0] for v in answered if v.triggered_rule == "safety_critic"
        ).most_common(3),
    }


def base_header(node) -> Header:
    h = Header(frame_id="base_link")
    h.stamp = node.get_clock().now().to_msg()
    return h


def publish(node, cam, pixels, args) -> None:
    msg = Image(height=args.height, width=args.width, encoding="rgb8", step=args.width * 3)
    msg.header.stamp = node.get_clock().now().to_msg()
    msg.data = pixels
    cam.publish(msg)


def spin(ex, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ex.spin_once(timeout_sec=max(0.0, min(0.005, end - time.monotonic())))


def pair(sent: list[float], cmds: list[float]) -> list[float]:
    """Latency of each frame: the first command after it and before the next frame, ms."""
    out, j = [], 0
    for i, t in enumerate(sent):
        nxt = sent[i + 1] if i + 1 < len(sent) else float("inf")
        while j < len(cmds) and cmds[j] < t:
            j += 1
        if j < len(cmds) and cmds[j] < nxt:
            out.append((cmds[j] - t) * 1e3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default="models/objnav-bc", help="policy bundle folder")
    ap.add_argument(
        "--critic",
        default=None,
        metavar="PATH",
        help="independent safety-critic bundle folder for the monitor (its critic_bundle "
        "parameter, as `safevla run --critic`); default: no critic",
    )
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument(
        "--wrist-yaw",
        type=float,
        default=0.0,
        metavar="RAD",
        help="the wrist's yaw in the joint state the benchmark publishes (a turned wrist adds "
        "the gripper's turned box to the clear pass's footprint); default 0",
    )
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    if not (args.frames > 0 and args.rate > 0):
        raise SystemExit(f"--frames {args.frames} --rate {args.rate}: both must be > 0")
    res = run(args)
    keys = ["end_to_end_ms", "frame_to_perception_ms", "policy_inference_ms"]
    keys.append("monitor_decision_ms")
    if args.critic:
        keys += ["monitor_decision_critic_judged_ms"]
    for key in keys:
        r = res[key]
        if r["n"]:
            print(
                f"{key:<34} n={r['n']:4d}  p50 {r['p50']:7.2f}  p99 {r['p99']:7.2f}  "
                f"max {r['max']:7.2f}"
            )
        else:
            print(f"{key:<34} no samples")
    print(
        f"frames {res['frames']} at {res['rate_hz']} Hz, camera {res['camera']}, commands "
        f"{res['commands_received']}, verdicts {res['verdicts']} (stops {res['stops']})"
    )
    print(f"critic {res['critic'] or 'off'}; verdicts by rule {res['triggered_rules']}")
    for reason, n in res["critic_stop_reasons"]:
        print(f"  {n} x {reason[:120]}")
    if args.critic:
        print(f"verdicts the critic judged: {res['critic_judged']} of {res['verdicts']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
