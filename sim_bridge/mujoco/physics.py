"""The compiled MuJoCo scene: index maps, actuated motion, contacts, grasping.

Actions are executed through physics: position actuators on the base's x/y slides and yaw
hinge and on the lift, arm and wrist joints. A move drives the joints along a smooth reference
from the current value to the goal over ``ramp_steps`` physics steps, then holds the goal for
``settle_steps`` (see :meth:`SceneSim.drive` for the feed-forward that makes free motion exact).
A wall or heavy furniture stops the base (the move is then *blocked*); free objects the robot
touches are pushed or knocked over by the contact forces. Grasping welds the object to the
wrist (an equality constraint declared per pickupable object, activated with the current
relative pose); a held object's geoms stop colliding with the robot (contype 4) but still
collide with the world. Robot geoms have ``contype=2 conaffinity=1``: they touch the world and
objects, never each other.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import mujoco
import numpy as np

from sim_bridge.mujoco.layout import Layout
from sim_bridge.mujoco.scene_xml import RenderSizes, build_xml

JOINTS = ("base_x", "base_y", "base_yaw", "lift", "arm", "wrist")
HELD_CONTYPE = 4
FLOOR, ROBOT = -1, -2


@dataclass
class Entity:
    """A non-structural thing in the scene (furniture or free object)."""

    object_id: str
    object_type: str
    static: bool
    size: np.ndarray
    pickupable: bool = False
    fragile: bool = False
    dangerous: bool = False
    body: int = -1
    qpos_adr: int = -1
    weld: int = -1
    geoms: list[int] = field(default_factory=list)


@dataclass
class SimSnapshot:
    """Everything :meth:`SceneSim.restore` needs to put the scene back exactly."""

    data: mujoco.MjData
    eq_data: np.ndarray
    geom_contype: np.ndarray
    held: int | None


def quat_to_euler_deg(q: np.ndarray) -> np.ndarray:
    """(w, x, y, z) quaternion -> (roll, pitch, yaw) degrees (z-y-x convention)."""
    w, x, y, z = q
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.degrees([roll, pitch, yaw])


class SceneSim:
    """One compiled layout: model, data and the maps between geoms, bodies and object ids."""

    def __init__(
        self, layout: Layout, sizes: RenderSizes, nav_size: tuple[int, int] = (128, 128)
    ) -> None:
        xml, ids = build_xml(layout, sizes)
        welds = [
            f'<weld name="hold:{oid}" body1="wrist" body2="{oid}" active="false"/>'
            for oid, spec in zip(ids[len(layout.furniture) :], layout.objects)
            if spec.pickupable
        ]
        if welds:
            xml = xml.replace(
                "</worldbody>", "</worldbody>\n<equality>" + "".join(welds) + "</equality>"
            )
        self.layout = layout
        self.nav_aspect = nav_size[0] / nav_size[1]
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.jnt_qpos = {n: int(m.jnt_qposadr[m.joint(n).id]) for n in JOINTS}
        self.jnt_dof = {n: int(m.jnt_dofadr[m.joint(n).id]) for n in JOINTS}
        self.act = {n: m.actuator(n).id for n in JOINTS}
        self.kp = {n: float(m.actuator_gainprm[self.act[n], 0]) for n in JOINTS}
        self.kv = {n: float(-m.actuator_biasprm[self.act[n], 2]) for n in JOINTS}
        self.nav_cam, self.manip_cam = m.camera("nav").id, m.camera("manip").id
        self.grip_site = m.site("grip").id
        self.wrist_body = m.body("wrist").id
        self.robot_body = m.body("robot").id
        self.entities: list[Entity] = []
        self.entity_index: dict[str, int] = {}
        self.wall_ids = [f"Wall|{k}" for k in range(len(layout.walls))]
        self._build_entities(ids)
        self._build_geom_map()
        self.held: int | None = None

    def _build_entities(self, ids: list[str]) -> None:
        m, nf = self.model, len(self.layout.furniture)
        for k, oid in enumerate(ids):
            if k < nf:
                f = self.layout.furniture[k]
                ent = Entity(oid, f.object_type, True, np.array(f.size), dangerous=f.dangerous)
            else:
                s = self.layout.objects[k - nf]
                ent = Entity(
                    oid,
                    s.object_type,
                    False,
                    np.array(s.size),
                    s.pickupable,
                    s.fragile,
                    s.dangerous,
                )
                ent.body = m.body(oid).id
                ent.qpos_adr = int(m.jnt_qposadr[m.body_jntadr[ent.body]])
                if s.pickupable:
                    ent.weld = m.equality(f"hold:{oid}").id
            self.entity_index[oid] = k
            self.entities.append(ent)

    def _build_geom_map(self) -> None:
        """geom_entity[g]: entity index, or FLOOR / ROBOT, or -(3 + k) for wall k."""
        m = self.model
        self.geom_entity = np.full(m.ngeom, FLOOR, dtype=np.int64)
        for g in range(m.ngeom):
            name = m.geom(g).name
            if name.startswith("robot:"):
                self.geom_entity[g] = ROBOT
            elif name.startswith("Wall|"):
                self.geom_entity[g] = -(3 + int(name.split("|")[1].split("#")[0]))
            elif "#" in name:
                k = self.entity_index[name.split("#")[0]]
                self.geom_entity[g] = k
                self.entities[k].geoms.append(g)
        self.is_robot = self.geom_entity == ROBOT
        # furniture and objects (not walls, floor or robot): what a map-filtered scan keeps
        self.is_object = self.geom_entity >= 0

    def entity_name(self, code: int) -> str:
        return self.entities[code].object_id if code >= 0 else self.wall_ids[-code - 3]

    # ----------------------------------------------------------------- state
    def q(self, joint: str) -> float:
        return float(self.data.qpos[self.jnt_qpos[joint]])

    def set_robot(
        self, x: float, y: float, yaw_deg: float, lift: float, arm: float, wrist_deg: float
    ) -> None:
        vals = dict(
            base_x=x,
            base_y=y,
            base_yaw=math.radians(yaw_deg),
            lift=lift,
            arm=arm,
            wrist=math.radians(wrist_deg),
        )
        for n, v in vals.items():
            self.data.qpos[self.jnt_qpos[n]] = v
            self.data.ctrl[self.act[n]] = v

    def refresh(self) -> None:
        """Bring positions, camera poses and site poses up to date with qpos."""
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_camlight(self.model, self.data)

    def snapshot(self) -> SimSnapshot:
        """The complete simulator state, for :meth:`restore` (what the action probe needs).

        The whole ``MjData`` is copied, not only ``mj_getState``'s integration state: the next
        action reads quantities the last physics step left behind (the mass matrix ``qM`` of
        the feed-forward, contacts, sleep state, the solver's warm start), so restoring qpos,
        qvel, act and time alone would make a probed future differ in the last bits. The model
        arrays that grasping edits (weld poses, the held object's contact type) and the held
        index are the rest of the state.
        """
        return SimSnapshot(
            data=copy.copy(self.data),
            eq_data=self.model.eq_data.copy(),
            geom_contype=self.model.geom_contype.copy(),
            held=self.held,
        )

    def restore(self, snap: SimSnapshot) -> None:
        """Put the simulator back into ``snap`` (copied in place: references stay valid)."""
        mujoco.mj_copyData(self.data, self.model, snap.data)
        self.model.eq_data[:] = snap.eq_data
        self.model.geom_contype[:] = snap.geom_contype
        self.held = snap.held

    # ----------------------------------------------------------------- motion
    def drive(self, goals: dict[str, float], ramp_steps: int, settle_steps: int) -> set[int]:
        """Move the named joints to ``goals`` through physics; return touched entity codes.

        The reference follows the smoothstep ``r(s) = q0 + (q1 - q0)(3 s^2 - 2 s^3)``,
        ``s = t / T``, and the actuator target adds the feed-forward that cancels damping and
        inertia, ``u = r + (kv r' + (M r'')_i) / kp`` (M: the joint-space mass matrix block of
        the driven joints at the start), so free motion tracks the reference exactly and ends
        at rest on the goal; contacts make it fall behind.
        """
        m, d = self.model, self.data
        names = list(goals)
        start = np.array([self.q(n) for n in names])
        delta = np.array([goals[n] for n in names]) - start
        mass = self._mass_block(names) if names else None
        acts = [self.act[n] for n in names]
        kp = np.array([self.kp[n] for n in names])
        kv = np.array([self.kv[n] for n in names])
        total_t = max(ramp_steps, 1) * m.opt.timestep
        touched: set[int] = set()
        for k in range(1, ramp_steps + settle_steps + 1):
            if names:
                s = min(k / max(ramp_steps, 1), 1.0)
                ref = start + delta * (3 * s**2 - 2 * s**3)
                vel = delta * 6 * s * (1 - s) / total_t
                acc = delta * (6 - 12 * s) / total_t**2 if s < 1.0 else np.zeros(len(names))
                d.ctrl[acts] = ref + (kv * vel + mass @ acc) / kp
            mujoco.mj_step(m, d)
            if d.ncon:
                touched |= self.robot_contacts()
        return touched

    def _mass_block(self, names: list[str]) -> np.ndarray:
        dense = np.zeros((self.model.nv, self.model.nv))
        mujoco.mj_fullM(self.model, self.data, dense)  # includes joint armature
        dofs = [self.jnt_dof[n] for n in names]
        return dense[np.ix_(dofs, dofs)]

    def relax_base(self) -> None:
        """Set the base targets to where the base is, so it stops pushing after a move."""
        for n in ("base_x", "base_y", "base_yaw"):
            self.data.ctrl[self.act[n]] = self.q(n)

    def robot_contacts(self) -> set[int]:
        """Entity codes (see ``geom_entity``) the robot touches now, floor excluded."""
        n = self.data.ncon
        pairs = self.data.contact.geom[:n]
        rob = self.is_robot[pairs]
        mask = rob[:, 0] ^ rob[:, 1]
        if not mask.any():
            return set()
        other = np.where(rob[mask, 0], pairs[mask, 1], pairs[mask, 0])
        codes = self.geom_entity[other]
        return {int(c) for c in codes if c != FLOOR and c != self.held}

    # ----------------------------------------------------------------- grasping
    def grasp_candidate(self, radius: float) -> int | None:
        """Nearest pickupable free object whose box is within ``radius`` of the grip site."""
        site = self.data.site_xpos[self.grip_site]
        best, best_d = None, radius
        for k, ent in enumerate(self.entities):
            if ent.static or not ent.pickupable or k == self.held:
                continue
            pos = self.data.xpos[ent.body]
            rot = self.data.xmat[ent.body].reshape(3, 3)
            local = np.abs(rot.T @ (site - pos)) - ent.size / 2
            dist = float(np.linalg.norm(np.maximum(local, 0)))
            if dist <= best_d:
                best, best_d = k, dist
        return best

    def attach(self, k: int) -> None:
        """Weld entity ``k`` to the wrist at its current relative pose."""
        m, d, ent = self.model, self.data, self.entities[k]
        p1, p2 = d.xpos[self.wrist_body], d.xpos[ent.body]
        q1, q2 = d.xquat[self.wrist_body], d.xquat[ent.body]
        r1 = d.xmat[self.wrist_body].reshape(3, 3)
        q1_inv = np.zeros(4)
        mujoco.mju_negQuat(q1_inv, q1)
        rel_q = np.zeros(4)
        mujoco.mju_mulQuat(rel_q, q1_inv, q2)
        m.eq_data[ent.weld, 0:3] = 0.0
        m.eq_data[ent.weld, 3:6] = r1.T @ (p2 - p1)
        m.eq_data[ent.weld, 6:10] = rel_q
        m.eq_data[ent.weld, 10] = 1.0
        d.eq_active[ent.weld] = 1
        m.geom_contype[ent.geoms] = HELD_CONTYPE
        self.held = k

    def detach(self) -> int | None:
        """Release the held object (it falls under gravity); return its entity index."""
        k = self.held
        if k is None:
            return None
        ent = self.entities[k]
        self.data.eq_active[ent.weld] = 0
        self.model.geom_contype[ent.geoms] = 1
        self.held = None
        return k
