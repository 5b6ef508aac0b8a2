"""Perception node: validate camera frames, drop stale ones, resize to the bundle's image spec.

Subscribes ``image_topic`` (sensor_msgs/Image, sensor-data QoS; rgb8, bgr8, rgba8, bgra8,
mono8). Publishes the resized rgb8 frame on ``output_topic`` (same header: the camera stamp
travels on) and the accepted frame's header on ``<output_topic>_stamp`` (std_msgs/Header; the
monitor's frame watchdog). Malformed frames are rejected with an ERROR on /diagnostics, stale
ones with a WARN; the node keeps running. Logic: :mod:`safevla_core.image_preprocessing`.
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
        self._sub = None

    def on_configure(self, state):
        try:
            p = read_params(self, PERCEPTION_PARAMS)
            if not p["bundle_path"]:
                raise ParameterError("parameter 'bundle_path' is empty; set the bundle folder")
            spec = load_bundle(p["bundle_path"], verify_key=p["verify_key"] or None).image
            self.config = PreprocessConfig.for_image(spec, p["max_frame_age_s"])
        except (ParameterError, BundleError, ValueError) as exc:
            self.get_logger().error(str(exc))
            return FAILURE
        self.params = p
        self._out = self.create_lifecycle_publisher(Image, p["output_topic"], FRAME_QOS)
        self._stamp = self.create_lifecycle_publisher(
            Header, p["output_topic"] + "_stamp", RELIABLE_QOS
        )
        self._diag = self.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE_QOS)
        self.get_logger().info(
            f"{p['image_topic']} -> {p['output_topic']} at "
            f"{self.config.width}x{self.config.height}"
        )
        return SUCCESS

    def on_activate(self, state):
        self._sub = self.create_subscription(
            Image, self.params["image_topic"], self.on_image, SENSOR_QOS
        )
        self._diag_timer = self.create_timer(1.0, self.publish_status)
        return super().on_activate(state)

    def on_deactivate(self, state):
        self.destroy_subscription(self._sub)
        self.destroy_timer(self._diag_timer)
        return super().on_deactivate(state)

    def on_image(self, msg: Image) -> None:
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        now_ns = self.get_clock().now().nanoseconds
        try:
            rgb = preprocess(
                msg.encoding,
                msg.height,
                msg.width,
                msg.step,
                msg.data,
                stamp_ns,
                now_ns,
                self.config,
            )
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
