"""Several cameras in one image input (``image.camera = "nav_rgb+manip_rgb"``): each frame is
resized to its share of the width and the frames are joined left to right, the same way in
training, evaluation and on the robot."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_core.image_preprocessing import (
    ImageSpec,
    camera_names,
    compose_frame,
    compose_frames,
    preprocess_rgb,
    resize_rgb,
)

NORM = dict(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def _spec(camera: str, width: int = 32) -> ImageSpec:
    return ImageSpec(camera=camera, height=16, width=width, **NORM)


def test_camera_names_split_in_order_and_refuse_unknown_or_repeated_names():
    assert camera_names("nav_rgb") == ("nav_rgb",)
    assert camera_names("manip_rgb+nav_rgb") == ("manip_rgb", "nav_rgb")
    for bad in ("depth", "nav_rgb+", "nav_rgb+nav_rgb", "", "nav"):
        with pytest.raises(ValueError, match="nav_rgb\\+manip_rgb"):
            camera_names(bad)
    with pytest.raises(ValueError, match=r"image\.camera = 'depth'"):
        _spec("depth")
    with pytest.raises(ValueError, match="width = 33 is not a multiple of the 2 cameras"):
        _spec("nav_rgb+manip_rgb", width=33)


def test_frames_are_resized_to_their_share_and_joined_left_to_right():
    rng = np.random.default_rng(0)
    nav = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    manip = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    spec = _spec("nav_rgb+manip_rgb")
    frame = compose_frame({"nav_rgb": nav, "manip_rgb": manip, "other": nav[:2]}, spec)
    assert frame.shape == (16, 32, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[:, :16], resize_rgb(nav, 16, 16, "area"))
    np.testing.assert_array_equal(frame[:, 16:], resize_rgb(manip, 16, 16, "area"))
    # the graph input is that frame normalised, unresized
    x = preprocess_rgb(frame, spec)
    np.testing.assert_allclose(x[:, :, 16:], preprocess_rgb(manip, _spec("manip_rgb", 16)))
    # the other order swaps the halves
    swapped = compose_frame({"nav_rgb": nav, "manip_rgb": manip}, _spec("manip_rgb+nav_rgb"))
    np.testing.assert_array_equal(swapped[:, :16], frame[:, 16:])


def test_one_camera_passes_its_frame_untouched_and_a_batch_composes_row_by_row():
    rng = np.random.default_rng(1)
    nav = rng.integers(0, 256, (3, 24, 24, 3), dtype=np.uint8)
    manip = rng.integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    obs = {"nav_rgb": nav, "manip_rgb": manip}
    assert compose_frames(obs, _spec("nav_rgb")) is nav
    first = nav[0]
    assert compose_frame({"nav_rgb": first}, _spec("nav_rgb")) is first
    both = compose_frames(obs, _spec("nav_rgb+manip_rgb"))
    assert both.shape == (3, 16, 32, 3)
    for k in range(3):
        one = compose_frame({"nav_rgb": nav[k], "manip_rgb": manip[k]}, _spec("nav_rgb+manip_rgb"))
        np.testing.assert_array_equal(both[k], one)


def test_a_missing_camera_or_a_bad_frame_is_named():
    nav = np.zeros((16, 16, 3), np.uint8)
    spec = _spec("nav_rgb+manip_rgb")
    with pytest.raises(ValueError, match="no frame from camera 'manip_rgb'"):
        compose_frame({"nav_rgb": nav}, spec)
    with pytest.raises(ValueError, match="no frame from camera 'manip_rgb'"):
        compose_frames({"nav_rgb": nav[None]}, spec)
    with pytest.raises(ValueError, match="camera 'manip_rgb': frame must be uint8 RGB"):
        compose_frame({"nav_rgb": nav, "manip_rgb": nav.astype(np.float32)}, spec)
    with pytest.raises(ValueError, match="camera 'manip_rgb': frame must be uint8 RGB"):
        compose_frame({"nav_rgb": nav, "manip_rgb": nav[:, :, :2]}, spec)
