"""(thirty-fourth session) Where a shielded proposer first stands 8 proposals in a row: the
robot's geoms in the base frame (centre, world half extents), the wrist's yaw, and per scan
height the returns that lie inside the footprint boxes (base, and the arm box grown by the
arm's extension; +5 mm).

    PYTHONPATH=docs/results/loop_guard python docs/results/detour/touching.py \\
        PROPOSER EPISODES CRITIC STEPS I[,I...]
"""

import math

import mujoco
import numpy as np
from episodes import EpisodeDoneError, drive, shielded_jobs

from safevla_core.footprint import ARM_BOX_M, BASE_HALF_M
from sim_bridge.mujoco import backend as mj_backend

BEAMS = 72
TOL_M = 0.005


class FrozenError(EpisodeDoneError):
    """The robot stood: this episode is done."""


def report(env, index: int) -> None:
    sim = env.backend._require()
    m, d = sim.model, sim.data
    yaw, x, y = sim.q("base_yaw"), sim.q("base_x"), sim.q("base_y")
    c, s = math.cos(yaw), math.sin(yaw)
    print(
        f"== episode {index}: wrist {math.degrees(sim.q('wrist')):.1f} deg, "
        f"arm {sim.q('arm'):.3f} m"
    )
    for g in range(m.ngeom):
        name = m.geom(g).name
        if name.startswith("robot:"):
            half = np.abs(d.geom_xmat[g].reshape(3, 3)[:2]) @ m.geom_size[g]
            wx, wy = d.geom_xpos[g][:2] - np.array([x, y])
            print(
                f"   {name:18s} centre ({c * wx + s * wy:+.3f}, {-s * wx + c * wy:+.3f}) "
                f"z {d.geom_xpos[g][2]:.2f} half {np.round(half, 3)}"
            )
    b = np.linspace(-math.pi, math.pi, BEAMS, endpoint=False)
    vec = np.stack([np.cos(yaw + b), np.sin(yaw + b), np.zeros(BEAMS)], 1).reshape(-1)
    groups = np.ones(6, np.uint8)
    groups[1] = 0  # not the robot's own geoms
    gid, dist = np.zeros(BEAMS, np.int32), np.zeros(BEAMS)
    hx, hy = BASE_HALF_M
    x0, x1, y0, y1 = ARM_BOX_M
    y0 -= max(sim.q("arm"), 0.0)
    for h in mj_backend.SCAN_HEIGHTS_M:
        mujoco.mj_multiRay(
            m, d, np.array([x, y, h]), vec, groups, 1, -1, gid, dist, None, BEAMS, 3.0
        )
        px, py = dist * np.cos(b), dist * np.sin(b)
        in_base = (np.abs(px) <= hx + TOL_M) & (np.abs(py) <= hy + TOL_M)
        in_arm = (px >= x0 - TOL_M) & (px <= x1 + TOL_M) & (py >= y0 - TOL_M) & (py <= y1 + TOL_M)
        inside = (gid >= 0) & (in_base | in_arm)
        if inside.any():
            names = sorted({m.geom(g).name or f"geom {g}" for g in gid[inside]})
            print(
                f"   h {h:.3f} m: {int(inside.sum())} inside, x {np.round(px[inside], 3)} "
                f"y {np.round(py[inside], 3)}: {names[:3]}"
            )


def main() -> None:
    env, agent, jobs = shielded_jobs()
    for job in jobs:
        stood = [0]

        def on_decision(dec, stood=stood, index=job.index):
            stood[0] = stood[0] + 1 if dec.safe_stop else 0
            if stood[0] >= 8:
                report(env, index)
                raise FrozenError

        drive(env, agent, job, on_decision)


if __name__ == "__main__":
    main()
