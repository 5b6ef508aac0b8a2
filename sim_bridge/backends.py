"""The simulator backends by name: one registry that the env, the CLI and the ROS node read.

==========  ===============================================================================
name        simulator
==========  ===============================================================================
``mujoco``  the embedded MuJoCo simulator (:mod:`sim_bridge.mujoco`), renders at the env's
            image sizes; runs anywhere (CPU, offscreen EGL/OSMesa).
``thor``    AI2-THOR with the Stretch agent (:mod:`sim_bridge.thor`), the benchmark's camera
            (396 x 224, the env resizes frames); needs a Unity build and a GPU renderer.
==========  ===============================================================================

``make_backend("thor")`` on a machine without THOR raises :class:`BackendUnavailableError` with
one line naming what is missing (``ai2thor`` package, Unity build, Vulkan or X display).

To add a simulator: implement :class:`sim_bridge.backend.Backend` in its own package and add a
factory ``(nav_size, manip_size) -> Backend`` to :data:`BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable

from sim_bridge.backend import Backend, BackendUnavailableError
from sim_bridge.robot import CAMERA_SIZE_HW

Size = tuple[int, int]
BackendFactory = Callable[[Size, Size], Backend]


def _mujoco(nav_size: Size, manip_size: Size) -> Backend:
    from sim_bridge.mujoco.backend import MujocoBackend, MujocoConfig

    cfg = MujocoConfig(nav_size=tuple(nav_size), manip_size=tuple(manip_size))
    return MujocoBackend(cfg)


def _thor(nav_size: Size, manip_size: Size) -> Backend:
    """The benchmark's THOR camera set-up; the env resizes its frames to ``nav_size``."""
    try:
        from sim_bridge.thor.backend import ThorBackend
        from sim_bridge.thor.build import ThorUnavailableError
    except ImportError as exc:  # ai2thor (or procthor) is not installed
        raise BackendUnavailableError(
            f"backend 'thor' needs the {exc.name or 'ai2thor'} package "
            "(pip install ai2thor==5.0.0 procthor); or use backend 'mujoco'"
        ) from exc
    try:
        return ThorBackend()
    except ThorUnavailableError as exc:
        what = str(exc).splitlines()[0].rstrip(".")
        raise BackendUnavailableError(
            f"backend 'thor' cannot start: {what} (how to provide it: sim_bridge/thor/"
            "__init__.py); or use backend 'mujoco'"
        ) from exc


BACKENDS: dict[str, BackendFactory] = {"mujoco": _mujoco, "thor": _thor}
"""The registry: backend name -> factory ``(nav_size, manip_size) -> Backend`` ((H, W) each)."""

BACKEND_NAMES: tuple[str, ...] = tuple(BACKENDS)
DEFAULT_BACKEND = "mujoco"


def check_backend(name: str) -> str:
    """``name`` if it is a registered backend.

    Raises:
        ValueError: unknown name, listing the valid ones.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKEND_NAMES)}")
    return name


def make_backend(
    name: str = DEFAULT_BACKEND,
    nav_size: Size = CAMERA_SIZE_HW,
    manip_size: Size = CAMERA_SIZE_HW,
) -> Backend:
    """A fresh backend by name, rendering at the env's (H, W) image sizes where it can.

    Raises:
        ValueError: unknown name.
        BackendUnavailableError: the simulator cannot run here (one line: what is missing).
    """
    return BACKENDS[check_backend(name)](tuple(nav_size), tuple(manip_size))
