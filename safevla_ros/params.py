"""Typed parameter specs of the runtime nodes: one place for names, defaults, ranges and docs.

Every node declares its ROS parameters from these specs (with a ``ParameterDescriptor`` carrying
the description and range) and validates the values it got from ``config/*.yaml`` with
:func:`resolve`. The YAML files only override defaults. Specs marked ``read_only`` (the safety
limits) cannot be changed while a node runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from safevla_core.action_adapter import AdapterLimits, MotionProfile
from safevla_core.critic_gate import (
    DEFAULT_CRITIC_CONTACT_GUARD_BASE,
    DEFAULT_CRITIC_DETOUR_AFTER,
    DEFAULT_CRITIC_ESCAPE_AFTER,
    DEFAULT_CRITIC_ESCAPE_BELOW,
    DEFAULT_CRITIC_MARGIN,
    DEFAULT_CRITIC_RECOVER_AFTER,
    DEFAULT_CRITIC_REPLACEMENT,
    DEFAULT_CRITIC_STALL_BELOW,
    DEFAULT_CRITIC_STALL_STOPS,
    DEFAULT_PROPRIO_MAX_AGE_S,
    DEFAULT_SCAN_MAX_AGE_S,
    DETOUR_WINDOW,
    RECOVER_WINDOW,
    REPLACEMENT_SEED,
    REPLACEMENTS,
    STALL_WINDOW,
)
from safevla_core.safety_monitor import MonitorConfig
from safevla_core.safety_spec import DEFAULT_COST_THRESHOLD
from sim_bridge.backends import BACKEND_NAMES, DEFAULT_BACKEND
from sim_bridge.robot import CAMERA_SIZE_HW
from sim_bridge.tasks import TASK_NAMES

ParamValue = bool | int | float | str | list


class ParameterError(ValueError):
    """A parameter value outside its allowed range; the message names the parameter."""


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter.

    Attributes:
        name: the ROS parameter name.
        default: default value; its Python type is the parameter's type.
        description: what it means, with its unit.
        min_value: inclusive lower bound for numbers (None = unbounded).
        max_value: inclusive upper bound for numbers (None = unbounded).
        choices: allowed values for strings (None = any).
        read_only: cannot be changed after the node started (safety limits).
    """

    name: str
    default: ParamValue
    description: str
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        lo, hi = self.min_value, self.max_value
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"{self.name}: min_value {self.min_value} > max {self.max_value}")
        self.validate(self.default)

    def range_text(self) -> str:
        """Human-readable allowed range, used in errors and descriptors."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = "-inf" if self.min_value is None else f"{self.min_value:g}"
        hi = "inf" if self.max_value is None else f"{self.max_value:g}"
        return f"[{lo}, {hi}]"

    def validate(self, value: ParamValue) -> ParamValue:
        """Check ``value`` against type and range; ints are accepted for float parameters; a
        list's items must have the type of the default's items.

        Raises:
            ParameterError: naming the parameter, the value and the allowed range.
        """
        kind = type(self.default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ParameterError(
                f"parameter {self.name!r}: expected {kind.__name__}, got {value!r}"
            )
        if kind is list and self.default:
            item = type(self.default[0])
            if not all(type(v) is item for v in value):
                raise ParameterError(
                    f"parameter {self.name!r}: expected a list of {item.__name__}, got {value!r}"
                )
        if kind in (int, float):
            bad = (isinstance(value, float) and not math.isfinite(value)) or (
                (self.min_value is not None and value < self.min_value)
                or (self.max_value is not None and value > self.max_value)
            )
            if bad:
                raise ParameterError(
                    f"parameter {self.name!r} = {value!r} is outside its allowed range "
                    f"{self.range_text()}"
                )
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"parameter {self.name!r} = {value!r} is not allowed; {self.range_text()}"
            )
        return value


def resolve(specs: tuple[ParamSpec, ...], values: dict[str, ParamValue]) -> dict[str, ParamValue]:
    """Defaults overridden by ``values``, every value validated.

    Raises:
        ParameterError: for an unknown name or a value outside its range.
    """
    known = {s.name: s for s in specs}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterError(f"unknown parameters {unknown}; known: {sorted(known)}")
    return {s.name: s.validate(values.get(s.name, s.default)) for s in specs}


def _p(name, default, description, lo=None, hi=None, choices=None, read_only=False) -> ParamSpec:
    return ParamSpec(name, default, description, lo, hi, choices, read_only)


# The monitor's limits and the motion profile are core facts (safevla_core): the evaluator's
# shield uses the same defaults, so the ROS specs take theirs from there.
_MOTION = MotionProfile()
_LIMITS = MonitorConfig()

_ADAPTER = AdapterLimits()

# Verdict origin (docs/ros_runtime.md, "Verdict origin"): the monitor signs, the adapter checks.
ORIGIN_PARAMS: tuple[ParamSpec, ...] = (
    _p(
        "verdict_key_file",
        "",
        "file holding the secret key that signs verdicts (HMAC-SHA256); the same file for "
        "monitor and adapter; empty = unsigned (identity and sequence checks only)",
        read_only=True,
    ),
    _p(
        "heartbeat_topic", "safevla/monitor_heartbeat", "the monitor's heartbeat (std_msgs/Header)"
    ),
)

# Limits both the monitor (on the command it allows) and the adapter (on the Twist it sends)
# enforce: same names, so a `/**` section in config/robot.yaml sets both.
LIMIT_PARAMS: tuple[ParamSpec, ...] = (
    _p(
        "max_action_rate_hz",
        _LIMITS.max_action_rate_hz,
        "most motion commands per second",
        0.1,
        1000.0,
        read_only=True,
    ),
    _p(
        "max_linear_speed",
        _LIMITS.max_linear_speed,
        "velocity limit of the base, m/s",
        0.0,
        5.0,
        read_only=True,
    ),
    _p(
        "max_angular_speed",
        _LIMITS.max_angular_speed,
        "turn-rate limit of the base, rad/s",
        0.0,
        10.0,
        read_only=True,
    ),
    _p("max_arm_speed", _LIMITS.max_arm_speed, "arm speed limit, m/s", 0.0, 2.0, read_only=True),
)

# Shared by the monitor (velocity rule) and the adapter (Twist generation): same YAML values.
MOTION_PARAMS: tuple[ParamSpec, ...] = (
    _p("linear_speed", _MOTION.linear_speed, "base speed of move_ahead/move_back, m/s", 0.01, 2.0),
    _p(
        "angular_speed",
        _MOTION.angular_speed,
        "base turn rate of rotate actions, rad/s",
        0.01,
        6.0,
    ),
    _p("arm_speed", _MOTION.arm_speed, "arm extend/lift speed, m/s", 0.005, 1.0),
)

# With a key, a bundle must carry a valid Ed25519 signature by it (docs/bundle.md); read-only: a
# running node never swaps the key that guards what it executes.
# Default names of the topics more than one node uses (relative: a launch namespace prefixes
# them); each node's spec below names its own side of the topic.
IMAGE_TOPIC = "safevla/image"
MANIP_CAMERA_TOPIC = "manip_camera/image_raw"  # the wrist camera (grasping tasks)
INSTRUCTION_TOPIC = "safevla/instruction"
PROPOSAL_TOPIC = "safevla/proposal"
VERDICT_TOPIC = "safevla/verdict"
EVENT_TOPIC = "safevla/safety_events"
ESTOP_TOPIC = "safevla/estop"
HOLDING_TOPIC = "safevla/holding"
BUMP_TOPIC = "safevla/bump"  # the motion feedback of the last action (safevla_ros/MotionFeedback)
SCAN_TOPIC = "scan"  # the 360-degree range scan around the base (sensor_msgs/LaserScan)
# the same scan with the building's static structure (walls, floor) removed: a scan filtered
# against the static map (sensor_msgs/LaserScan)
SCAN_OBJECTS_TOPIC = "scan_objects"
# the same 360 degrees over the heights the arm and gripper occupy at the lift's height only
# (safevla_core.footprint.ARM_BAND_M; sensor_msgs/LaserScan): the monitor's arm guard
SCAN_ARM_TOPIC = "scan_arm"
JOINT_STATES_TOPIC = "joint_states"  # the robot's joint positions (sensor_msgs/JointState)
EXPLORED_TOPIC = "safevla/explored"  # the explored map around the robot (safevla_ros/ExploredMap)

# The arm's joints in a JointState (the critic's proprio input: lift height, arm extension),
# Stretch's names by default; shared by the monitor (reads them) and the sim bridge (names its
# JointState with them): a `/**` section in config/robot.yaml sets both. A string array.
JOINT_NAME_PARAMS: tuple[ParamSpec, ...] = (
    _p(
        "lift_joint",
        "joint_lift",
        "the JointState joint whose position is the lift height, m",
        read_only=True,
    ),
    _p(
        "arm_joints",
        ["joint_arm_l3", "joint_arm_l2", "joint_arm_l1", "joint_arm_l0"],
        "the JointState joints whose positions sum to the arm extension, m (a telescoping "
        "arm's segments; one name for an arm that reports one joint)",
        read_only=True,
    ),
    _p(
        "wrist_joint",
        "joint_wrist_yaw",
        "the JointState joint whose position is the wrist's yaw, rad from its zero "
        "(counter-clockwise; the monitor's footprint turns the gripper by it); empty = a "
        "robot without a wrist yaw joint (the gripper stays at its zero)",
        read_only=True,
    ),
)


def wrist_joint_name(p: dict) -> str:
    """The ``wrist_joint`` of resolved parameters ("" = none).

    Raises:
        ParameterError: a blank name, or the name of the lift or an arm joint.
    """
    wrist = p["wrist_joint"]
    if wrist != wrist.strip() or wrist in (p["lift_joint"], *p["arm_joints"]):
        raise ParameterError(
            f"parameter 'wrist_joint' = {wrist!r}: name the robot's wrist yaw joint (not the "
            "lift or an arm joint, no spaces around it), or '' for a robot without one"
        )
    return wrist


def joint_names(p: dict) -> tuple[str, list[str]]:
    """``(lift_joint, arm_joints)`` of resolved parameters (:data:`JOINT_NAME_PARAMS`).

    Raises:
        ParameterError: an empty name, no arm joint, or a name given twice (a position
            counted twice), naming the parameters.
    """
    lift, arm = p["lift_joint"], list(p["arm_joints"])
    names = [lift, *arm]
    if not arm or not all(n.strip() for n in names) or len(set(names)) < len(names):
        raise ParameterError(
            f"parameters 'lift_joint' = {lift!r}, 'arm_joints' = {arm!r}: need one lift joint "
            "and at least one arm joint, all named, none twice"
        )
    return lift, arm


_VERIFY_KEY = _p(
    "verify_key",
    "",
    "PEM public key the bundle must be signed with (empty = unsigned bundles accepted)",
    read_only=True,
)

PERCEPTION_PARAMS: tuple[ParamSpec, ...] = (
    _p("bundle_path", "", "model bundle folder; its image spec sets the output size"),
    _VERIFY_KEY,
    _p("image_topic", "camera/image_raw", "input camera topic (sensor_msgs/Image)"),
    _p(
        "manip_image_topic",
        MANIP_CAMERA_TOPIC,
        "wrist camera topic, read only for a bundle that sees it (image.camera with manip_rgb)",
    ),
    _p("output_topic", IMAGE_TOPIC, "resized rgb8 image for the policy"),
    _p(
        "max_frame_age_s", 0.5, "frames older than this are dropped, s", 0.01, 10.0, read_only=True
    ),
)

POLICY_PARAMS: tuple[ParamSpec, ...] = (
    _p("bundle_path", "", "model bundle folder (policy.onnx, cost critic, bundle.json)"),
    _VERIFY_KEY,
    _p("image_topic", IMAGE_TOPIC, "preprocessed image from the perception node"),
    _p("instruction_topic", INSTRUCTION_TOPIC, "instruction (std_msgs/String, latched)"),
    _p("proposal_topic", PROPOSAL_TOPIC, "ActionProposal output"),
    _p("verdict_topic", VERDICT_TOPIC, "SafetyVerdict input: the executed previous action"),
    _p("holding_topic", HOLDING_TOPIC, "std_msgs/Bool: the gripper holds an object"),
    _p(
        "bump_topic",
        BUMP_TOPIC,
        "MotionFeedback (blocked, collided) of the last executed action; read for a bundle "
        "that takes it (graph input 'bump'), which proposes nothing until it arrives, and for "
        "skip_blocked",
    ),
    _p(
        "explored_topic",
        EXPLORED_TOPIC,
        "ExploredMap around the robot; read only for a bundle that takes it (graph input "
        "'explored'), which proposes nothing until it arrives",
    ),
    _p("execution_providers", ["tensorrt", "cuda", "cpu"], "ONNX Runtime providers, in order"),
    _p("intra_op_threads", 1, "ONNX Runtime intra-op threads", 1, 64),
    _p("greedy", True, "propose the most likely action (False: sample)"),
    _p(
        "skip_blocked",
        False,
        "do not propose again a motion whose MotionFeedback said blocked or collided until the "
        "robot has moved cleanly (as safevla eval --skip-blocked); without feedback it masks "
        "nothing",
    ),
    _p(
        "break_dither",
        0,
        "once this many executed motions in a row each undid the one before (rotate_left, "
        "rotate_right, ...), do not propose the undo of the last one until something else runs "
        "(as safevla eval --break-dither; 0 = off, else >= 2; docs/ros_runtime.md)",
        0,
        1000,
    ),
    _p("seed", 0, "seed of action sampling", 0, 2**31 - 1),
)

# The independent safety critic in the monitor (docs/safety_critic.md); read-only like the
# bundle: a running monitor never swaps the model that judges what it lets through.
CRITIC_PARAMS: tuple[ParamSpec, ...] = (
    _p(
        "critic_bundle",
        "",
        "safety-critic bundle folder (critic.json, critic.onnx); empty = no independent critic",
        read_only=True,
    ),
    _p(
        "critic_alpha",
        0.0,
        "calibration level the critic must have been calibrated at (0 = the bundle's alpha)",
        0.0,
        0.999,
        read_only=True,
    ),
    _p(
        "critic_margin",
        DEFAULT_CRITIC_MARGIN,
        "a replacement after a critic veto needs risk < margin x threshold in every category",
        0.01,
        1.0,
        read_only=True,
    ),
    _p(
        "critic_escape_after",
        DEFAULT_CRITIC_ESCAPE_AFTER,
        "once the robot has stood this many proposals, a critic veto of a base motion with no "
        "clear replacement runs the least risky base motion instead of a stop (0 = never)",
        0,
        1000,
        read_only=True,
    ),
    _p(
        "critic_escape_below",
        DEFAULT_CRITIC_ESCAPE_BELOW,
        "the escape only runs a motion whose risk is now below this multiple of the thresholds "
        "(1 = within the calibrated thresholds; 0 = any motion)",
        0.0,
        100.0,
        read_only=True,
    ),
    _p(
        "critic_recover_after",
        DEFAULT_CRITIC_RECOVER_AFTER,
        f"once this many of the last {RECOVER_WINDOW} proposals were vetoed base motions, a "
        "one-hot proposal's veto of a base motion backs off with move_back (else move_ahead) "
        "where the critic passes it, instead of a stop (0 = never)",
        0,
        RECOVER_WINDOW,
        read_only=True,
    ),
    _p(
        "critic_detour_after",
        DEFAULT_CRITIC_DETOUR_AFTER,
        f"once this many of the last {DETOUR_WINDOW} proposals were vetoed base motions, a "
        "veto of a base motion starts a detour: a side-step around what blocks the way, planned "
        "on the range scan, each step judged by the critic as it runs (0 = never)",
        0,
        DETOUR_WINDOW,
        read_only=True,
    ),
    _p(
        "critic_stall_stops",
        DEFAULT_CRITIC_STALL_STOPS,
        f"once this many of the last {STALL_WINDOW} proposals ended in a stop, a critic veto of a "
        "base motion that would stop the robot again runs the proposal, else a base motion drawn "
        "among those, if its risk is below critic_stall_below x the thresholds, judged afresh; "
        "counted in /diagnostics "
        "(critic_releases; 0 = never)",
        0,
        STALL_WINDOW,
        read_only=True,
    ),
    _p(
        "critic_stall_below",
        DEFAULT_CRITIC_STALL_BELOW,
        "the stall release only runs a motion whose risk is below this multiple of the "
        "thresholds (1 = only motions the calibrated thresholds pass; above 1 it may run one they "
        "refuse)",
        0.01,
        100.0,
        read_only=True,
    ),
    _p(
        "critic_guard_release",
        True,
        "give a corner-guard veto of a base motion back to the critic's own risk where the "
        "motion only slides along or moves away from what the robot touches (range scan, the "
        "robot's footprint with the wrist's yaw)",
        read_only=True,
    ),
    _p(
        "critic_arm_guard",
        True,
        "veto an arm extension (arm_out, arm_out_small) that would bring the gripper within 5 mm "
        "of what the arm scan sees (scan_arm_topic), for a critic that reads the range scan; "
        "on, the robot stops until a usable arm scan and arm joint state arrive",
        read_only=True,
    ),
    _p(
        "critic_contact_guard",
        True,
        "do not drive a joint the way a motion touched something (a blocked base motion; any "
        "arm motion) until the robot has moved clear; uses the motion feedback of a critic "
        "that reads it (bump_topic)",
        read_only=True,
    ),
    _p(
        "critic_contact_guard_base",
        DEFAULT_CRITIC_CONTACT_GUARD_BASE,
        "with critic_contact_guard, a base motion blocked by contact bars its way too (false: "
        "only the arm's motions bar theirs)",
        read_only=True,
    ),
    _p(
        "critic_replacement",
        DEFAULT_CRITIC_REPLACEMENT,
        "how a critic veto's replacement is chosen among the clear motions the policy gives "
        "probability: sample (from its distribution, seeded per episode) or likeliest",
        choices=REPLACEMENTS,
        read_only=True,
    ),
    _p(
        "critic_seed",
        REPLACEMENT_SEED,
        "the seed the critic's replacement draws and stall-release draws restart from at every "
        "episode (a shielded run is one draw of them; another seed redraws it)",
        0,
        2**31 - 1,
        read_only=True,
    ),
    _p(
        "scan_max_age_s",
        DEFAULT_SCAN_MAX_AGE_S,
        "for a critic that reads the range scan (or the object scan): a proposal judged more "
        "than this long after the newest scan arrived is a stop (a scanner that stopped "
        "publishing)",
        0.05,
        10.0,
        read_only=True,
    ),
    _p(
        "proprio_max_age_s",
        DEFAULT_PROPRIO_MAX_AGE_S,
        "for a critic that reads the arm's joint state: a proposal judged more than this long "
        "after the newest joint state arrived is a stop (an arm driver that stopped publishing)",
        0.05,
        10.0,
        read_only=True,
    ),
    _p(
        "bundle_path",
        "",
        "the policy bundle the critic must match (action space, categories, image spec, "
        "safety spec); needed with critic_bundle",
        read_only=True,
    ),
    _p(
        "verify_key",
        "",
        "PEM public key the policy bundle and the critic bundle must be signed with "
        "(bundle.json.sig, critic.json.sig; empty = unsigned bundles accepted)",
        read_only=True,
    ),
    _p("image_topic", IMAGE_TOPIC, "the policy's frames (perception output), for the critic"),
    _p("instruction_topic", INSTRUCTION_TOPIC, "instruction: a new episode for the critic"),
    _p(
        "bump_topic",
        BUMP_TOPIC,
        "MotionFeedback (blocked, collided) of the last executed action; read only for a critic "
        "that takes it (bump_input), which stops the robot until it arrives",
    ),
    _p(
        "scan_topic",
        SCAN_TOPIC,
        "sensor_msgs/LaserScan covering 360 degrees around the base (a lidar, or a depth camera "
        "ring through a point-cloud-to-scan node); read only for a critic that takes it "
        "(scan_input), which stops the robot until a usable one arrives",
    ),
    _p(
        "scan_objects_topic",
        SCAN_OBJECTS_TOPIC,
        "sensor_msgs/LaserScan of the same 360 degrees with the building's static structure "
        "(walls, floor) removed: a scan filtered against the static map (e.g. by a map-based "
        "scan filter); read only for a critic that takes it (object_scan_input), which stops "
        "the robot until a usable one arrives",
    ),
    _p(
        "scan_arm_topic",
        SCAN_ARM_TOPIC,
        "sensor_msgs/LaserScan of the same 360 degrees over only the heights the arm and gripper "
        "occupy at the lift's height (10 cm below it to 3 cm above: a depth camera or 3D lidar "
        "through a point-cloud-to-scan node whose height band follows the lift); read when the "
        "arm guard is on (critic_arm_guard) for a critic that reads the range scan, which "
        "stops the robot until a usable one arrives",
    ),
    _p(
        "joint_states_topic",
        JOINT_STATES_TOPIC,
        "sensor_msgs/JointState with the lift_joint and arm_joints in every message (the arm "
        "driver's, or a merged one); read only for a critic that takes the arm's joint state "
        "(proprio_input), which stops the robot until a usable one arrives",
    ),
    *JOINT_NAME_PARAMS,
    _p(
        "holding_topic",
        HOLDING_TOPIC,
        "std_msgs/Bool: the gripper holds an object; read only for a critic with a clear pass "
        "(clear_pass_m), which passes base motions clear of the scan only once this says the "
        "gripper is empty",
    ),
)

MONITOR_PARAMS: tuple[ParamSpec, ...] = (
    _p("proposal_topic", PROPOSAL_TOPIC, "ActionProposal input"),
    _p("frame_topic", "safevla/image_stamp", "stamps of accepted frames (frame watchdog)"),
    _p("verdict_topic", VERDICT_TOPIC, "SafetyVerdict output (the adapter's only input)"),
    _p("event_topic", EVENT_TOPIC, "SafetyEvent output"),
    _p("estop_topic", ESTOP_TOPIC, "latched e-stop (std_msgs/Bool)"),
    _p("robot_id", "", "fleet-unique robot name; empty = the node namespace"),
    _p(
        "cost_threshold",
        DEFAULT_COST_THRESHOLD,
        "veto actions with predicted cost above this",
        0.0,
        100.0,
        read_only=True,
    ),
    _p(
        "frame_timeout_s",
        _LIMITS.frame_timeout_s,
        "stop when the newest frame is older, s",
        0.01,
        10.0,
        read_only=True,
    ),
    _p(
        "heartbeat_timeout_s",
        _LIMITS.heartbeat_timeout_s,
        "stop when no proposal for this long, s",
        0.01,
        10.0,
        read_only=True,
    ),
    _p("watchdog_rate_hz", 20.0, "watchdog check rate, Hz", 1.0, 1000.0, read_only=True),
    *LIMIT_PARAMS,
    _p(
        "stop_repeat_s",
        _LIMITS.stop_repeat_s,
        "re-publish the stop verdict this often while stopped, s",
        0.05,
        60.0,
        read_only=True,
    ),
    _p(
        "max_future_s",
        _LIMITS.max_future_s,
        "frame stamps further ahead of the monitor's clock are rejected, s",
        0.0,
        5.0,
        read_only=True,
    ),
    _p(
        "degenerate_critic_after",
        _LIMITS.degenerate_critic_after,
        "flag a critic whose first N outputs are all zero (0 = never)",
        0,
        100000,
        read_only=True,
    ),
    *CRITIC_PARAMS,
    *ORIGIN_PARAMS,
    *MOTION_PARAMS,
)

ADAPTER_PARAMS: tuple[ParamSpec, ...] = (
    _p("verdict_topic", VERDICT_TOPIC, "SafetyVerdict input (the only command source)"),
    _p("cmd_vel_topic", "cmd_vel", "geometry_msgs/Twist output for the mobile base"),
    _p("arm_topic", "arm_command", "std_msgs/String arm/gripper command output"),
    _p("sim_action_topic", "sim/action", "std_msgs/String action name (or 'stop') for a sim"),
    _p("publish_cmd_vel", True, "drive the mobile base"),
    _p("publish_arm", True, "publish arm commands"),
    _p("publish_sim_action", False, "publish discrete actions for the sim bridge"),
    _p("control_rate_hz", 20.0, "Twist re-publish rate during a motion, Hz", 1.0, 200.0),
    _p("estop_topic", ESTOP_TOPIC, "latched e-stop (std_msgs/Bool), obeyed by the adapter too"),
    _p("monitor_node", "safety_monitor_node", "the only node whose verdicts may move the robot"),
    _p(
        "monitor_timeout_s",
        _ADAPTER.monitor_timeout_s,
        "stop when no verdict or heartbeat from the monitor for this long, s",
        0.05,
        10.0,
        read_only=True,
    ),
    _p(
        "max_verdict_age_s",
        _ADAPTER.max_verdict_age_s,
        "refuse verdicts stamped further from the adapter's clock, s",
        0.01,
        10.0,
        read_only=True,
    ),
    *LIMIT_PARAMS,
    *ORIGIN_PARAMS,
    *MOTION_PARAMS,
)

SIM_BRIDGE_PARAMS: tuple[ParamSpec, ...] = (
    _p("image_topic", "camera/image_raw", "camera output (sensor-data QoS)"),
    _p(
        "manip_image_topic",
        MANIP_CAMERA_TOPIC,
        "wrist camera output, drawn only for a bundle that sees it (same stamp as the frame)",
    ),
    _p("camera_info_topic", "camera/camera_info", "camera_info output"),
    _p("action_topic", "sim/action", "std_msgs/String action name or 'stop'"),
    _p("status_topic", "sim/episode_status", "EpisodeStatus output"),
    _p("instruction_topic", INSTRUCTION_TOPIC, "instruction output (latched)"),
    _p("task", "objnav", "task of generated episodes", choices=TASK_NAMES),
    _p("backend", DEFAULT_BACKEND, "simulator (thor needs a Unity build)", choices=BACKEND_NAMES),
    _p("episode_file", "", "JSONL episode set (empty = the shipped validation set)"),
    _p("camera_width", CAMERA_SIZE_HW[1], "rendered frame width, px", 16, 2048),
    _p("camera_height", CAMERA_SIZE_HW[0], "rendered frame height, px", 16, 2048),
    _p("bundle_path", "", "render at this bundle's training frame size (empty = camera_*)"),
    _p("holding_topic", HOLDING_TOPIC, "std_msgs/Bool: the gripper holds an object"),
    _p(
        "bump_topic",
        BUMP_TOPIC,
        "MotionFeedback output: blocked / collided of each executed step (both false at "
        "episode start), for a bundle that takes it",
    ),
    _p(
        "explored_topic",
        EXPLORED_TOPIC,
        "ExploredMap output: the explored map of each observation, before its frame; only for "
        "a bundle that takes it (graph input 'explored')",
    ),
    _p(
        "scan_topic",
        SCAN_TOPIC,
        "LaserScan output: the 360-degree range scan of each observation, before its frame "
        "(MuJoCo backend; cast only while something subscribes, e.g. a scan critic's monitor)",
    ),
    _p(
        "scan_objects_topic",
        SCAN_OBJECTS_TOPIC,
        "LaserScan output: the same rays as scan_topic's with the building's static structure "
        "(walls, floor) removed, as a scan filtered against a static map (no return where a "
        "beam first hits structure), same stamp (MuJoCo backend; only while something "
        "subscribes, e.g. the monitor of a critic that takes it)",
    ),
    _p(
        "scan_arm_topic",
        SCAN_ARM_TOPIC,
        "LaserScan output: the same rays as scan_topic's at only the heights the arm and gripper "
        "occupy at the lift's height, same stamp (MuJoCo backend; only while something "
        "subscribes, e.g. the monitor's arm guard)",
    ),
    _p(
        "joint_states_topic",
        JOINT_STATES_TOPIC,
        "JointState output: the arm's joint state of each observation (lift_joint, the "
        "extension split evenly over arm_joints), before its frame; only while something "
        "subscribes (e.g. the monitor of a critic that takes it)",
    ),
    *JOINT_NAME_PARAMS,
    _p(
        "auto_reset",
        True,
        "start episodes on its own: the first once perception, policy and adapter are up, the "
        "next when one ends (safevla run sets it off and calls reset_episode)",
    ),
    _p("frame_rate_hz", 10.0, "most frames per second (lockstep with actions)", 0.5, 200.0),
    _p("action_timeout_s", 1.0, "no command for a frame this long = a stop step, s", 0.05, 30.0),
    _p("max_steps", 200, "episode step limit", 1, 10000),
    _p("seed", 0, "seed of generated episodes", 0, 2**31 - 1),
)

# The safety recorder (safevla_ros/safety_recorder_node.py): what it records, where, how files
# rotate and how camera frames are thinned. Nothing here touches the robot's path.
RECORDER_PARAMS: tuple[ParamSpec, ...] = (
    _p("output_dir", "", "folder of the MCAP files; empty = $ROS_HOME/safevla_recordings"),
    _p("robot_id", "", "robot name in file names and reports; empty = the node namespace"),
    _p("verdict_topic", VERDICT_TOPIC, "SafetyVerdict input"),
    _p("event_topic", EVENT_TOPIC, "SafetyEvent input (vetoes and stops)"),
    _p("diagnostics_topic", "/diagnostics", "DiagnosticArray input (and this node's output)"),
    _p("instruction_topic", INSTRUCTION_TOPIC, "instruction input (std_msgs/String)"),
    _p("image_topic", IMAGE_TOPIC, "camera or perception frames (sensor_msgs/Image)"),
    _p("max_file_mb", 64.0, "start a new file when the open one reaches this size, MiB", 0.01),
    _p("max_file_s", 3600.0, "start a new file after this long, s", 1.0, 7 * 86400.0),
    _p("flush_period_s", 0.5, "finish the open chunk and flush this often, s", 0.05, 5.0),
    _p("frame_window_s", 5.0, "frames kept before each veto or stop, s", 0.0, 600.0),
    _p("frame_after_s", 1.0, "frames written after each veto or stop, s", 0.0, 600.0),
    _p("frame_every_n", 2, "keep every n-th frame", 1, 1000),
    _p("frame_scale", 1, "shrink kept frames by this integer factor", 1, 64),
)


def check_policy_inputs(bundle) -> None:
    """Refuse a policy bundle (a :class:`safevla_core.bundle.Bundle`) whose graph takes an
    input the policy node does not feed; ``safevla run`` checks it before any node starts.

    Raises:
        ValueError: the graph takes the arm's joint state (``proprio``), naming the bundle
            and what to do instead.
    """
    if bundle.graph.takes_proprio:
        raise ValueError(
            f"bundle {bundle.bundle_id} takes the arm's joint state (graph input 'proprio'); "
            "the policy node does not feed it yet. Evaluate it with `safevla eval`, or deploy "
            "a bundle trained without model.proprio_input"
        )
