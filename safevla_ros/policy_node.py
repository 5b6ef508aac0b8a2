"""Policy node: the bundle's ONNX graph on each preprocessed frame -> ActionProposal.

Inputs: ``image_topic`` (rgb8 from the perception node), ``instruction_topic`` (std_msgs/String,
reliable + transient-local; every message starts a new episode: history cleared, embedding
computed once per distinct text), the monitor's verdicts (the executed action conditions the
next step), ``holding_topic`` (std_msgs/Bool, optional) and, only for a bundle whose graph takes
it, ``bump_topic`` (MotionFeedback, reliable + transient-local: blocked / collided of the last
executed action; zeros at each new instruction). Such a bundle proposes nothing until the node
has heard from that topic (a policy trained to notice a blocked motion must not run blind to it;
the monitor's watchdog then stops the robot). Output: ActionProposal with the distribution,
the cost critic's ``Q_c(s, a)`` per action and category, latency and a sequence number (the
heartbeat the monitor watches). Design note: the critic shares the policy's graph and history
cache, so its outputs travel in the proposal rather than being recomputed by the monitor on a
second copy of the history.
"""

from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, String

from safevla_core.action_choice import GREEDY, SAMPLE, BlockedMoves, DitherBreaker, choose_guarded
from safevla_core.actions import BUMP_FIELDS
from safevla_core.bundle import BundleError
from safevla_core.image_preprocessing import ImageFormatError, decode_image
from safevla_core.policy_runtime import PolicyOutputError, PolicyRuntime
from safevla_ros.msg import ActionProposal, ExploredMap, MotionFeedback, SafetyVerdict
from safevla_ros.msg_conversions import bump_values, explored_values
from safevla_ros.params import POLICY_PARAMS, ParameterError, check_policy_inputs
from safevla_ros.ros_common import (
    ERROR,
    FAILURE,
    FRAME_QOS,
    LATCHED_QOS,
    RELIABLE_QOS,
    SUCCESS,
    WARN,
    declare_params,
    diagnostics,
    read_params,
    run_node,
)

MAX_INSTRUCTION_CHARS = 512
NO_BUMP = np.zeros(len(BUMP_FIELDS), np.float32)  # the motion feedback before any action
NO_BUMP.setflags(write=False)


def instruction_problem(text: str) -> str:
    """Why an instruction is unusable ("" if fine)."""
    if not text.strip():
        return "empty instruction; publish a task such as 'find an apple'"
    if len(text) > MAX_INSTRUCTION_CHARS:
        return f"instruction has {len(text)} characters (max {MAX_INSTRUCTION_CHARS})"
    if not text.isprintable():
        return "instruction contains control characters"
    return ""


class PolicyNode(LifecycleNode):
    """Runs the VLA policy and its cost critic; proposes, never actuates."""

    def __init__(self) -> None:
        super().__init__("policy_node")
        declare_params(self, POLICY_PARAMS)
        self.instruction = ""
        self.holding = False
        self.bump = NO_BUMP  # motion feedback of the last executed action (bundles taking it)
        self.bump_heard = False  # a MotionFeedback arrived since activation
        self.fresh_bump = None  # the feedback not yet applied to the blocked-motion guard
        self.blocked = None  # BlockedMoves with skip_blocked
        self.dither = None  # DitherBreaker with break_dither
        self.explored = None  # the last explored map (bundles taking it); None: none yet
        self._bump_diag_s = 0.0  # when the last "no feedback" diagnostic went out
        self.sequence = 0
        self._subs = []

    def on_configure(self, state):
        try:
            p = read_params(self, POLICY_PARAMS)
            if not p["bundle_path"]:
                raise ParameterError("parameter 'bundle_path' is empty; set the bundle folder")
            self.runtime = PolicyRuntime(
                p["bundle_path"],
                p["execution_providers"],
                p["intra_op_threads"],
                verify_key=p["verify_key"] or None,
            )
            self.runtime.encoder.embed("find an apple")  # load the text encoder now, not later
            check_policy_inputs(self.runtime.bundle)
            dither = DitherBreaker(p["break_dither"]) if p["break_dither"] else None
        except (ParameterError, BundleError, ValueError, RuntimeError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        for err in self.runtime.provider_errors:
            self.get_logger().warning(f"execution provider unavailable: {err}")
        self.get_logger().info(
            f"bundle {self.runtime.bundle.bundle_id} on {self.runtime.provider} "
            f"(requested {p['execution_providers']})"
        )
        if self.runtime.takes_bump:
            self.get_logger().info(
                f"the bundle takes the motion feedback: reading {p['bump_topic']} "
                "(MotionFeedback); no proposal until it arrives"
            )
        if self.runtime.takes_explored:
            self.get_logger().info(
                f"the bundle takes the explored map: reading {p['explored_topic']} "
                "(ExploredMap); no proposal until it arrives"
            )
        self.params, self.rng = p, np.random.default_rng(p["seed"])
        self.blocked = BlockedMoves() if p["skip_blocked"] else None
        if self.blocked is not None:
            self.get_logger().info(
                f"skip_blocked: a motion {p['bump_topic']} reports blocked or collided is not "
                "proposed again until a clean motion changes it"
            )
        self.dither = dither
        if dither is not None:
            self.get_logger().info(
                f"break_dither: after {dither.after} executed motions each undoing the one "
                "before, the undo of the last is not proposed until something else runs"
            )
        self._pub = self.create_lifecycle_publisher(ActionProposal, p["proposal_topic"], 10)
        self._diag = self.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE_QOS)
        return SUCCESS

    def on_activate(self, state):
        p = self.params
        self.bump_heard = False  # heard again from this activation on
        self.fresh_bump = None
        if self.blocked is not None:
            self.blocked.reset()
        if self.dither is not None:
            self.dither.reset()
        self.explored = None
        # Created in the order the executor serves them when several are ready at once (it
        # takes a node's subscriptions in creation order): a new instruction and the motion
        # feedback before the frame they apply to. Measured: a loaded policy process that found
        # the first frame and the feedback both waiting took the frame first and proposed
        # nothing.
        self._subs = [
            self.create_subscription(
                String, p["instruction_topic"], self.on_instruction, LATCHED_QOS
            )
        ]
        if self.runtime.takes_bump or self.blocked is not None:  # else no subscription
            # latched (reliable + transient-local): the source's last value, also the one it
            # sent before this node matched it (a driver's "both false" at its start)
            self._subs.append(
                self.create_subscription(
                    MotionFeedback, p["bump_topic"], self.on_bump, LATCHED_QOS
                )
            )
        if self.runtime.takes_explored:  # likewise, and before the frame it belongs to
            self._subs.append(
                self.create_subscription(
                    ExploredMap, p["explored_topic"], self.on_explored, LATCHED_QOS
                )
            )
        self._subs += [
            self.create_subscription(Image, p["image_topic"], self.on_image, FRAME_QOS),
            self.create_subscription(SafetyVerdict, p["verdict_topic"], self.on_verdict, 10),
            self.create_subscription(Bool, p["holding_topic"], self.on_holding, RELIABLE_QOS),
        ]
        return super().on_activate(state)

    def on_deactivate(self, state):
        for s in self._subs:
            self.destroy_subscription(s)
        self._subs = []
        return super().on_deactivate(state)

    def on_instruction(self, msg: String) -> None:
        problem = instruction_problem(msg.data)
        if problem:
            self.instruction = ""
            self.get_logger().error(f"instruction rejected: {problem}")
            self._diag.publish(diagnostics(self, ERROR, f"instruction rejected: {problem}"))
            return
        self.runtime.reset()
        self.bump, self.fresh_bump = NO_BUMP, None  # a new episode: nothing executed yet
        if self.blocked is not None:
            self.blocked.reset()
        if self.dither is not None:
            self.dither.reset()
        self.instruction = msg.data
        self.runtime.encoder.embed(msg.data)
        self.get_logger().info(f"new instruction: {msg.data!r}")

    def on_holding(self, msg: Bool) -> None:
        self.holding = bool(msg.data)

    def on_bump(self, msg: MotionFeedback) -> None:
        self.bump, self.bump_heard = bump_values(msg), True
        self.fresh_bump = self.bump  # applied once, to the action executed before it

    def on_explored(self, msg: ExploredMap) -> None:
        try:
            self.explored = explored_values(msg)
        except ValueError as exc:  # a wrong map is no map: no proposal until a good one
            self.explored = None
            self.get_logger().error(f"explored map rejected: {exc}", throttle_duration_sec=1.0)
            self._diag.publish(diagnostics(self, ERROR, f"explored map rejected: {exc}"))

    def feedback_missing(self) -> str:
        """Why the bundle's motion-feedback or explored-map input cannot be filled ("" if
        they can)."""
        if self.runtime.takes_explored and self.explored is None:
            topic = self.resolve_topic_name(self.params["explored_topic"])
            return (
                f"bundle {self.runtime.bundle.bundle_id} takes the explored map and no valid "
                f"one has arrived on {topic} (safevla_ros/ExploredMap) since this node was "
                "activated; publish it there, reliable + transient-local, for every observation "
                "before its frame (the sim bridge does for such a bundle; on a robot a mapper: "
                "docs/ros_runtime.md, 'The explored map'), set explored_topic to where it is "
                "published, or run a bundle without that input"
            )
        if not self.runtime.takes_bump or self.bump_heard:
            return ""
        topic = self.resolve_topic_name(self.params["bump_topic"])
        return (
            f"bundle {self.runtime.bundle.bundle_id} takes the motion feedback of the last "
            f"action and nothing has arrived on {topic} (safevla_ros/MotionFeedback) since "
            "this node was activated; publish it there, reliable + transient-local, after every "
            "executed action (the sim bridge does; on a robot the base driver: "
            "docs/ros_runtime.md, 'Motion feedback'), set bump_topic to where it is published, "
            "or run a bundle without that input"
        )

    def on_verdict(self, msg: SafetyVerdict) -> None:
        if not msg.safe_stop and msg.executed_action < len(self.runtime.bundle.action_names):
            self.runtime.record_action(msg.executed_action)
            if self.blocked is not None:
                self.blocked.executed(msg.executed_action)
            if self.dither is not None:
                self.dither.executed(msg.executed_action)

    def on_image(self, msg: Image) -> None:
        if not self.instruction:
            return  # no proposal without a valid instruction: the monitor's heartbeat stops
        missing = self.feedback_missing()
        if missing:  # likewise: the monitor's policy watchdog stops the robot
            self.get_logger().warning(f"no proposal: {missing}", throttle_duration_sec=5.0)
            if time.monotonic() - self._bump_diag_s >= 1.0:
                self._bump_diag_s = time.monotonic()
                self._diag.publish(diagnostics(self, WARN, f"no proposal: {missing}"))
            return
        t0 = time.perf_counter()
        try:
            # the same path as the perception node's: at the bundle's size already (from that
            # node), the runtime's resize passes the frame through and only normalises it
            rgb = decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.data)
            out = self.runtime.step(
                rgb, self.instruction, holding=self.holding, bump=self.bump, explored=self.explored
            )
        except (ImageFormatError, PolicyOutputError, ValueError) as exc:
            self.get_logger().error(f"no proposal: {exc}", throttle_duration_sec=1.0)
            self._diag.publish(diagnostics(self, ERROR, f"no proposal: {exc}"))
            return
        latency_ms = (time.perf_counter() - t0) * 1e3
        probs = out.probs.astype(np.float32)
        mode = GREEDY if self.params["greedy"] else SAMPLE
        action = choose_guarded(probs, mode, self.rng, self.blocked, self.fresh_bump, self.dither)
        self.fresh_bump = None
        self.sequence += 1
        prop = ActionProposal(header=msg.header, instruction=self.instruction)
        prop.action_index, prop.action_name = action, out.action_names[action]
        prop.action_names = list(out.action_names)
        prop.action_probabilities = probs.tolist()
        prop.model_latency_ms = float(latency_ms)
        prop.bundle_id, prop.sequence = self.runtime.bundle.bundle_id, self.sequence
        prop.cost_categories = list(out.cost_categories)
        prop.predicted_cost = out.cost_q_total.astype(np.float32).tolist()
        prop.predicted_cost_by_category = out.cost_q.astype(np.float32).ravel().tolist()
        self._pub.publish(prop)


def main(args: list[str] | None = None) -> int:
    """Entry point of ``policy_node``."""
    return run_node(PolicyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
