"""ROS message <-> core data conversions of the runtime nodes (imports the message types).

Kept out of the node files so the nodes only wire topics; kept out of the core because the
core never imports ROS types. Every function here takes any message a peer can send (any field
value the type allows) without raising: what the core cannot use becomes a stop with a reason.
"""

from __future__ import annotations

import math
import time

import numpy as np
from diagnostic_msgs.msg import KeyValue
from sensor_msgs.msg import CameraInfo, Image, JointState, LaserScan

from safevla_core.action_adapter import VerdictIn
from safevla_core.actions import (
    ACTION_NAMES,
    BUMP_FIELDS,
    EXPLORED_CELL_M,
    EXPLORED_CHANNELS,
    EXPLORED_SHAPE,
    PROPRIO_FIELDS,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
)
from safevla_core.safety_monitor import SEVERITY, Decision, Proposal, Rule, SafetyMonitor
from safevla_core.safety_spec import COST_CATEGORIES
from safevla_ros.msg import (
    ActionProposal,
    EpisodeStatus,
    ExploredMap,
    MotionFeedback,
    SafetyEvent,
    SafetyVerdict,
)
from safevla_ros.ros_common import stamp_s


def action_name(index: int) -> str:
    """The name of an action index; any other number is named as invalid, never raised on."""
    return ACTION_NAMES[index] if 0 <= index < len(ACTION_NAMES) else f"<invalid {index}>"


def to_proposal(msg: ActionProposal) -> Proposal:
    """ActionProposal -> plain data (fields are checked by the monitor's rules, not here)."""
    byc = np.asarray(msg.predicted_cost_by_category, np.float64)
    ncat = len(msg.cost_categories)
    if ncat and byc.size % ncat == 0:
        byc = byc.reshape(-1, ncat)
    return Proposal(
        sequence=int(msg.sequence),
        action_index=int(msg.action_index),
        probabilities=np.asarray(msg.action_probabilities, np.float64),
        predicted_cost=np.asarray(msg.predicted_cost, np.float64),
        cost_by_category=byc,
        cost_categories=tuple(msg.cost_categories),
        frame_stamp_s=stamp_s(msg.header.stamp),
        action_names=tuple(msg.action_names),
        action_name=msg.action_name,
        model_latency_ms=float(msg.model_latency_ms),
    )


def decide_proposal(monitor: SafetyMonitor, msg: ActionProposal, now_s: float) -> Decision:
    """The monitor's decision for a proposal message. The rules check every field; anything
    they did not foresee (an exception) is still a stop naming the error, never a crash."""
    try:
        return monitor.decide(to_proposal(msg), now_s)
    except Exception as exc:  # the monitor must answer every message
        monitor.last_proposal_s = now_s
        why = f"unusable proposal ({type(exc).__name__}: {exc})"[:300]
        d = Decision(int(msg.sequence), -1, None, False, Rule.MALFORMED, why)
        monitor.last = d
        return d


def verdict_in(msg: SafetyVerdict) -> VerdictIn:
    """The fields of a SafetyVerdict the adapter's guard checks."""
    stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    return VerdictIn(
        msg.monitor_id,
        int(msg.verdict_sequence),
        stamp_ns,
        int(msg.proposal_sequence),
        int(msg.executed_action),
        bool(msg.safe_stop),
        msg.auth,
    )


def sign_verdict(v: SafetyVerdict, monitor_id: str, sequence: int, key: bytes) -> SafetyVerdict:
    """Fill the origin fields the adapter checks (monitor id, sequence, HMAC with ``key``)."""
    v.monitor_id, v.verdict_sequence = monitor_id, sequence
    v.auth = verdict_in(v).digest(key)
    return v


def to_verdict(d: Decision, stamp, cost_threshold: float, t0: float) -> SafetyVerdict:
    """The SafetyVerdict of a decision; ``decision_latency_ms`` counts from ``t0``
    (``time.perf_counter()`` when the input arrived; 0 = not measured)."""
    v = SafetyVerdict(proposal_sequence=d.proposal_sequence, vetoed=d.vetoed)
    v.header.stamp = stamp
    v.proposed_action = d.proposed_action if 0 <= d.proposed_action < 256 else 0
    v.proposed_action_name = action_name(d.proposed_action) if d.proposed_action >= 0 else ""
    v.safe_stop = d.safe_stop
    v.executed_action = 0 if d.safe_stop else d.executed_action
    v.executed_action_name = "stop" if d.safe_stop else action_name(d.executed_action)
    v.action_names, v.predicted_cost = list(ACTION_NAMES), list(d.predicted_cost)
    v.cost_threshold = cost_threshold
    v.reason, v.triggered_rule = d.reason, d.rule.value
    age_ms = d.frame_age_s * 1e3
    v.triggered_category = d.category
    v.frame_age_ms = age_ms if math.isfinite(age_ms) and abs(age_ms) < 3e38 else -1.0
    v.decision_latency_ms = (time.perf_counter() - t0) * 1e3 if t0 else 0.0
    return v


def to_event(d: Decision, v: SafetyVerdict, robot_id: str) -> SafetyEvent:
    """The SafetyEvent of a veto or stop, with its context as key/values."""
    e = SafetyEvent(header=v.header, robot_id=robot_id, reason=d.reason)
    e.category = d.category or d.rule.value
    e.severity = SEVERITY[d.rule]
    e.context = [
        KeyValue(key="rule", value=d.rule.value),
        KeyValue(key="proposed_action", value=v.proposed_action_name),
        KeyValue(key="executed_action", value=v.executed_action_name),
        KeyValue(key="proposal_sequence", value=str(d.proposal_sequence)),
        KeyValue(key="frame_age_ms", value=f"{v.frame_age_ms:.1f}"),
    ]
    if 0 <= d.proposed_action < len(d.predicted_cost):
        cost = d.predicted_cost[d.proposed_action]
        e.context.append(KeyValue(key="predicted_cost", value=f"{cost:.4f}"))
    return e


def camera_info(header, width: int, height: int, vfov_deg: float) -> CameraInfo:
    """Pinhole CameraInfo with square pixels and vertical field of view ``vfov_deg``:
    ``f = (h / 2) / tan(vfov / 2)``, principal point at the image centre."""
    f = (height / 2) / math.tan(math.radians(vfov_deg) / 2)
    info = CameraInfo(header=header, height=height, width=width, distortion_model="plumb_bob")
    info.d = [0.0] * 5
    info.k = [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, width / 2, 0.0, 0.0, f, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def rgb_image(rgb: np.ndarray, header) -> Image:
    """An rgb8 Image of an (H, W, 3) uint8 array."""
    img = Image(header=header, height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8")
    img.step, img.data = rgb.shape[1] * 3, rgb.tobytes()
    return img


def episode_status(episode, step: int, stamp, outcome: dict) -> EpisodeStatus:
    """EpisodeStatus of one sim step. ``outcome``: reward, cost, cumulative_cost, done, success
    and cost_by_category (missing categories, e.g. on a stop step, are 0)."""
    s = EpisodeStatus(episode_id=episode.episode_id, task=episode.task)
    s.instruction, s.header.stamp, s.step = episode.instruction, stamp, int(step)
    s.done, s.success = bool(outcome["done"]), bool(outcome["success"])
    s.reward, s.cost = float(outcome["reward"]), float(outcome["cost"])
    s.cumulative_cost = float(outcome["cumulative_cost"])
    by_cat = outcome.get("cost_by_category", {})
    s.cost_categories = list(COST_CATEGORIES)
    s.step_cost_by_category = [float(by_cat.get(c, 0.0)) for c in COST_CATEGORIES]
    return s


def motion_feedback(bump, header) -> MotionFeedback:
    """MotionFeedback of the simulator's ``obs["bump"]`` (0/1 values in
    :data:`~safevla_core.actions.BUMP_FIELDS` order; a value is set when above 0.5)."""
    values = np.asarray(bump, np.float32).reshape(-1)
    msg = MotionFeedback(header=header)
    for name, v in zip(BUMP_FIELDS, values, strict=True):
        setattr(msg, name, bool(v > 0.5))
    return msg


def explored_map(grid, header) -> ExploredMap:
    """ExploredMap of the simulator's ``obs["explored"]`` (uint8 :data:`~safevla_core.actions.
    EXPLORED_SHAPE`, :mod:`sim_bridge.explored_obs`)."""
    g = np.ascontiguousarray(grid, np.uint8)
    if g.shape != EXPLORED_SHAPE:
        raise ValueError(f"explored map of shape {g.shape}, not {EXPLORED_SHAPE}")
    msg = ExploredMap(header=header, cell_m=float(EXPLORED_CELL_M))
    msg.height, msg.width = int(g.shape[1]), int(g.shape[2])
    msg.channels = list(EXPLORED_CHANNELS)
    msg.data = g.tobytes()
    return msg


def explored_values(msg: ExploredMap) -> np.ndarray:
    """The policy's ``explored`` input of an ExploredMap: uint8 EXPLORED_SHAPE.

    Raises:
        ValueError: channels, grid size, cell size or data length other than the bundle
            format's, naming what arrived and what is expected.
    """
    _, h, w = EXPLORED_SHAPE
    got = (list(msg.channels), int(msg.height), int(msg.width))
    if got != (list(EXPLORED_CHANNELS), h, w) or not math.isclose(msg.cell_m, EXPLORED_CELL_M):
        raise ValueError(
            f"ExploredMap with channels {got[0]}, {got[1]}x{got[2]} cells of {msg.cell_m} m; "
            f"the policy takes channels {list(EXPLORED_CHANNELS)}, {h}x{w} cells of "
            f"{EXPLORED_CELL_M} m (docs/bundle.md, 'explored')"
        )
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if data.size != math.prod(EXPLORED_SHAPE):
        raise ValueError(
            f"ExploredMap carries {data.size} values, not {math.prod(EXPLORED_SHAPE)} "
            f"({EXPLORED_SHAPE})"
        )
    return data.reshape(EXPLORED_SHAPE).copy()


def laser_scan(ranges, header) -> LaserScan:
    """LaserScan of the simulator's ``obs["scan"]`` (SCAN_BEAMS ranges from
    SCAN_ANGLE_MIN, counter-clockwise, in the base frame; SCAN_RANGE_MAX_M = no return)."""
    r = np.asarray(ranges, np.float32).reshape(-1)
    if r.shape != (SCAN_BEAMS,):
        raise ValueError(f"range scan of shape {r.shape}, not ({SCAN_BEAMS},)")
    return LaserScan(
        header=header,
        angle_min=float(SCAN_ANGLE_MIN),
        angle_max=float(SCAN_ANGLE_MIN + (SCAN_BEAMS - 1) * SCAN_ANGLE_INCREMENT),
        angle_increment=float(SCAN_ANGLE_INCREMENT),
        range_min=0.0,
        range_max=float(SCAN_RANGE_MAX_M),
        ranges=r.tolist(),
    )


def scan_values(msg: LaserScan) -> np.ndarray:
    """The critic's ``scan`` input of any LaserScan that covers every one of its SCAN_BEAMS
    bearings: each beam goes to the nearest critic bearing and a bearing keeps its nearest
    range (as a point-cloud-to-scan reduction does). Per REP 117, +inf and readings beyond
    ``range_max`` are no return (SCAN_RANGE_MAX_M); -inf and readings below ``range_min`` are
    an obstacle too close to measure (0 m).

    Raises:
        ValueError: NaN readings, no or non-finite angles, or a bearing no beam covers
            (naming the count and the fix).
    """
    r = np.asarray(msg.ranges, np.float64).reshape(-1)
    inc, a0 = float(msg.angle_increment), float(msg.angle_min)
    if r.size == 0 or not (math.isfinite(inc) and math.isfinite(a0)) or inc == 0.0:
        raise ValueError(
            f"LaserScan with {r.size} ranges, angle_min {a0}, angle_increment {inc}: not a scan"
        )
    if np.isnan(r).any():
        raise ValueError(
            f"LaserScan holds {int(np.isnan(r).sum())} NaN ranges; publish +inf for no return "
            "(REP 117)"
        )
    r = np.where((r > msg.range_max) | np.isposinf(r), SCAN_RANGE_MAX_M, r)
    r = np.where(r < msg.range_min, 0.0, r)
    angles = a0 + inc * np.arange(r.size)
    bins = np.rint((angles - SCAN_ANGLE_MIN) / SCAN_ANGLE_INCREMENT).astype(np.int64) % SCAN_BEAMS
    out = np.full(SCAN_BEAMS, np.inf)
    np.minimum.at(out, bins, r)
    missing = int(np.isinf(out).sum())
    if missing:
        raise ValueError(
            f"LaserScan covers {SCAN_BEAMS - missing} of the critic's {SCAN_BEAMS} bearings "
            f"({math.degrees(abs(inc) * r.size):.0f} degrees at {math.degrees(abs(inc)):.2f} "
            "apart); the critic needs a 360-degree scan: merge the robot's scanners into one"
        )
    return np.minimum(out, SCAN_RANGE_MAX_M).astype(np.float32)


def bump_values(msg: MotionFeedback) -> np.ndarray:
    """The policy's ``bump`` input of a MotionFeedback: float32 (2,), 0/1 in
    :data:`~safevla_core.actions.BUMP_FIELDS` order (the message's fields carry those names)."""
    return np.array([float(bool(getattr(msg, name))) for name in BUMP_FIELDS], np.float32)


def joint_state(
    proprio, header, lift_joint: str, arm_joints, wrist_joint: str = "", wrist_yaw: float = 0.0
) -> JointState:
    """JointState of the simulator's ``obs["proprio"]`` (lift height, arm extension in metres,
    :data:`~safevla_core.actions.PROPRIO_FIELDS`): ``lift_joint`` at the lift height and the
    extension split evenly over ``arm_joints``, as a Stretch's telescoping segments report it
    (:func:`proprio_values` sums them back), and ``wrist_joint`` (unless "") at ``wrist_yaw``
    (rad, :func:`wrist_yaw_value` reads it back)."""
    p = np.asarray(proprio, np.float64).reshape(-1)
    if p.shape != (len(PROPRIO_FIELDS),):
        raise ValueError(f"joint state of shape {p.shape}, not ({len(PROPRIO_FIELDS)},)")
    arm = list(arm_joints)
    if not arm:
        raise ValueError("no arm joints to report the arm extension on")
    msg = JointState(header=header, name=[lift_joint, *arm])
    msg.position = [float(p[0])] + [float(p[1]) / len(arm)] * len(arm)
    if wrist_joint:
        msg.name.append(wrist_joint)
        msg.position.append(float(wrist_yaw))
    return msg


def wrist_yaw_value(msg: JointState, wrist_joint: str) -> float:
    """The wrist's yaw (rad) in a JointState: the position of ``wrist_joint``; 0.0 for
    ``wrist_joint`` "" (a robot without one). The range is checked by the critic
    (:func:`safevla_core.footprint.check_wrist_yaw`).

    Raises:
        ValueError: the joint missing from the message or named more than once (naming it,
            the joints it has and the parameter to set), or without a finite position.
    """
    if not wrist_joint:
        return 0.0
    names = list(msg.name)
    if names.count(wrist_joint) != 1:
        shown = names if len(names) <= 16 else [*names[:16], f"... {len(names) - 16} more"]
        raise ValueError(
            f"JointState with joint {wrist_joint!r} {names.count(wrist_joint)} times (it has "
            f"{shown}); set the safety monitor's wrist_joint parameter to the robot's wrist "
            "yaw joint ('' for a robot without one), or publish it on its joint_states_topic"
        )
    i = names.index(wrist_joint)
    if i >= len(msg.position) or not math.isfinite(msg.position[i]):
        raise ValueError(f"JointState without a finite position of {wrist_joint!r}")
    return float(msg.position[i])


def proprio_values(msg: JointState, lift_joint: str, arm_joints) -> np.ndarray:
    """The critic's ``proprio`` input of a JointState: float32 (lift height, arm extension) in
    metres, the position of ``lift_joint`` and the sum of the positions of ``arm_joints`` (a
    telescoping arm reports one joint per segment). Other joints in the message are ignored;
    the range is checked by the critic (:func:`safevla_core.actions.check_proprio`).

    Raises:
        ValueError: a configured joint missing from the message or named more than once
            (naming them, the joints it has and the parameters to set), fewer positions than
            names, or a non-finite position of a configured joint.
    """
    names = list(msg.name)
    wanted = [lift_joint, *arm_joints]
    missing = [j for j in wanted if j not in names]
    if missing:
        shown = names if len(names) <= 16 else [*names[:16], f"... {len(names) - 16} more"]
        raise ValueError(
            f"JointState without joint(s) {missing} (it has {shown}); set the safety "
            "monitor's lift_joint / arm_joints parameters to the robot's lift joint and arm "
            "segment joints, or publish them on its joint_states_topic"
        )
    twice = sorted({j for j in wanted if names.count(j) > 1})
    if twice:
        raise ValueError(f"JointState names joint(s) {twice} more than once")
    pos = np.asarray(msg.position, np.float64).reshape(-1)
    if pos.size < len(names):
        raise ValueError(
            f"JointState with {len(names)} names and {pos.size} positions; every joint needs "
            "its position"
        )
    values = pos[[names.index(j) for j in wanted]]
    bad = [j for j, v in zip(wanted, values, strict=True) if not math.isfinite(v)]
    if bad:
        raise ValueError(f"JointState with non-finite positions of {bad}")
    return np.array([values[0], values[1:].sum()], np.float32)
