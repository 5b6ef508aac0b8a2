"""Safety monitor node: the only path to actuators.

Every ActionProposal gets one SafetyVerdict (the adapter's only input); a watchdog timer adds
stop verdicts when frames or the policy's heartbeat stop; the latched e-stop (std_msgs/Bool,
reliable + transient-local) stops until released. Every veto or stop also goes out as a
SafetyEvent; /diagnostics gets the monitor's state once a second. Safety limits are read-only
parameters. Rules and their order: :mod:`safevla_core.safety_monitor`.

With ``critic_bundle`` set, the independent safety critic judges every proposal on the frame it
was computed from: the node keeps the newest perception frames (``image_topic``) by stamp and
resets the critic's history on each instruction (a new episode, as the policy does); the critic
must match the policy bundle (``bundle_path``) or the node does not start
(docs/safety_critic.md). A critic that reads the motion feedback (``bump_input``) also gets the
MotionFeedback on ``bump_topic`` (reliable + transient-local, as the policy node reads it); until
one has arrived its rule stops the robot. A critic that reads the range scan (``scan_input``)
gets each LaserScan on ``scan_topic`` (sensor QoS, any 360-degree scan, resampled to its
bearings by :func:`safevla_ros.msg_conversions.scan_values`); until a usable one has arrived,
after a rejected one, and once the newest arrived more than ``scan_max_age_s`` ago, its rule
stops the robot. A critic that reads the object scan (``object_scan_input``: the same scan with
the building's static structure removed, a scan filtered against the static map) gets each
LaserScan on ``scan_objects_topic`` under the same rules (sensor QoS, ``scan_max_age_s``), and
with the arm guard on (``critic_arm_guard``, for a critic that reads the range scan) the scan
over the heights the arm and gripper occupy on ``scan_arm_topic`` and the arm's joint state,
likewise; without a usable one its rule stops the robot. A critic that reads the arm's joint state
(``proprio_input``) gets each JointState on ``joint_states_topic`` (sensor QoS: matches any
joint-state publisher), read as (position of ``lift_joint``, sum of the positions of
``arm_joints``) by :func:`safevla_ros.msg_conversions.proprio_values`, with the position of
``wrist_joint`` (the wrist's yaw, rad; none for ``wrist_joint`` "") for the footprint of the
clear pass and the detour (:func:`safevla_ros.msg_conversions.wrist_yaw_value`); until a usable
one has arrived, after a rejected one (e.g. without those joints), and once the newest arrived
more than ``proprio_max_age_s`` ago, its rule stops the robot. A critic with a clear pass
(``clear_pass_m``: base motions whose footprint, the arm at its extension, clears the scan pass)
also reads that joint state, and the gripper's holding flag (std_msgs/Bool on ``holding_topic``,
reliable): the pass holds only once a message has said the gripper is empty (the footprint does
not cover a held object), so without one the critic's risks decide alone.

Every verdict carries the monitor's id, a sequence number and (with ``verdict_key_file``) an
HMAC the adapter checks; a heartbeat (std_msgs/Header, ``frame_id`` = id and HMAC) goes out at
the watchdog rate, so the adapter stops the robot when the monitor dies. No message field can
crash the monitor: what the rules cannot use is a stop verdict naming it.
"""

from __future__ import annotations

import math
import secrets
import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import Image, JointState, LaserScan
from std_msgs.msg import Bool, Header, String

from safevla_core.action_adapter import MotionProfile, heartbeat_digest
from safevla_core.bundle import BundleError, load_bundle
from safevla_core.critic_gate import CriticGate, PolicyFacts
from safevla_core.image_preprocessing import ImageFormatError, decode_image
from safevla_core.monitor_rules import idle_stop
from safevla_core.safety_monitor import (
    Decision,
    MonitorConfig,
    Rule,
    SafetyMonitor,
)
from safevla_ros.msg import ActionProposal, MotionFeedback, SafetyEvent, SafetyVerdict
from safevla_ros.msg_conversions import (
    bump_values,
    decide_proposal,
    proprio_values,
    scan_values,
    sign_verdict,
    to_event,
    to_verdict,
    wrist_yaw_value,
)
from safevla_ros.params import MONITOR_PARAMS, ParameterError, joint_names, wrist_joint_name
from safevla_ros.ros_common import (
    ERROR,
    FAILURE,
    FRAME_QOS,
    LATCHED_QOS,
    OK,
    RELIABLE_QOS,
    SENSOR_QOS,
    SUCCESS,
    WARN,
    declare_params,
    diagnostics,
    now_s,
    read_key,
    read_params,
    run_node,
    stamp_s,
)

_MOTION = ("linear_speed", "angular_speed", "arm_speed")


class SafetyMonitorNode(LifecycleNode):
    """Proposals in, verdicts out; hard rules and watchdogs in between."""

    def __init__(self) -> None:
        super().__init__("safety_monitor_node")
        declare_params(self, MONITOR_PARAMS)
        self.counts = {"decisions": 0, "vetoes": 0, "stops": 0, "bad_frame_stamps": 0}
        self.counts |= {"critic_replacements": 0, "critic_stops": 0, "critic_bad_frames": 0}
        self.counts |= {"critic_bad_scans": 0, "critic_bad_object_scans": 0}
        self.counts |= {"critic_bad_arm_scans": 0}
        self.counts |= {"critic_bad_joint_states": 0, "critic_releases": 0, "critic_holds": 0}
        self.critic: CriticGate | None = None
        self._subs = []
        self._critic_reported = False
        self.sequence = 0

    def on_configure(self, state):
        try:
            p = read_params(self, MONITOR_PARAMS)
            motion = MotionProfile(**{k: p[k] for k in _MOTION})
            limits = {k: p[k] for k in MonitorConfig.__dataclass_fields__ if k in p}
            self.config = MonitorConfig(motion=motion, **limits)
            self.key = read_key(p["verdict_key_file"])
            self.lift_joint, self.arm_joints = joint_names(p)
            self.wrist_joint = wrist_joint_name(p)
            self.critic = load_critic(p)
        except (ParameterError, BundleError, ValueError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        if self.critic is not None:
            guard = self.critic.critic.manifest.corner_guard
            self.get_logger().info(
                f"independent safety critic {self.critic.bundle_id}: alpha "
                f"{self.critic.critic.manifest.alpha:g}, thresholds "
                f"{self.critic.thresholds.round(5).tolist()}, margin {self.critic.margin:g}"
                + (f", corner guard {guard}" if guard else "")
            )
        self.params = p
        self.robot_id = p["robot_id"] or self.get_namespace().strip("/") or "robot"
        # a fresh session id per start: the adapter tells a restarted monitor from a replay
        self.monitor_id = f"{self.get_fully_qualified_name()}#{secrets.token_hex(4)}"
        self._heartbeat = self.create_lifecycle_publisher(Header, p["heartbeat_topic"], 10)
        self._verdict = self.create_lifecycle_publisher(SafetyVerdict, p["verdict_topic"], 10)
        self._event = self.create_lifecycle_publisher(SafetyEvent, p["event_topic"], 50)
        self._diag = self.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE_QOS)
        return SUCCESS

    def on_activate(self, state):
        p = self.params
        self.monitor = SafetyMonitor(self.config, now_s(self), critic=self.critic)
        result = super().on_activate(state)
        self._subs = [
            self.create_subscription(Bool, p["estop_topic"], self.on_estop, LATCHED_QOS),
            # frames subscribed before proposals; a proposal whose frame is not stored yet
            # stops (the critic rule), it never passes unjudged
            *self._critic_subscriptions(),
            self.create_subscription(ActionProposal, p["proposal_topic"], self.on_proposal, 10),
            self.create_subscription(Header, p["frame_topic"], self.on_frame, RELIABLE_QOS),
        ]
        self._timers = [
            self.create_timer(1.0 / p["watchdog_rate_hz"], self.on_watchdog),
            self.create_timer(1.0, self.publish_status),
        ]
        return result

    def on_deactivate(self, state):
        for s in self._subs:
            self.destroy_subscription(s)
        for t in self._timers:
            self.destroy_timer(t)
        self._subs, self._timers = [], []
        self.publish(self.monitor.on_estop(True, now_s(self)), 0.0)  # leave the robot stopped
        return super().on_deactivate(state)

    def _critic_subscriptions(self) -> list:
        if self.critic is None:
            return []
        p = self.params
        # the instruction and the feedback before the frames they apply to (an executor serves
        # a node's ready subscriptions in creation order; see the policy node)
        subs = [
            self.create_subscription(
                String, p["instruction_topic"], self.on_instruction, LATCHED_QOS
            )
        ]
        if self.critic.takes_bump:  # no subscription (no new dependency) for other critics
            topic = p["bump_topic"]
            subs.append(self.create_subscription(MotionFeedback, topic, self.on_bump, LATCHED_QOS))
        if self.critic.takes_scan:  # sensor QoS: matches a lidar driver's best-effort scans
            topic = p["scan_topic"]
            subs.append(self.create_subscription(LaserScan, topic, self.on_scan, SENSOR_QOS))
        if self.critic.takes_object_scan:  # a map-filtered scan: sensor QoS too
            topic = p["scan_objects_topic"]
            subs.append(
                self.create_subscription(LaserScan, topic, self.on_scan_objects, SENSOR_QOS)
            )
        if self.critic.takes_arm_scan:  # the arm guard's scan at the arm's heights: sensor QoS
            topic = p["scan_arm_topic"]
            subs.append(self.create_subscription(LaserScan, topic, self.on_scan_arm, SENSOR_QOS))
        if self.critic.takes_holding:  # reliable, volatile: matches any Bool publisher
            topic = p["holding_topic"]
            subs.append(self.create_subscription(Bool, topic, self.on_holding, RELIABLE_QOS))
        if self.critic.takes_proprio:
            # sensor QoS (best effort, newest few): matches a reliable joint-state publisher
            # (robot drivers, joint_state_publisher) and a best-effort one alike; a lost
            # message only ages the newest, which proprio_max_age_s bounds
            topic = p["joint_states_topic"]
            subs.append(
                self.create_subscription(JointState, topic, self.on_joint_state, SENSOR_QOS)
            )
        subs.append(self.create_subscription(Image, p["image_topic"], self.on_image, FRAME_QOS))
        return subs

    def on_bump(self, msg: MotionFeedback) -> None:
        """The motion feedback of the last executed action, for a critic that reads it (the
        message's two booleans are always a valid 0/1 pair)."""
        self.critic.on_bump(bump_values(msg))

    def on_scan(self, msg: LaserScan) -> None:
        """The range scan around the base, for a critic that reads it. A scan that does not
        cover the critic's bearings or holds NaN is rejected and drops the last one, so the
        robot stops until a usable scan arrives."""
        try:
            self.critic.on_scan(scan_values(msg), now_s(self))  # its age: since it arrived
        except ValueError as exc:
            self.critic.drop_scan()
            self.counts["critic_bad_scans"] += 1
            self.get_logger().error(f"critic scan rejected: {exc}", throttle_duration_sec=1.0)

    def on_scan_objects(self, msg: LaserScan) -> None:
        """The range scan with the static structure removed (a scan filtered against the
        static map), for a critic that reads it; rejected and dropped as :meth:`on_scan`."""
        try:
            self.critic.on_scan_objects(scan_values(msg), now_s(self))  # its age: since arrival
        except ValueError as exc:
            self.critic.drop_scan_objects()
            self.counts["critic_bad_object_scans"] += 1
            self.get_logger().error(
                f"critic object scan rejected: {exc}", throttle_duration_sec=1.0
            )

    def on_scan_arm(self, msg: LaserScan) -> None:
        """The range scan over the heights the arm and gripper occupy, for the arm guard;
        rejected and dropped as :meth:`on_scan`."""
        try:
            self.critic.on_scan_arm(scan_values(msg), now_s(self))  # its age: since arrival
        except ValueError as exc:
            self.critic.drop_scan_arm()
            self.counts["critic_bad_arm_scans"] += 1
            self.get_logger().error(f"critic arm scan rejected: {exc}", throttle_duration_sec=1.0)

    def on_holding(self, msg: Bool) -> None:
        """Whether the gripper holds an object, for a critic whose clear pass needs it."""
        self.critic.on_holding(bool(msg.data))

    def on_joint_state(self, msg: JointState) -> None:
        """The arm's joint state, for a critic that reads it. A message without the lift and
        arm joints, with a non-finite or out-of-range position, is rejected and drops the last
        one, so the robot stops until a usable joint state arrives."""
        try:
            values = proprio_values(msg, self.lift_joint, self.arm_joints)
            yaw = wrist_yaw_value(msg, self.wrist_joint)
            self.critic.on_proprio(values, now_s(self), yaw)  # its age: since it arrived
        except ValueError as exc:
            self.critic.drop_proprio()
            self.counts["critic_bad_joint_states"] += 1
            self.get_logger().error(
                f"critic joint state rejected: {exc}", throttle_duration_sec=1.0
            )

    def on_image(self, msg: Image) -> None:
        """A frame the policy sees: encoded by the critic and stored by stamp while the policy
        computes its proposal (a bad one is not stored, so the proposal made from it stops)."""
        try:
            rgb = decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.data)
            self.critic.on_frame(stamp_s(msg.header.stamp), rgb)  # encoded now
        except (ImageFormatError, ValueError) as exc:
            self.counts["critic_bad_frames"] += 1
            self.get_logger().error(f"critic frame rejected: {exc}", throttle_duration_sec=1.0)

    def on_instruction(self, msg: String) -> None:
        self.critic.reset()  # a new episode, as the policy's history

    def on_frame(self, msg: Header) -> None:
        why = self.monitor.on_frame(stamp_s(msg.stamp), now_s(self))
        if why:
            self.counts["bad_frame_stamps"] += 1
            self.get_logger().warning(f"frame stamp rejected: {why}", throttle_duration_sec=1.0)

    def on_estop(self, msg: Bool) -> None:
        t0 = time.perf_counter()
        self.get_logger().warning(f"e-stop {'ENGAGED' if msg.data else 'released'}")
        self.publish(self.monitor.on_estop(msg.data, now_s(self)), t0)

    def on_proposal(self, msg: ActionProposal) -> None:
        t0 = time.perf_counter()
        critic = self.critic
        released, holds = (critic.releases, critic.holds) if critic is not None else (0, 0)
        self.publish(decide_proposal(self.monitor, msg, now_s(self)), t0)
        if critic is not None and critic.releases > released:
            self.counts["critic_releases"] += 1  # a stall release ran (critic_stall_stops)
        if critic is not None and critic.holds > holds:
            # a hold started (CriticGate.held): once here, on /diagnostics while it lasts
            self.counts["critic_holds"] += 1
            self.get_logger().warning(critic.held)
            self.warning_event("held_by_critic", critic.held)
        if self.monitor.critic_problem and not self._critic_reported:
            self._critic_reported = True
            self.get_logger().error(self.monitor.critic_problem)
            self.warning_event("degenerate_critic", self.monitor.critic_problem)

    def warning_event(self, category: str, reason: str) -> None:
        """One SafetyEvent of ``category`` at severity WARNING, stamped now."""
        e = SafetyEvent(robot_id=self.robot_id, category=category, reason=reason)
        e.header.stamp, e.severity = self.get_clock().now().to_msg(), SafetyEvent.SEVERITY_WARNING
        self._event.publish(e)

    def on_watchdog(self) -> None:
        t0 = time.perf_counter()
        self.publish(self.monitor.check_watchdog(now_s(self)), t0)
        h = Header(stamp=self.get_clock().now().to_msg())
        stamp_ns = h.stamp.sec * 1_000_000_000 + h.stamp.nanosec
        h.frame_id = f"{self.monitor_id} {heartbeat_digest(self.key, self.monitor_id, stamp_ns)}"
        self._heartbeat.publish(h)

    def on_exit(self) -> None:
        """Leaving (Ctrl-C, SIGTERM, a crash): a last stop verdict, so the adapter stops now."""
        if hasattr(self, "monitor"):
            self.publish(idle_stop(Rule.ESTOP, "safety monitor shutting down"), 0.0)

    def publish(self, d: Decision | None, t0: float) -> None:
        if d is None:
            return
        stamp = self.get_clock().now().to_msg()
        v = to_verdict(d, stamp, self.config.cost_threshold, t0)
        self.sequence += 1
        self._verdict.publish(sign_verdict(v, self.monitor_id, self.sequence, self.key))
        self.counts["decisions"] += 1
        self.counts["vetoes"] += int(d.vetoed)
        self.counts["stops"] += int(d.safe_stop)
        if d.critic_outcome:
            self.counts[f"critic_{'stops' if d.safe_stop else 'replacements'}"] += 1
        if d.needs_event:
            e = to_event(d, v, self.robot_id)
            self._event.publish(e)
            if e.severity < SafetyEvent.SEVERITY_CRITICAL:
                self.get_logger().warning(f"{d.rule.value}: {d.reason}")
            else:
                self.get_logger().error(f"{d.rule.value}: {d.reason}")

    def publish_status(self) -> None:
        m = self.monitor
        level = ERROR if m.estop else (WARN if m.last is not None and m.last.safe_stop else OK)
        state = "e-stop" if m.estop else ("stopped" if level == WARN else "running")
        if m.critic_problem:
            level, state = max(level, WARN), f"{state}; {m.critic_problem}"
        if self.critic is not None and self.critic.held:
            level, state = max(level, WARN), f"{state}; {self.critic.held}"
        critic = self.critic.bundle_id if self.critic is not None else "off"
        self._diag.publish(diagnostics(self, level, state, critic=critic, **self.counts))


def load_critic(p: dict) -> CriticGate | None:
    """The critic of ``critic_bundle`` checked against the policy bundle (None when off). With
    ``verify_key`` both bundles must be signed by that key (bundle.json.sig, critic.json.sig):
    the monitor checks the origin of the model that judges safety as it does the policy's.

    Raises:
        ParameterError: a critic without ``bundle_path``.
        BundleError: either bundle fails its checks, or they do not match (named).
    """
    if not p["critic_bundle"]:
        return None
    if not p["bundle_path"]:
        raise ParameterError(
            "parameter 'critic_bundle' is set but 'bundle_path' is empty; set bundle_path to the "
            "policy bundle the critic guards (its action space and image spec are checked)"
        )
    verify_key = p["verify_key"] or None
    policy = load_bundle(p["bundle_path"], verify_key=verify_key)
    alpha = p["critic_alpha"] or None
    gate = CriticGate.load(
        p["critic_bundle"],
        PolicyFacts.of_bundle(policy),
        alpha,
        p["critic_margin"],
        verify_key=verify_key,
        escape_after=p["critic_escape_after"],
        escape_below=p["critic_escape_below"] or math.inf,
        recover_after=p["critic_recover_after"],
        contact_guard=p["critic_contact_guard"],
        replacement=p["critic_replacement"],
        detour_after=p["critic_detour_after"],
        guard_release=p["critic_guard_release"],
        arm_guard=p["critic_arm_guard"],
        stall_stops=p["critic_stall_stops"],
        stall_below=p["critic_stall_below"],
        contact_guard_base=p["critic_contact_guard_base"],
        seed=p["critic_seed"],
    )
    gate.scan_max_age_s = p["scan_max_age_s"]
    gate.proprio_max_age_s = p["proprio_max_age_s"]
    return gate


def main(args: list[str] | None = None) -> int:
    """Entry point of ``safety_monitor_node``."""
    return run_node(SafetyMonitorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
