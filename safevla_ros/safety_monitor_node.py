"""Safety monitor node: the only path to actuators.

Every ActionProposal gets one SafetyVerdict (the adapter's only input); a watchdog timer adds
stop verdicts when frames or the policy's heartbeat stop; the latched e-stop (std_msgs/Bool,
reliable + transient-local) stops until released. Every veto or stop also goes out as a
SafetyEvent; /diagnostics gets the monitor's state once a second. Safety limits are read-only
parameters. Rules and their order: :mod:`safevla_core.safety_monitor`.
"""

from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode
from std_msgs.msg import Bool, Header

from safevla_core.action_adapter import MotionProfile
from safevla_core.safety_monitor import (
    Decision,
    MonitorConfig,
    SafetyMonitor,
)
from safevla_ros.msg import ActionProposal, SafetyEvent, SafetyVerdict
from safevla_ros.msg_conversions import to_event, to_proposal, to_verdict
from safevla_ros.params import MONITOR_PARAMS, ParameterError
from safevla_ros.ros_common import (
    ERROR,
    FAILURE,
    LATCHED_QOS,
    OK,
    RELIABLE_QOS,
    SUCCESS,
    WARN,
    declare_params,
    diagnostics,
    now_s,
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
        self.counts = {"decisions": 0, "vetoes": 0, "stops": 0}
        self._subs = []

    def on_configure(self, state):
        try:
            p = read_params(self, MONITOR_PARAMS)
            motion = MotionProfile(**{k: p[k] for k in _MOTION})
            limits = {k: p[k] for k in MonitorConfig.__dataclass_fields__ if k in p}
            self.config = MonitorConfig(motion=motion, **limits)
        except (ParameterError, ValueError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        self.params = p
        self.robot_id = p["robot_id"] or self.get_namespace().strip("/") or "robot"
        self._verdict = self.create_lifecycle_publisher(SafetyVerdict, p["verdict_topic"], 10)
        self._event = self.create_lifecycle_publisher(SafetyEvent, p["event_topic"], 50)
        self._diag = self.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE_QOS)
        return SUCCESS

    def on_activate(self, state):
        p = self.params
        self.monitor = SafetyMonitor(self.config, now_s(self))
        result = super().on_activate(state)
        self._subs = [
            self.create_subscription(Bool, p["estop_topic"], self.on_estop, LATCHED_QOS),
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

    def on_frame(self, msg: Header) -> None:
        self.monitor.on_frame(stamp_s(msg.stamp))

    def on_estop(self, msg: Bool) -> None:
        t0 = time.perf_counter()
        self.get_logger().warning(f"e-stop {'ENGAGED' if msg.data else 'released'}")
        self.publish(self.monitor.on_estop(msg.data, now_s(self)), t0)

    def on_proposal(self, msg: ActionProposal) -> None:
        t0 = time.perf_counter()
        self.publish(self.monitor.decide(to_proposal(msg), now_s(self)), t0)

    def on_watchdog(self) -> None:
        t0 = time.perf_counter()
        self.publish(self.monitor.check_watchdog(now_s(self)), t0)

    def publish(self, d: Decision | None, t0: float) -> None:
        if d is None:
            return
        stamp = self.get_clock().now().to_msg()
        v = to_verdict(d, stamp, self.config.cost_threshold, t0)
        self._verdict.publish(v)
        self.counts["decisions"] += 1
        self.counts["vetoes"] += int(d.vetoed)
        self.counts["stops"] += int(d.safe_stop)
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
        self._diag.publish(diagnostics(self, level, state, **self.counts))


def main(args: list[str] | None = None) -> int:
    """Entry point of ``safety_monitor_node``."""
    return run_node(SafetyMonitorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
