"""Action adapter node: SafetyVerdict -> actuator commands. Its only command source is the monitor.

Outputs (each switchable by a parameter):

* ``cmd_vel_topic`` (geometry_msgs/Twist): a base action's velocity, re-published at
  ``control_rate_hz`` for the action's duration, then one zero Twist; a stop verdict publishes a
  zero Twist at once. Every non-zero Twist belongs to the latest admitted verdict.
* ``arm_topic`` (std_msgs/String): the arm/gripper action name (``arm_out``, ``pickup``, ...)
  for an arm driver that executes the named step.
* ``sim_action_topic`` (std_msgs/String): the executed action name, or ``"stop"``, once per
  verdict, for the sim bridge.

The adapter does not take the monitor's word alone (:class:`safevla_core.action_adapter.
VerdictGate`): a motion needs a verdict from the configured monitor (id, session sequence,
stamp, HMAC with ``verdict_key_file``), a released e-stop (the adapter subscribes to it too) and
a command within the speed and rate limits; the monitor's silence for ``monitor_timeout_s``
stops the robot; every exit (Ctrl-C, SIGTERM, a crash) ends with a zero Twist.
"""

from __future__ import annotations

from geometry_msgs.msg import Twist
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode
from std_msgs.msg import Bool, Header, String

from safevla_core.action_adapter import (
    STOP,
    AdapterLimits,
    CommandScheduler,
    MotionProfile,
    VerdictGate,
)
from safevla_ros.msg import SafetyVerdict
from safevla_ros.msg_conversions import verdict_in
from safevla_ros.params import ADAPTER_PARAMS, ParameterError
from safevla_ros.ros_common import (
    FAILURE,
    LATCHED_QOS,
    RELIABLE_QOS,
    SUCCESS,
    declare_params,
    now_s,
    read_key,
    read_params,
    run_node,
)

_LIMITS = tuple(f for f in AdapterLimits.__dataclass_fields__ if f != "monitor")


class ActionAdapterNode(LifecycleNode):
    """Executes the monitor's verdicts on a mobile base, an arm or the simulator."""

    def __init__(self) -> None:
        super().__init__("action_adapter_node")
        declare_params(self, ADAPTER_PARAMS)
        self._subs, self._timer = [], None
        self._was_moving = False
        self.silent = ""  # why the monitor counts as gone ("" while heard)
        self._refusal = ""  # the kind of the last refused verdict (its reason's first word)

    def on_configure(self, state):
        try:
            p = read_params(self, ADAPTER_PARAMS)
            profile = MotionProfile(p["linear_speed"], p["angular_speed"], p["arm_speed"])
            ns = self.get_namespace().rstrip("/")
            limits = AdapterLimits(f"{ns}/{p['monitor_node']}", **{k: p[k] for k in _LIMITS})
            key = read_key(p["verdict_key_file"])
        except (ParameterError, ValueError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        self.params, self.scheduler = p, CommandScheduler(profile)
        self.gate = VerdictGate(limits, profile, key, start_s=now_s(self))
        self._cmd = self.create_lifecycle_publisher(Twist, p["cmd_vel_topic"], RELIABLE_QOS)
        self._arm = self.create_lifecycle_publisher(String, p["arm_topic"], RELIABLE_QOS)
        self._sim = self.create_lifecycle_publisher(String, p["sim_action_topic"], RELIABLE_QOS)
        return SUCCESS

    def on_activate(self, state):
        result = super().on_activate(state)
        p = self.params
        self._subs = [
            self.create_subscription(SafetyVerdict, p["verdict_topic"], self.on_verdict, 10),
            self.create_subscription(Bool, p["estop_topic"], self.on_estop, LATCHED_QOS),
            self.create_subscription(Header, p["heartbeat_topic"], self.on_heartbeat, 10),
        ]
        self._timer = self.create_timer(1.0 / p["control_rate_hz"], self.on_tick)
        return result

    def on_deactivate(self, state):
        for s in self._subs:
            self.destroy_subscription(s)
        self.destroy_timer(self._timer)
        self._subs = []
        self.stop_now()
        return super().on_deactivate(state)

    def on_verdict(self, msg: SafetyVerdict) -> None:
        action, why = self.gate.admit(verdict_in(msg), now_s(self))
        if why:  # a new kind of refusal at once, repeats of the same kind once a second
            kind, self._refusal = self._refusal, why.split()[0]
            log = self.get_logger()
            if kind == self._refusal:
                log.error(f"verdict refused ({why}); stopping", throttle_duration_sec=1.0)
            else:
                log.error(f"verdict refused ({why}); stopping")
        cmd = self.scheduler.accept(action, now_s(self))
        p = self.params
        if p["publish_sim_action"]:
            self._sim.publish(String(data=STOP if cmd.action == STOP else cmd.action))
        if p["publish_arm"] and cmd.arm_command:
            self._arm.publish(String(data=cmd.arm_command))
        if p["publish_cmd_vel"]:
            self._publish_twist(*self.scheduler.tick(now_s(self)), force=True)

    def on_estop(self, msg: Bool) -> None:
        self.gate.on_estop(msg.data)
        if msg.data:
            self.get_logger().warning("e-stop ENGAGED: stopping, motion verdicts refused")
            self.stop_now()

    def on_heartbeat(self, msg: Header) -> None:
        monitor_id, _, auth = msg.frame_id.partition(" ")
        stamp_ns = msg.stamp.sec * 1_000_000_000 + msg.stamp.nanosec
        why = self.gate.on_heartbeat(monitor_id, stamp_ns, auth, now_s(self))
        if why:
            self.get_logger().warning(f"heartbeat ignored: {why}", throttle_duration_sec=5.0)

    def on_tick(self) -> None:
        silent = self.gate.silence(now_s(self))
        if silent and not self.silent:
            self.get_logger().error(f"{silent} (monitor dead?); stopping the robot")
        elif self.silent and not silent:
            self.get_logger().info("safety monitor heard again")
        self.silent = silent
        if silent and (self.scheduler.moving or self.scheduler.current.arm_command):
            self.stop_now()
        elif self.params["publish_cmd_vel"]:
            self._publish_twist(*self.scheduler.tick(now_s(self)), force=False)

    def stop_now(self) -> None:
        """Drop the running command and send a zero Twist (and "stop" to a simulator)."""
        self.scheduler.accept(None, now_s(self))
        if self.params["publish_sim_action"]:
            self._sim.publish(String(data=STOP))
        if self.params["publish_cmd_vel"]:
            self._publish_twist(0.0, 0.0, force=True)

    def on_exit(self) -> None:
        """Leaving (Ctrl-C, SIGTERM, a crash): the last command on cmd_vel is a zero Twist."""
        if hasattr(self, "scheduler"):
            self.stop_now()
            self._cmd.wait_for_all_acked(Duration(seconds=0.5))  # deliver before exiting

    def _publish_twist(self, linear_x: float, angular_z: float, force: bool) -> None:
        lim = self.gate.limits
        if abs(linear_x) > lim.max_linear_speed or abs(angular_z) > lim.max_angular_speed:
            linear_x = angular_z = 0.0  # never reached through the gate; the last line of defence
        moving = linear_x != 0.0 or angular_z != 0.0
        if not (moving or force or self._was_moving):
            return  # idle: publish nothing rather than a stream of zeros
        t = Twist()
        t.linear.x, t.angular.z = float(linear_x), float(angular_z)
        self._cmd.publish(t)
        self._was_moving = moving


def main(args: list[str] | None = None) -> int:
    """Entry point of ``action_adapter_node``."""
    return run_node(ActionAdapterNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
