"""Action adapter node: SafetyVerdict -> actuator commands. Its only input is the monitor.

Outputs (each switchable by a parameter):

* ``cmd_vel_topic`` (geometry_msgs/Twist): a base action's velocity, re-published at
  ``control_rate_hz`` for the action's duration, then one zero Twist; a stop verdict publishes a
  zero Twist at once. Every non-zero Twist belongs to the latest verdict.
* ``arm_topic`` (std_msgs/String): the arm/gripper action name (``arm_out``, ``pickup``, ...)
  for an arm driver that executes the named step.
* ``sim_action_topic`` (std_msgs/String): the executed action name, or ``"stop"``, once per
  verdict, for the sim bridge.

Mapping and speeds: :mod:`safevla_core.action_adapter`.
"""

from __future__ import annotations

from geometry_msgs.msg import Twist
from rclpy.lifecycle import LifecycleNode
from std_msgs.msg import String

from safevla_core.action_adapter import STOP, CommandScheduler, MotionProfile
from safevla_ros.msg import SafetyVerdict
from safevla_ros.params import ADAPTER_PARAMS, ParameterError
from safevla_ros.ros_common import (
    FAILURE,
    RELIABLE_QOS,
    SUCCESS,
    declare_params,
    now_s,
    read_params,
    run_node,
)


class ActionAdapterNode(LifecycleNode):
    """Executes the monitor's verdicts on a mobile base, an arm or the simulator."""

    def __init__(self) -> None:
        super().__init__("action_adapter_node")
        declare_params(self, ADAPTER_PARAMS)
        self._sub = None
        self._was_moving = False

    def on_configure(self, state):
        try:
            p = read_params(self, ADAPTER_PARAMS)
            profile = MotionProfile(p["linear_speed"], p["angular_speed"], p["arm_speed"])
        except (ParameterError, ValueError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        self.params, self.scheduler = p, CommandScheduler(profile)
        self._cmd = self.create_lifecycle_publisher(Twist, p["cmd_vel_topic"], RELIABLE_QOS)
        self._arm = self.create_lifecycle_publisher(String, p["arm_topic"], RELIABLE_QOS)
        self._sim = self.create_lifecycle_publisher(String, p["sim_action_topic"], RELIABLE_QOS)
        return SUCCESS

    def on_activate(self, state):
        result = super().on_activate(state)
        self._sub = self.create_subscription(
            SafetyVerdict, self.params["verdict_topic"], self.on_verdict, 10
        )
        self._timer = self.create_timer(1.0 / self.params["control_rate_hz"], self.on_tick)
        return result

    def on_deactivate(self, state):
        self.destroy_subscription(self._sub)
        self.destroy_timer(self._timer)
        self.scheduler.accept(None, now_s(self))
        if self.params["publish_cmd_vel"]:
            self._cmd.publish(Twist())  # leave the base stopped
        return super().on_deactivate(state)

    def on_verdict(self, msg: SafetyVerdict) -> None:
        action = None if msg.safe_stop else int(msg.executed_action)
        try:
            cmd = self.scheduler.accept(action, now_s(self))
        except ValueError as exc:  # an out-of-range index: treat as a stop
            self.get_logger().error(f"bad verdict ({exc}); stopping")
            cmd = self.scheduler.accept(None, now_s(self))
        p = self.params
        if p["publish_sim_action"]:
            name = STOP if cmd.action == STOP else cmd.action
            self._sim.publish(String(data=name))
        if p["publish_arm"] and cmd.arm_command:
            self._arm.publish(String(data=cmd.arm_command))
        if p["publish_cmd_vel"]:
            self._publish_twist(*self.scheduler.tick(now_s(self)), force=True)

    def on_tick(self) -> None:
        if self.params["publish_cmd_vel"]:
            self._publish_twist(*self.scheduler.tick(now_s(self)), force=False)

    def _publish_twist(self, linear_x: float, angular_z: float, force: bool) -> None:
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
