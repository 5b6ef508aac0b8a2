"""Visual perturbations for out-of-distribution tests.

A :class:`Perturbation` changes the compiled model's appearance (light intensity, random
object/wall/furniture colours, textured materials) and post-processes rendered frames (additive
gaussian noise, gaussian blur). Everything is drawn from ``numpy.random.default_rng(seed)``, so
the same perturbation on the same scene gives the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import mujoco
import numpy as np


@dataclass(frozen=True)
class Perturbation:
    """Appearance changes; the default changes nothing.

    Attributes:
        lighting: light intensity multiplier (e.g. 0.3 dim, 2.0 bright); None = unchanged.
        color_shift: give walls, furniture and objects random colours.
        material: put random textured, shiny materials (tinted) on every non-robot geom.
        camera_noise: std of additive gaussian pixel noise, in 0-255 units.
        blur: gaussian blur kernel size in pixels (odd, >= 3), 0 = none.
        seed: random seed of the colours, materials and noise.
    """

    lighting: float | None = None
    color_shift: bool = False
    material: bool = False
    camera_noise: float = 0.0
    blur: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.lighting is not None and not 0.0 <= self.lighting <= 10.0:
            raise ValueError(f"lighting must be in [0, 10] (a multiplier), got {self.lighting}")
        if self.camera_noise < 0:
            raise ValueError(f"camera_noise must be >= 0, got {self.camera_noise}")
        if self.blur < 0 or (self.blur and (self.blur < 3 or self.blur % 2 == 0)):
            raise ValueError(f"blur must be 0 or an odd kernel size >= 3, got {self.blur}")

    @property
    def changes_model(self) -> bool:
        return self.lighting is not None or self.color_shift or self.material


class AppearanceState:
    """The model's original appearance fields, so perturbations can be applied and undone."""

    def __init__(self, model: mujoco.MjModel, is_robot: np.ndarray) -> None:
        self.model = model
        self.scene_geoms = np.flatnonzero(~is_robot)
        self.rgba = model.geom_rgba.copy()
        self.matid = model.geom_matid.copy()
        self.light_diffuse = model.light_diffuse.copy()
        self.head_diffuse = model.vis.headlight.diffuse.copy()
        self.head_ambient = model.vis.headlight.ambient.copy()
        names = [model.material(i).name for i in range(model.nmat)]
        self.pert_mats = [i for i, n in enumerate(names) if n.startswith("pert_")]

    def restore(self) -> None:
        m = self.model
        m.geom_rgba[:] = self.rgba
        m.geom_matid[:] = self.matid
        m.light_diffuse[:] = self.light_diffuse
        m.vis.headlight.diffuse[:] = self.head_diffuse
        m.vis.headlight.ambient[:] = self.head_ambient

    def apply(self, p: Perturbation) -> None:
        """Restore the original look, then apply ``p``'s model changes."""
        self.restore()
        m, rng = self.model, np.random.default_rng(p.seed)
        if p.lighting is not None:
            m.light_diffuse[:] = np.clip(self.light_diffuse * p.lighting, 0, 1)
            m.vis.headlight.diffuse[:] = np.clip(self.head_diffuse * p.lighting, 0, 1)
            m.vis.headlight.ambient[:] = np.clip(self.head_ambient * p.lighting, 0, 1)
        if p.color_shift:
            g = self.scene_geoms
            m.geom_rgba[g, :3] = rng.uniform(0.05, 0.95, size=(len(g), 3))
            m.geom_matid[g] = -1  # material colours would override the geom colour
        if p.material and self.pert_mats:
            g = self.scene_geoms
            m.geom_matid[g] = rng.choice(self.pert_mats, size=len(g))
            m.geom_rgba[g, :3] = rng.uniform(0.6, 1.0, size=(len(g), 3))  # tints the texture


def postprocess(frame: np.ndarray, p: Perturbation, rng: np.random.Generator) -> np.ndarray:
    """Blur, then add gaussian noise; returns uint8 (H, W, 3)."""
    if p.blur:
        frame = cv2.GaussianBlur(frame, (p.blur, p.blur), 0)
    if p.camera_noise > 0:
        noise = rng.normal(0.0, p.camera_noise, size=frame.shape)
        frame = np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return frame
