"""Perception node: validate camera frames, drop stale ones, resize to the bundle's image spec.

Subscribes ``image_topic`` (sensor_msgs/Image, sensor-data QoS; rgb8, bgr8, rgba8, bgra8,
mono8). Publishes the resized rgb8 frame on ``output_topic`` (same header: the camera stamp
travels on) and the accepted frame's header on ``<output_topic>_stamp`` (std_msgs/Header; the
monitor's frame watchdog). Malformed frames are rejected with an ERROR on /diagnostics, stale
ones with a WARN; the node keeps running. Logic: :mod:`safevla_core.image_preprocessing`.

A bundle that sees the wrist camera (``image.camera`` ``nav_rgb+manip_rgb``) also gets
``manip_image_topic``: the node keeps that camera's newest valid frame, and each navigation
frame goes out joined with it side by side (:func:`~safevla_core.image_preprocessing.
compose_frame`), stamped as the navigation frame. Without a wrist frame younger than
``max_frame_age_s`` the navigation frame is dropped (counted as stale, a WARN): the policy never
sees half a picture. A bundle that sees the wrist camera alone reads ``manip_image_topic`` only.
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from safevla_core.bundle import BundleError, load_bundle
from safevla_core.image_preprocessing import (
    ImageFormatError,
    PreprocessConfig,
    StaleFrameError,
    check_age,
    compose_frame,
    preprocess,
)
from safevla_ros.msg_conversions import rgb_image
from safevla_ros.params import PERCEPTION_PARAMS, ParameterError
from safevla_ros.ros_common import (
    ERROR,
    FAILURE,
    FRAME_QOS,
    OK,
    RELIABLE_QOS,
    SENSOR_QOS,
    SUCCESS,
    WARN,
    declare_params,
    diagnostics,
    read_params,
    run_node,
    stamp_s,
)


class PerceptionNode(LifecycleNode):
    """Camera frame -> validated, resized rgb8 frame for the policy."""

    def __init__(self) -> None:
        super().__init__("perception_node")
        declare_params(self, PERCEPTION_PARAMS)
        self.accepted = self.rejected = self.stale = 0
        self._subs: list = []
        self.held: dict[str, tuple[object, int]] = {}  # camera -> (newest rgb, stamp ns)

    def on_configure(self, state):
        try:
            p = read_params(self, PERCEPTION_PARAMS)
            if not p["bundle_path"]:
                raise ParameterError("parameter 'bundle_path' is empty; set the bundle folder")
            spec = load_bundle(p["bundle_path"], verify_key=p["verify_key"] or None).image
            self.config = PreprocessConfig.for_image(spec, p["max_frame_age_s"])
            self.spec = spec
            self.cams = cams = spec.cameras  # split once, not per frame
            # each camera's frame is resized to its share of the width, then joined
            self.share = PreprocessConfig(
                spec.width // len(cams), spec.height, p["max_frame_age_s"], resize=spec.resize
            )
            self.topics = {"nav_rgb": p["image_topic"], "manip_rgb": p["manip_image_topic"]}
            # the navigation frame drives the output; the others are the newest held
            self.driver = "nav_rgb" if "nav_rgb" in cams else cams[0]
        except (ParameterError, BundleError, ValueError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        self.params = p
        self._out = self.create_lifecycle_publisher(Image, p["output_topic"], FRAME_QOS)
        self._stamp = self.create_lifecycle_publisher(
            Header, p["output_topic"] + "_stamp", RELIABLE_QOS
        )
        self._diag = self.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE_QOS)
        inputs = " + ".join(self.topics[c] for c in self.cams)
        self.get_logger().info(
            f"{inputs} -> {p['output_topic']} at {self.config.width}x{self.config.height}"
        )
        return SUCCESS

    def on_activate(self, state):
        self.held.clear()
        self._subs = [
            self.create_subscription(
                Image, self.topics[cam], lambda msg, cam=cam: self.on_image(msg, cam), SENSOR_QOS
            )
            for cam in self.cams
        ]
        self._diag_timer = self.create_timer(1.0, self.publish_status)
        return super().on_activate(state)

    def on_deactivate(self, state):
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        self.destroy_timer(self._diag_timer)
        return super().on_deactivate(state)

    def on_image(self, msg: Image, camera: str = "nav_rgb") -> None:
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        now_ns = self.get_clock().now().nanoseconds
        one = len(self.cams) == 1
        try:
            rgb = preprocess(
                msg.encoding,
                msg.height,
                msg.width,
                msg.step,
                msg.data,
                stamp_ns,
                now_ns,
                self.config if one else self.share,
            )
            if not one:
                if camera != self.driver:
                    self.held[camera] = (rgb, stamp_ns)
                    return
                rgb = self.join(rgb, now_ns)
        except StaleFrameError as exc:
            self.stale += 1
            self._diag.publish(diagnostics(self, WARN, f"frame dropped: {exc}"))
            return
        except ImageFormatError as exc:
            self.rejected += 1
            self.get_logger().warning(f"frame rejected: {exc}", throttle_duration_sec=1.0)
            self._diag.publish(
                diagnostics(
                    self,
                    ERROR,
                    f"frame rejected: {exc}",
                    encoding=msg.encoding,
                    stamp=f"{stamp_s(msg.header.stamp):.3f}",
                )
            )
            return
        self._out.publish(rgb_image(rgb, msg.header))
        self._stamp.publish(msg.header)
        self.accepted += 1

    def join(self, rgb, now_ns: int):
        """The driving camera's frame ``rgb`` joined with the newest frame of every other
        camera of the bundle.

        Raises:
            StaleFrameError: a camera has no frame, or none younger than ``max_frame_age_s``.
        """
        frames = {self.driver: rgb}
        for cam in self.cams:
            if cam == self.driver:
                continue
            if cam not in self.held:
                raise StaleFrameError(f"no frame yet from {cam} ({self.topics[cam]})")
            frame, stamp_ns = self.held[cam]
            try:
                check_age(stamp_ns, now_ns, self.share)
            except StaleFrameError as exc:
                raise StaleFrameError(f"{cam} ({self.topics[cam]}): {exc}") from None
            frames[cam] = frame
        return compose_frame(frames, self.spec)

    def publish_status(self) -> None:
        self._diag.publish(
            diagnostics(
                self,
                OK,
                "running",
                accepted=self.accepted,
                rejected=self.rejected,
                stale=self.stale,
            )
        )


def main(args: list[str] | None = None) -> int:
    """Entry point of ``perception_node``."""
    return run_node(PerceptionNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
