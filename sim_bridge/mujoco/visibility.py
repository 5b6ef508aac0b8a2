"""Which objects the navigation camera sees: frustum test plus ray casts.

An object is visible if at least one of its probe points (centre and the 8 corners of its box
shrunk to 60 %) lies within ``max_distance`` of the camera and inside the camera frustum
(|x| <= tan(hfov/2) d and |y| <= tan(vfov/2) d for camera-frame coordinates at depth d), and a ray
from the camera to that point is not blocked by another geom first (robot geoms are ignored).
All probes of one call are vectorised and cast with a single ``mj_multiRay``.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from sim_bridge.mujoco.physics import SceneSim

_CORNERS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * 0.3
_PROBES = np.vstack([np.zeros((1, 3)), _CORNERS])  # (9, 3), in units of the object size
_GEOMGROUP = np.array([1, 0, 1, 1, 1, 1], dtype=np.uint8)  # group 1 = robot


def _static_probes(sim: SceneSim) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) probe points and (N,) owners of the furniture (computed once per scene)."""
    cached = getattr(sim, "_static_probes", None)
    if cached is not None:
        return cached
    pts, owners = [np.zeros((0, 3))], [np.zeros(0, dtype=np.int64)]
    for k, f in enumerate(sim.layout.furniture):
        t = math.radians(f.yaw_deg)
        rot = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
        centre = np.array([*f.center, f.elevation + f.size[2] / 2])
        pts.append(centre + (_PROBES * np.array(f.size)) @ rot.T)
        owners.append(np.full(len(_PROBES), k))
    sim._static_probes = (np.vstack(pts), np.concatenate(owners))
    return sim._static_probes


def _dynamic_probes(sim: SceneSim) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) probe points and (N,) owners of the free objects at their current poses."""
    ks = np.array([k for k, e in enumerate(sim.entities) if not e.static], dtype=np.int64)
    if len(ks) == 0:
        return np.zeros((0, 3)), ks
    bodies = [sim.entities[k].body for k in ks]
    sizes = np.array([sim.entities[k].size for k in ks])
    pos = sim.data.xpos[bodies]
    rot = sim.data.xmat[bodies].reshape(-1, 3, 3)
    offsets = _PROBES[None, :, :] * sizes[:, None, :]  # (n, 9, 3) in the object frame
    world = pos[:, None, :] + np.einsum("nij,nkj->nki", rot, offsets)
    return world.reshape(-1, 3), np.repeat(ks, len(_PROBES))


def visible_entities(sim: SceneSim, max_distance: float) -> set[int]:
    """Entity indices visible from the navigation camera."""
    if max_distance <= 0:
        raise ValueError(f"max_distance must be > 0, got {max_distance}")
    m, d = sim.model, sim.data
    sp, so = _static_probes(sim)
    dp, do = _dynamic_probes(sim)
    pts, owners = np.vstack([sp, dp]), np.concatenate([so, do])
    cam_pos = d.cam_xpos[sim.nav_cam].copy()
    cam_rot = d.cam_xmat[sim.nav_cam].reshape(3, 3)
    tan_v = math.tan(math.radians(m.cam_fovy[sim.nav_cam]) / 2)
    tan_h = tan_v * sim.nav_aspect
    vec = pts - cam_pos
    local = vec @ cam_rot  # camera frame: x right, y up, -z forward
    depth = -local[:, 2]
    ok = (depth > 0.05) & (np.linalg.norm(vec, axis=1) <= max_distance)
    ok &= (np.abs(local[:, 0]) <= tan_h * depth) & (np.abs(local[:, 1]) <= tan_v * depth)
    if not ok.any():
        return set()
    vec, owners = np.ascontiguousarray(vec[ok]), owners[ok]
    n = len(vec)
    geomid = np.zeros(n, dtype=np.int32)
    frac = np.zeros(n)
    # vec is not normalised: the hit distance comes back in units of |vec|, so a hit at a
    # fraction >= ~1 lies at or beyond the probe point.
    mujoco.mj_multiRay(
        m, d, cam_pos, vec.ravel(), _GEOMGROUP, 1, -1, geomid, frac, None, n, max_distance + 1.0
    )
    hit_owner = np.where(geomid >= 0, sim.geom_entity[np.maximum(geomid, 0)], -100)
    clear = (geomid < 0) | (hit_owner == owners) | (frac >= 0.999)
    return {int(k) for k in np.unique(owners[clear])}
