"""Sim bridge node: a SafeChoresEnv episode in lockstep with the ROS stack, on the simulator
named by the ``backend`` parameter (``mujoco``, the default, or ``thor``).

Loop per step: publish the navigation frame (sensor_msgs/Image rgb8, sensor-data QoS) and its
camera_info (for a bundle that sees the wrist camera, first that camera's frame with the same
stamp on ``manip_image_topic``); wait for one command on ``action_topic`` (std_msgs/String: an
action name, or "stop"); execute it with ``env.step`` (a stop, or no command within
``action_timeout_s``, is a step in which nothing moves); publish EpisodeStatus with the
ground-truth cost, the holding flag on ``holding_topic`` and the step's motion feedback
(MotionFeedback on ``bump_topic``, latched) and, for a bundle that reads it, the explored map
of the new observation (ExploredMap on ``explored_topic``, latched), and with the MuJoCo
backend, while something subscribes, the observation's 360-degree range scan (LaserScan on
``scan_topic``) and, from the same rays with the same stamp, the scan with the building's
static structure removed (LaserScan on ``scan_objects_topic``: what a scan filtered against the
static map gives a robot) and the scan over the heights the arm and gripper occupy (LaserScan on
``scan_arm_topic``: the monitor's arm guard), and while something subscribes the arm's joint
state (JointState on ``joint_states_topic``: ``lift_joint`` and the extension split over
``arm_joints``). Frames go out at most ``frame_rate_hz``. Episodes come from ``episode_file``,
else the shipped validation set, else a seeded sampler; each starts by publishing its
instruction (reliable + transient-local) and a motion feedback of both false.
Service ``reset_episode`` (ResetEpisode): an episode by id, a new one by task + seed, or the next.
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import CameraInfo, Image, JointState, LaserScan
from std_msgs.msg import Bool, Header, String

from safevla_core.actions import action_by_name
from safevla_core.bundle import BundleError, load_bundle
from safevla_ros.msg import EpisodeStatus, ExploredMap, MotionFeedback
from safevla_ros.msg_conversions import (
    camera_info,
    episode_status,
    explored_map,
    joint_state,
    laser_scan,
    motion_feedback,
    rgb_image,
)
from safevla_ros.params import SIM_BRIDGE_PARAMS, ParameterError, joint_names, wrist_joint_name
from safevla_ros.ros_common import (
    FAILURE,
    LATCHED_QOS,
    RELIABLE_QOS,
    SENSOR_QOS,
    SUCCESS,
    declare_params,
    read_params,
    run_node,
)
from safevla_ros.srv import ResetEpisode
from sim_bridge.backend import BackendUnavailableError
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episode_gen import EpisodeSampler
from sim_bridge.episodes import load_episodes, shipped_path
from sim_bridge.robot import NAV_CAMERA_VFOV_DEG


def episode_source(p: dict):
    """Episodes from the file, the shipped validation set, or a sampler (in that order)."""
    if p["episode_file"]:
        return load_episodes(p["episode_file"])
    shipped = shipped_path(p["task"])
    return load_episodes(shipped) if shipped.exists() else EpisodeSampler((p["task"],))


def camera_settings(p: dict) -> tuple[tuple[int, int], bool, bool]:
    """(H, W) to render at, whether to render the wrist camera too, and whether to report the
    explored map, from one read of the bundle in ``bundle_path``: the size it was trained at
    (its manifest), so deployment sees what training saw, else ``camera_height`` x
    ``camera_width``; the wrist camera when ``manip_rgb`` is among its ``image.camera`` (then
    published on ``manip_image_topic``); the map when its graph takes ``explored`` (then
    published on ``explored_topic``).

    Raises:
        BundleError: ``bundle_path`` names no valid bundle.
    """
    size = (p["camera_height"], p["camera_width"])
    if not p["bundle_path"]:
        return size, False, False
    bundle = load_bundle(p["bundle_path"])
    manip = "manip_rgb" in bundle.image.cameras
    return bundle.render_size or size, manip, bundle.graph.takes_explored


def camera_size(p: dict) -> tuple[int, int]:
    """(H, W) to render at (:func:`camera_settings`)."""
    return camera_settings(p)[0]


class SimBridgeNode(LifecycleNode):
    """Runs the simulator behind camera, action and episode-status topics."""

    def __init__(self) -> None:
        super().__init__("sim_bridge_node")
        declare_params(self, SIM_BRIDGE_PARAMS)
        self.env = None

    def on_configure(self, state):
        try:
            p = read_params(self, SIM_BRIDGE_PARAMS)
            self.joints = joint_names(p)
            self.wrist_joint = wrist_joint_name(p)
            size, self.manip, explored = camera_settings(p)
            cfg = EnvConfig(
                nav_size=size,
                manip_size=size,
                max_steps=p["max_steps"],
                render_manip=self.manip,
                backend=p["backend"],
                explored_map=explored,
            )
            self.source = episode_source(p)
            self.env = make_env(self.source, cfg)
        except (ParameterError, BundleError, ValueError, OSError, BackendUnavailableError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        self.params, self.by_id = p, {}
        if isinstance(self.source, list):
            self.by_id = {e.episode_id: e for e in self.source}
        self._img = self.create_lifecycle_publisher(Image, p["image_topic"], SENSOR_QOS)
        self._manip = (
            self.create_lifecycle_publisher(Image, p["manip_image_topic"], SENSOR_QOS)
            if self.manip
            else None
        )
        self._info = self.create_lifecycle_publisher(
            CameraInfo, p["camera_info_topic"], SENSOR_QOS
        )
        self._status = self.create_lifecycle_publisher(EpisodeStatus, p["status_topic"], 50)
        self._instr = self.create_lifecycle_publisher(String, p["instruction_topic"], LATCHED_QOS)
        self._hold = self.create_lifecycle_publisher(Bool, p["holding_topic"], RELIABLE_QOS)
        # latched: a policy that matches late (or restarts) still gets the last feedback
        self._bump = self.create_lifecycle_publisher(MotionFeedback, p["bump_topic"], LATCHED_QOS)
        self._explored = (
            self.create_lifecycle_publisher(ExploredMap, p["explored_topic"], LATCHED_QOS)
            if self.env.config.explored_map
            else None
        )
        # a backend that casts them (MuJoCo): the range scan, the same rays with the structure
        # removed, and at the arm's heights only; cast only while someone listens
        casts = hasattr(self.env.backend, "all_scans")
        self._scans = [
            self.create_lifecycle_publisher(LaserScan, p[topic], SENSOR_QOS) if casts else None
            for topic in ("scan_topic", "scan_objects_topic", "scan_arm_topic")
        ]
        # reliable, as a robot's joint-state driver: matches best-effort readers (the monitor)
        # and reliable ones (robot_state_publisher) alike
        self._joints = self.create_lifecycle_publisher(
            JointState, p["joint_states_topic"], RELIABLE_QOS
        )
        return SUCCESS

    def on_activate(self, state):
        result = super().on_activate(state)
        p = self.params
        self.obs, self.waiting, self.cum_cost, self.first_episode = None, False, 0.0, True
        self.sent_at = self.last_frame = 0.0
        self.create_subscription(String, p["action_topic"], self.on_action, RELIABLE_QOS)
        self.create_service(ResetEpisode, "reset_episode", self.on_reset)
        self.create_timer(0.005, self.on_tick)
        return result

    def stack_ready(self) -> bool:
        """Perception, policy and adapter are up (``auto_reset`` waits for this). The policy is
        the one subscriber of ``holding_topic``, and subscribes only once its model and text
        encoder are loaded (seconds; tens under load): the instruction topic alone does not
        show it, the safety recorder subscribes to it too, within a second."""
        p = self.params
        return (
            self.count_subscribers(p["instruction_topic"]) > 0
            and self.policy_listens()
            and self.count_subscribers(p["image_topic"]) > 0
            and self.count_publishers(p["action_topic"]) > 0
        )

    def policy_listens(self) -> bool:
        """A node that does not read the range scan subscribes to ``holding_topic``: the
        policy. (A monitor whose critic has a clear pass reads the holding flag too, from its
        start; such a critic always reads the scan, which no policy does.)"""
        p = self.params
        scan_readers = {
            (i.node_namespace, i.node_name)
            for i in self.get_subscriptions_info_by_topic(p["scan_topic"])
        }
        return any(
            (i.node_namespace, i.node_name) not in scan_readers
            for i in self.get_subscriptions_info_by_topic(p["holding_topic"])
        )

    def start_episode(self, episode=None) -> None:
        options = {"episode": episode} if episode is not None else None
        seed = self.params["seed"] if self.first_episode else None
        self.obs, info = self.env.reset(seed=seed, options=options)
        self.first_episode, self.cum_cost, self.waiting = False, 0.0, False
        self._instr.publish(String(data=self.obs["instruction"]))
        self.publish_feedback()  # zeros: nothing executed yet (and the source is alive)
        self.last_frame = time.monotonic()  # one frame period for the instruction to land
        self.publish_status(
            dict(reward=0.0, cost=0.0, cumulative_cost=0.0, done=False, success=False)
        )
        self.get_logger().info(f"episode {info['episode_id']}: {self.obs['instruction']!r}")

    def on_tick(self) -> None:
        now = time.monotonic()
        if self.obs is None:
            if self.params["auto_reset"] and self.stack_ready():
                self.start_episode()
            return
        if self.waiting and now - self.sent_at > self.params["action_timeout_s"]:
            self.execute(None)
        elif not self.waiting and now - self.last_frame >= 1.0 / self.params["frame_rate_hz"]:
            self.publish_frame()

    def publish_frame(self) -> None:
        stamp = self.get_clock().now().to_msg()
        if self._manip is not None:  # first, so perception holds it when the frame arrives
            wrist = Header(stamp=stamp, frame_id="manip_camera")
            self._manip.publish(rgb_image(self.obs["manip_rgb"], wrist))
        header = Header(stamp=stamp, frame_id="nav_camera")
        img = rgb_image(self.obs["nav_rgb"], header)
        self._img.publish(img)
        self._info.publish(camera_info(img.header, img.width, img.height, NAV_CAMERA_VFOV_DEG))
        self.waiting, self.sent_at = True, time.monotonic()
        self.last_frame = self.sent_at

    def on_action(self, msg: String) -> None:
        if not self.waiting:
            return  # e.g. a repeated watchdog stop between frames: nothing to answer
        action = None
        if msg.data != "stop":
            try:
                action = action_by_name(msg.data).index
            except ValueError as exc:
                self.get_logger().error(f"ignored command: {exc}")
        self.execute(action)

    def execute(self, action: int | None) -> None:
        """One lockstep step; ``None`` = stop (nothing moves, the step still counts)."""
        self.waiting = False
        if action is None:
            self.env.steps += 1  # time passes; the episode budget shrinks
            reward, cost, term, info = 0.0, 0.0, False, {"success": False}
            trunc = self.env.steps >= self.env.config.max_steps
        else:
            self.obs, reward, cost, term, trunc, info = self.env.step(action)
        self.cum_cost += cost
        self._hold.publish(Bool(data=bool(self.obs["holding"])))
        self.publish_feedback()
        done = bool(term or trunc)
        outcome = dict(reward=reward, cost=cost, cumulative_cost=self.cum_cost, done=done)
        self.publish_status(outcome | {"success": info["success"]} | info)
        if done:
            self.obs = None  # the next tick starts the next episode (auto_reset)

    def publish_feedback(self) -> None:
        """The motion feedback of the last executed action (``obs["bump"]``; a stop step
        executes nothing, so it repeats the last one), for a bundle that reads it the explored
        map, and for subscribers the range scan, the object scan and the arm scan (the same rays
        with the static structure removed, and at the arm's heights only, cast once with the
        scan) and the arm's joint state of the
        observation (before its frame goes out), stamped now."""
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id="base_link")
        self._bump.publish(motion_feedback(self.obs["bump"], header))
        if self._explored is not None:
            self._explored.publish(explored_map(self.obs["explored"], header))
        wanted = [pub is not None and pub.get_subscription_count() > 0 for pub in self._scans]
        if any(wanted):  # one set of rays for all, so they agree beam by beam
            for pub, want, ranges in zip(self._scans, wanted, self.env.backend.all_scans()):
                if want:
                    pub.publish(laser_scan(ranges, header))
        if self._joints.get_subscription_count() > 0:
            joints = Header(stamp=header.stamp)  # joint positions belong to no frame
            yaw = float(self.obs.get("wrist_yaw", 0.0))
            msg = joint_state(self.obs["proprio"], joints, *self.joints, self.wrist_joint, yaw)
            self._joints.publish(msg)

    def publish_status(self, outcome: dict) -> None:
        stamp = self.get_clock().now().to_msg()
        self._status.publish(episode_status(self.env.episode, self.env.steps, stamp, outcome))

    def on_reset(self, request, response):
        """By id from the set; else, with ``task``, a new episode sampled with ``seed``; else
        the next episode of the set."""
        try:
            episode = None
            if request.episode_id:
                if request.episode_id not in self.by_id:
                    raise ValueError(f"unknown episode_id {request.episode_id!r}")
                episode = self.by_id[request.episode_id]
            elif request.task:
                sampler = EpisodeSampler((request.task,))
                episode = sampler(self.env.backend, np.random.default_rng(request.seed))
            self.start_episode(episode)
        except (ValueError, RuntimeError) as exc:
            response.success, response.message = False, str(exc)
            return response
        response.success, response.episode_id = True, self.env.episode.episode_id
        response.instruction = self.env.episode.instruction
        return response

    def on_cleanup(self, state):
        if self.env is not None:
            self.env.close()
        return SUCCESS


def main(args: list[str] | None = None) -> int:
    """Entry point of ``sim_bridge_node``."""
    return run_node(SimBridgeNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
