"""The backend registry (simulators by name) and the robot facts every backend shares."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from sim_bridge.backend import BackendUnavailableError
from sim_bridge.backends import BACKEND_NAMES, make_backend
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.mujoco import Layout
from sim_bridge.mujoco.scene_xml import build_xml
from sim_bridge.robot import (
    MANIP_CAMERA_VFOV_DEG,
    NAV_CAMERA_HEIGHT_M,
    NAV_CAMERA_VFOV_DEG,
    nav_camera_hfov_deg,
)
from sim_bridge.thor import ThorConfig


@pytest.fixture
def no_thor(monkeypatch, tmp_path):
    """A machine without any AI2-THOR build (empty home, no executable override)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SAFEVLA_THOR_EXECUTABLE", raising=False)


def test_registry_names_and_unknown_names():
    assert BACKEND_NAMES == ("mujoco", "thor")
    with pytest.raises(ValueError, match="unknown backend 'gazebo'; available: mujoco, thor"):
        make_backend("gazebo")
    with pytest.raises(ValueError, match="unknown backend 'gazebo'"):
        EnvConfig(backend="gazebo")
    with pytest.raises(ValueError, match="unknown backend 'gazebo'"):
        make_env(backend="gazebo")


def test_mujoco_by_name_renders_at_the_env_sizes():
    backend = make_backend("mujoco", (24, 40), (16, 20))
    try:
        backend.reset(1000123)
        assert backend.render("nav").shape == (24, 40, 3)
        assert backend.render("manip").shape == (16, 20, 3)
    finally:
        backend.close()


def test_thor_without_a_build_fails_in_one_line_naming_what_is_missing(no_thor):
    with pytest.raises(BackendUnavailableError) as err:
        make_backend("thor")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("backend 'thor' cannot start: no AI2-THOR build for commit")
    assert "SAFEVLA_THOR_EXECUTABLE" in msg and "use backend 'mujoco'" in msg
    with pytest.raises(BackendUnavailableError, match="cannot start"):
        make_env(config=EnvConfig(backend="thor"))


def test_thor_with_a_missing_executable_names_it(no_thor, monkeypatch, tmp_path):
    monkeypatch.setenv("SAFEVLA_THOR_EXECUTABLE", str(tmp_path / "thor-player"))
    with pytest.raises(BackendUnavailableError, match="thor-player' does not exist"):
        make_backend("thor")


def test_both_simulators_use_the_one_camera_field_of_view():
    assert ThorConfig().field_of_view == NAV_CAMERA_VFOV_DEG
    model = mujoco.MjModel.from_xml_string(build_xml(Layout.box_room(4.0, 4.0))[0])
    nav, manip = model.camera("nav").id, model.camera("manip").id
    assert model.cam_fovy[nav] == NAV_CAMERA_VFOV_DEG
    assert model.cam_fovy[manip] == MANIP_CAMERA_VFOV_DEG
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    assert data.cam_xpos[nav][2] == pytest.approx(NAV_CAMERA_HEIGHT_M)


def test_horizontal_field_of_view_follows_the_aspect_ratio():
    assert nav_camera_hfov_deg(128, 128) == pytest.approx(NAV_CAMERA_VFOV_DEG)
    wide = nav_camera_hfov_deg(384, 224)
    ratio = math.tan(math.radians(wide) / 2) / math.tan(math.radians(NAV_CAMERA_VFOV_DEG) / 2)
    assert ratio == pytest.approx(384 / 224)
    with pytest.raises(ValueError, match="positive"):
        nav_camera_hfov_deg(0, 10)
    assert np.isfinite(wide) and wide > NAV_CAMERA_VFOV_DEG
