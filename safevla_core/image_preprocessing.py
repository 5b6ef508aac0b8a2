"""The one path from a camera frame to the policy's ``image`` input (ROS-free).

Every consumer runs the same steps, so a frame seen in training, in evaluation and on the robot
becomes the same tensor:

1. :func:`decode_image`: a ``sensor_msgs/Image`` described by its plain fields (encoding,
   height, width, step, data) -> RGB ``uint8 (H, W, 3)``. Every malformed frame raises
   :class:`ImageFormatError` naming what is wrong (the perception node turns it into a
   diagnostic and keeps running).
2. :func:`resize_rgb`: to the bundle's image size with the bundle's filter (``"area"`` =
   ``cv2.INTER_AREA``). A frame already at that size passes untouched, so on the robot the
   perception node resizes once and the policy runtime's call is a no-op.
3. :func:`preprocess_rgb`: step 2, then ``x = (frame * scale - mean) / std``, RGB, NCHW: what
   the trainer, the evaluator and the policy runtime feed the graph.

:class:`ImageSpec` (the bundle's ``image`` entry) holds every number these steps use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

# encoding -> (channels, cv2 conversion to RGB or None when already RGB)
ENCODINGS: dict[str, tuple[int, int | None]] = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
}
# Filters a bundle's ``image.resize`` may name.
RESIZE_FILTERS: dict[str, int] = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}
MAX_SIDE = 8192
# Cameras a policy may see (the simulator's observation keys; on a robot, one image topic each).
CAMERAS: tuple[str, ...] = ("nav_rgb", "manip_rgb")
CAMERA_JOIN = "+"  # "nav_rgb+manip_rgb": both frames side by side in one image input


def camera_names(camera: str) -> tuple[str, ...]:
    """The cameras of an :attr:`ImageSpec.camera` entry, left to right in the image input
    (``"nav_rgb+manip_rgb"`` -> ``("nav_rgb", "manip_rgb")``).

    Raises:
        ValueError: an unknown camera, an empty or repeated name, naming the value.
    """
    names = tuple(str(camera).split(CAMERA_JOIN))
    unknown = [n for n in names if n not in CAMERAS]
    if unknown or len(set(names)) != len(names):
        raise ValueError(
            f"{camera!r}: use one of {list(CAMERAS)} or several of them joined by "
            f"{CAMERA_JOIN!r} without repeats (e.g. 'nav_rgb{CAMERA_JOIN}manip_rgb')"
        )
    return names


@dataclass(frozen=True, kw_only=True)
class ImageSpec:
    """How a camera frame becomes the policy's ``image`` input (the bundle's ``image`` entry).

    ``x = (resize(frame, width x height) * scale - mean) / std``, channels RGB, layout NCHW.

    Several cameras (``camera = "nav_rgb+manip_rgb"``) share the input side by side: each
    frame is resized to ``height x width / n`` and the n of them are joined left to right
    (:func:`compose_frame`), then normalised as one frame.

    Attributes:
        camera: the observation the frames come from (``nav_rgb``: the navigation camera,
            ``manip_rgb``: the wrist camera), or several joined by ``+``.
        height: input height of the graph, pixels.
        width: input width of the graph, pixels (a multiple of the number of cameras).
        channel_order: "RGB", the only order this runtime produces.
        layout: "NCHW", the only layout this runtime produces.
        dtype: element type of the input tensor, "float32".
        resize: filter of the resize to (height, width), a key of :data:`RESIZE_FILTERS`.
        scale: factor from 0..255 pixel values to the range ``mean`` and ``std`` refer to.
        mean: per-channel mean subtracted after scaling (RGB order).
        std: per-channel std divided after subtracting the mean (RGB order).
    """

    camera: str = "nav_rgb"
    height: int
    width: int
    channel_order: str = "RGB"
    layout: str = "NCHW"
    dtype: str = "float32"
    resize: str = "area"
    scale: float = 1.0 / 255.0
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        try:
            n = len(camera_names(self.camera))
        except ValueError as exc:
            raise ValueError(f"image.camera = {exc}") from None
        checks = (
            (
                self.width % n == 0,
                f"width = {self.width!r} is not a multiple of the {n} cameras of "
                f"camera = {self.camera!r} (they share it side by side)",
            ),
            (1 <= self.height <= MAX_SIDE, f"height = {self.height!r}; expected 1..{MAX_SIDE}"),
            (1 <= self.width <= MAX_SIDE, f"width = {self.width!r}; expected 1..{MAX_SIDE}"),
            (self.channel_order == "RGB", f"channel_order = {self.channel_order!r}; need 'RGB'"),
            (self.layout == "NCHW", f"layout = {self.layout!r}; need 'NCHW'"),
            (self.dtype == "float32", f"dtype = {self.dtype!r}; need 'float32'"),
            (
                self.resize in RESIZE_FILTERS,
                f"resize = {self.resize!r}; expected one of {sorted(RESIZE_FILTERS)}",
            ),
            (self.scale > 0, f"scale = {self.scale!r}; must be > 0"),
            (len(self.mean) == 3, f"mean = {list(self.mean)}; needs 3 values (RGB)"),
            (
                len(self.std) == 3 and all(s > 0 for s in self.std),
                f"std = {list(self.std)}; needs 3 values > 0 (RGB)",
            ),
        )
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"image.{msg}")

    @property
    def cameras(self) -> tuple[str, ...]:
        """The cameras of the image input, left to right (:func:`camera_names`)."""
        return camera_names(self.camera)


def compose_frame(frames: Mapping[str, np.ndarray], spec: ImageSpec) -> np.ndarray:
    """The one RGB frame ``spec`` describes, from the newest frame of each camera.

    One camera: its frame as it is (:func:`preprocess_rgb` resizes it). Several: each resized
    to ``spec.height x spec.width / n`` with the spec's filter, joined left to right in the
    order of ``spec.camera`` (a ``(height, width, 3)`` frame the resize then leaves alone).

    Raises:
        ValueError: a camera of the spec has no frame in ``frames``, or a frame is not RGB
            uint8 (H, W, 3), naming the camera.
    """
    names = spec.cameras
    missing = [n for n in names if n not in frames]
    if missing:
        raise ValueError(
            f"no frame from camera {missing[0]!r}: image.camera = {spec.camera!r} needs "
            f"{list(names)} (got {sorted(frames)})"
        )
    if len(names) == 1:
        return frames[names[0]]
    w = spec.width // len(names)
    parts = []
    for n in names:
        f = frames[n]
        if not isinstance(f, np.ndarray) or f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            raise ValueError(
                f"camera {n!r}: frame must be uint8 RGB (H, W, 3), got "
                f"{getattr(f, 'dtype', type(f).__name__)} {getattr(f, 'shape', None)}"
            )
        parts.append(resize_rgb(f, w, spec.height, spec.resize))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def compose_frames(obs: Mapping[str, np.ndarray], spec: ImageSpec) -> np.ndarray:
    """:func:`compose_frame` for a batch: ``obs[camera]`` are [N,H,W,3] (vectorised envs)."""
    names = spec.cameras
    if len(names) == 1 or any(n not in obs for n in names):
        return compose_frame(obs, spec)  # one camera: as it is; a missing one: the error
    count = len(obs[names[0]])
    return np.stack([compose_frame({n: obs[n][k] for n in names}, spec) for k in range(count)])


class ImageFormatError(ValueError):
    """A frame that cannot be decoded: wrong encoding, size, step or truncated data."""


class StaleFrameError(ValueError):
    """A frame older than the allowed age (or stamped in the future)."""


@dataclass(frozen=True)
class PreprocessConfig:
    """What the perception node produces.

    Attributes:
        width: output width in pixels (the bundle's image spec).
        height: output height in pixels.
        max_frame_age_s: frames whose stamp is older than this are dropped.
        max_future_s: frames stamped further than this in the future are dropped (clock skew).
        resize: resize filter (the bundle's image spec), a key of :data:`RESIZE_FILTERS`.
    """

    width: int
    height: int
    max_frame_age_s: float = 0.5
    max_future_s: float = 0.05
    resize: str = "area"

    @classmethod
    def for_image(cls, spec: ImageSpec, max_frame_age_s: float = 0.5) -> PreprocessConfig:
        """Output size and filter of a bundle's image spec."""
        return cls(spec.width, spec.height, max_frame_age_s, resize=spec.resize)

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 1 <= v <= MAX_SIDE:
                raise ValueError(f"PreprocessConfig.{name} = {v!r}; expected an int in 1..8192")
        if not self.max_frame_age_s > 0:
            raise ValueError(f"max_frame_age_s = {self.max_frame_age_s!r}; must be > 0")
        if not self.max_future_s >= 0:
            raise ValueError(f"max_future_s = {self.max_future_s!r}; must be >= 0")
        if self.resize not in RESIZE_FILTERS:
            raise ValueError(f"resize = {self.resize!r}; expected one of {sorted(RESIZE_FILTERS)}")


def decode_image(
    encoding: str,
    height: int,
    width: int,
    step: int,
    data: bytes | memoryview | np.ndarray,
    is_bigendian: int = 0,
) -> np.ndarray:
    """Validate an image's fields and return its pixels as RGB ``uint8 (height, width, 3)``.

    Checks: supported encoding; ``0 < height, width <= 8192``; ``step >= width * channels``;
    ``len(data) == step * height`` (a shorter buffer is truncated, a longer one inconsistent).
    ``is_bigendian`` is irrelevant for 8-bit encodings and ignored.

    Raises:
        ImageFormatError: naming the offending field and value.
    """
    if encoding not in ENCODINGS:
        raise ImageFormatError(
            f"unsupported encoding {encoding!r}; supported: {', '.join(ENCODINGS)}"
        )
    channels, conversion = ENCODINGS[encoding]
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise ImageFormatError(f"bad image size {width}x{height}; expected 1..{MAX_SIDE} each")
    row = width * channels
    if step < row:
        raise ImageFormatError(f"step {step} < width*channels {row} for {encoding}")
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    buf = buf.reshape(-1).view(np.uint8)
    if buf.size != step * height:
        kind = "truncated" if buf.size < step * height else "oversized"
        raise ImageFormatError(
            f"{kind} data: {buf.size} bytes, expected step*height = {step}*{height} = "
            f"{step * height}"
        )
    pixels = buf.reshape(height, step)[:, :row].reshape(height, width, channels)
    if conversion is None:
        return np.ascontiguousarray(pixels)
    if channels == 1:
        pixels = pixels[:, :, 0]
    return cv2.cvtColor(np.ascontiguousarray(pixels), conversion)


def resize_rgb(rgb: np.ndarray, width: int, height: int, method: str = "area") -> np.ndarray:
    """Resize an RGB frame to ``(height, width, 3)`` with the filter ``method`` (a key of
    :data:`RESIZE_FILTERS`); a frame already at that size is returned as is."""
    if rgb.shape[:2] == (height, width):
        return rgb
    return cv2.resize(rgb, (width, height), interpolation=RESIZE_FILTERS[method])


def preprocess_rgb(frame: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """RGB uint8 frame (H, W, 3) of any size -> the graph's float32 (3, h, w) input per ``spec``.

    Raises:
        ValueError: naming the bad shape or dtype.
    """
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        raise ValueError(f"frame must be an RGB array of shape (H, W, 3), got shape {shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 RGB (0..255), got dtype {frame.dtype}")
    frame = resize_rgb(frame, spec.width, spec.height, spec.resize)
    x = frame.astype(np.float32) * np.float32(spec.scale)
    x = (x - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def check_age(stamp_ns: int, now_ns: int, config: PreprocessConfig) -> float:
    """Age of a frame in seconds, ``(now - stamp) / 1e9``.

    Raises:
        StaleFrameError: if ``age > max_frame_age_s`` or ``age < -max_future_s``.
    """
    age = (now_ns - stamp_ns) * 1e-9
    if age > config.max_frame_age_s:
        raise StaleFrameError(
            f"frame is {age:.3f} s old (max_frame_age_s = {config.max_frame_age_s})"
        )
    if age < -config.max_future_s:
        raise StaleFrameError(f"frame stamped {-age:.3f} s in the future (clock skew?)")
    return age


def preprocess(
    encoding: str,
    height: int,
    width: int,
    step: int,
    data: bytes | memoryview | np.ndarray,
    stamp_ns: int,
    now_ns: int,
    config: PreprocessConfig,
) -> np.ndarray:
    """Age check, decode, resize: the whole perception step. Returns RGB ``uint8``.

    Raises:
        StaleFrameError: too old (checked first: it is the cheapest test).
        ImageFormatError: malformed frame.
    """
    check_age(stamp_ns, now_ns, config)
    rgb = decode_image(encoding, height, width, step, data)
    return resize_rgb(rgb, config.width, config.height, config.resize)
