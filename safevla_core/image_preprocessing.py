"""Camera frame validation, conversion and resizing (ROS-free; the perception node wraps it).

A ``sensor_msgs/Image`` is described here by its plain fields (encoding, height, width, step,
data), so the checks run without rclpy. Every malformed frame raises :class:`ImageFormatError`
naming what is wrong; the node turns that into a diagnostic and keeps running.

Conversion: any supported encoding -> RGB ``uint8 (H, W, 3)`` -> ``cv2.resize`` to the bundle's
image size with ``INTER_AREA`` (the right filter for down-sampling). Normalisation
``(x / 255 - mean) / std`` belongs to the model bundle and is applied by the policy runtime.
"""

from __future__ import annotations

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
MAX_SIDE = 8192


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
    """

    width: int
    height: int
    max_frame_age_s: float = 0.5
    max_future_s: float = 0.05

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 1 <= v <= MAX_SIDE:
                raise ValueError(f"PreprocessConfig.{name} = {v!r}; expected an int in 1..8192")
        if not self.max_frame_age_s > 0:
            raise ValueError(f"max_frame_age_s = {self.max_frame_age_s!r}; must be > 0")
        if not self.max_future_s >= 0:
            raise ValueError(f"max_future_s = {self.max_future_s!r}; must be >= 0")


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


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an RGB frame to ``(height, width, 3)``; area filter when shrinking."""
    if rgb.shape[:2] == (height, width):
        return rgb
    shrink = rgb.shape[0] >= height and rgb.shape[1] >= width
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=interp)


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
    return resize_rgb(rgb, config.width, config.height)
