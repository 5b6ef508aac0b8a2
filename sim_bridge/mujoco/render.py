"""Offscreen rendering that keeps one OpenGL context across scenes.

``mujoco.Renderer`` creates a new OpenGL context per model (100-200 ms here); a new procedural
scene only needs a new ``MjrContext`` (2-7 ms) on the same OpenGL context, so this renderer
re-binds instead. The abstract scene (``MjvScene``, a buffer of ``maxgeom`` geoms) depends on a
model only through its skins and flexes, so for models without either it is kept across binds
(``mjv_makeScene`` of such a model is the same buffer; ``mjv_updateScene`` refills it each
frame). Fast settings: no shadows, reflections or skybox; sites hidden.
"""

from __future__ import annotations

import mujoco
import numpy as np


class OffscreenRenderer:
    """Renders fixed cameras of whichever model is bound, up to ``max_size`` pixels."""

    def __init__(self, max_width: int, max_height: int) -> None:
        self.max_width, self.max_height = max_width, max_height
        self._gl = mujoco.GLContext(max_width, max_height)
        self._gl.make_current()
        self._ctx: mujoco.MjrContext | None = None
        self._scene: mujoco.MjvScene | None = None
        self._scene_generic = False  # the scene was made for a model without skins or flexes
        self._model: mujoco.MjModel | None = None
        self._opt = mujoco.MjvOption()
        self._opt.sitegroup[:] = 0
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED

    def bind(self, model: mujoco.MjModel) -> None:
        """Use ``model`` from now on (its offscreen buffer must hold ``max_size``)."""
        if model.vis.global_.offwidth < self.max_width or (
            model.vis.global_.offheight < self.max_height
        ):
            raise ValueError(
                f"model offscreen buffer {model.vis.global_.offwidth}x"
                f"{model.vis.global_.offheight} is smaller than {self.max_width}x{self.max_height}"
            )
        self._gl.make_current()
        if self._ctx is not None:
            self._ctx.free()
        self._ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._ctx)
        maxgeom = max(1000, 2 * model.ngeom)
        generic = model.nskin == 0 and model.nflex == 0
        if not (generic and self._scene_generic and self._scene.maxgeom == maxgeom):
            self._scene = mujoco.MjvScene(model, maxgeom=maxgeom)
            for flag in (
                mujoco.mjtRndFlag.mjRND_REFLECTION,
                mujoco.mjtRndFlag.mjRND_SKYBOX,
                mujoco.mjtRndFlag.mjRND_SHADOW,
            ):
                self._scene.flags[flag] = 0
        self._scene_generic = generic
        self._model = model

    def render(self, data: mujoco.MjData, camera_id: int, width: int, height: int) -> np.ndarray:
        """RGB (height, width, 3) uint8 frame of fixed camera ``camera_id``."""
        if self._model is None:
            raise RuntimeError("OffscreenRenderer.render before bind(model)")
        self._gl.make_current()
        self._cam.fixedcamid = camera_id
        mujoco.mjv_updateScene(
            self._model, data, self._opt, None, self._cam, mujoco.mjtCatBit.mjCAT_ALL, self._scene
        )
        rect = mujoco.MjrRect(0, 0, width, height)
        mujoco.mjr_render(rect, self._scene, self._ctx)
        out = np.empty((height, width, 3), dtype=np.uint8)
        mujoco.mjr_readPixels(out, None, rect, self._ctx)
        return np.ascontiguousarray(out[::-1])

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.free()
            self._ctx = None
        if self._gl is not None:
            self._gl.free()
            self._gl = None
        self._model = None
