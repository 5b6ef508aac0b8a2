"""``MujocoBackend``: the embedded MuJoCo implementation of ``sim_bridge.backend.Backend``."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import mujoco
import numpy as np

from safevla_core.actions import (
    ACTIONS,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
    SCAN_HEIGHTS_M,
    SCAN_RANGE_MAX_M,
    ActionKind,
)
from safevla_core.footprint import ARM_BAND_M
from sim_bridge.backend import AgentState, FreeSpace, ObjectState, StepOutcome
from sim_bridge.mujoco.geometry import free_space_grid
from sim_bridge.mujoco.layout import Layout
from sim_bridge.mujoco.perturb import AppearanceState, Perturbation, postprocess
from sim_bridge.mujoco.physics import SceneSim, quat_to_euler_deg
from sim_bridge.mujoco.poses import check_pose, obstacles
from sim_bridge.mujoco.procgen import HouseConfig, generate_house
from sim_bridge.mujoco.render import OffscreenRenderer
from sim_bridge.mujoco.scene_xml import WRIST_RANGE_DEG, RenderSizes
from sim_bridge.robot import ARM_RANGE_M, CAMERA_SIZE_HW, GRASP_RADIUS_M, LIFT_RANGE_M

JOINT_FOR_KIND = {
    ActionKind.ARM_EXTEND: "arm",
    ActionKind.ARM_LIFT: "lift",
    ActionKind.WRIST: "wrist",
}

COLLISION_RULES = ("struck", "touch")


@dataclass
class MujocoConfig:
    """Settings of the embedded simulator.

    Attributes:
        nav_size: (height, width) of the navigation camera image.
        manip_size: (height, width) of the manipulation camera image.
        ramp_steps: physics steps (dt 0.01 s) over which an actuator target is ramped.
        settle_steps: physics steps the goal is held after the ramp.
        grasp_radius: pickup reaches objects whose box is within this of the grip point, m.
        free_space_resolution: FreeSpace cell size, m.
        clearance: free cells are at least this far from walls/furniture (base half diagonal
            plus margin), m.
        start_lift: lift height at reset, m (above tables and counters).
        scene_cache: compiled scenes kept for fast return to a recent seed (>= 1).
        house: procedural house settings.
        collision_rule: which contacts make an action "collide" for the cost model
            (``StepOutcome.struck``, ``struck_with``). ``"struck"`` (default): the
            benchmark's sense, THOR's "collided" of a move that ran into something: a
            contact that began during the action, or one that was there before and held the
            motion back (it covered less than ``held_back_below`` of the request) or was
            pushed (moved more than ``pushed_m``). ``"touch"``: any contact during the
            action, the rule until 2026-12-05, under which a motion away from an object it
            rests against collided too (every figure measured before that date).
        held_back_below: a motion that covered less than this share of its request was held
            back by what it touched.
        pushed_m: an object the robot already touched that moved more than this during the
            action was pushed by it, m.
    """

    nav_size: tuple[int, int] = CAMERA_SIZE_HW
    manip_size: tuple[int, int] = CAMERA_SIZE_HW
    ramp_steps: int = 30
    settle_steps: int = 8
    grasp_radius: float = GRASP_RADIUS_M
    free_space_resolution: float = 0.1
    clearance: float = 0.25
    start_lift: float = 1.0
    scene_cache: int = 8
    house: HouseConfig = field(default_factory=HouseConfig)
    collision_rule: str = "struck"
    held_back_below: float = 0.95
    pushed_m: float = 0.01

    def __post_init__(self) -> None:
        for name in ("nav_size", "manip_size"):
            h, w = getattr(self, name)
            if not (16 <= w <= 2048 and 16 <= h <= 2048):
                raise ValueError(f"{name} (H, W) must be within 16..2048 pixels, got {(h, w)}")
        if self.ramp_steps < 1 or self.settle_steps < 0:
            raise ValueError(
                f"ramp_steps >= 1 and settle_steps >= 0 required, got "
                f"{self.ramp_steps}, {self.settle_steps}"
            )
        if self.scene_cache < 1:
            raise ValueError(f"scene_cache must be >= 1, got {self.scene_cache}")
        if not LIFT_RANGE_M[0] <= self.start_lift <= LIFT_RANGE_M[1]:
            raise ValueError(f"start_lift must be in {LIFT_RANGE_M}, got {self.start_lift}")
        if self.collision_rule not in COLLISION_RULES:
            raise ValueError(
                f"collision_rule must be one of {COLLISION_RULES}, got {self.collision_rule!r}"
            )
        if not 0.0 < self.held_back_below <= 1.0 or self.pushed_m <= 0:
            raise ValueError(
                "held_back_below must be in (0, 1] and pushed_m > 0, got "
                f"{self.held_back_below}, {self.pushed_m}"
            )
        if self.grasp_radius <= 0 or self.free_space_resolution <= 0 or self.clearance <= 0:
            raise ValueError(
                "grasp_radius, free_space_resolution and clearance must be > 0, got "
                f"{self.grasp_radius}, {self.free_space_resolution}, "
                f"{self.clearance}"
            )


class MujocoBackend:
    """The embedded simulator (see the package docstring for usage)."""

    name = "mujoco"

    def __init__(self, config: MujocoConfig | None = None) -> None:
        self.config = config or MujocoConfig()
        self._fixed_layout: Layout | None = None
        self._sim: SceneSim | None = None
        self._scene_key: object = None
        self._renderer: OffscreenRenderer | None = None
        self._free: FreeSpace | None = None
        self._blockers: list | None = None  # obstacles(layout) of the loaded scene
        self._cache: OrderedDict[object, tuple] = OrderedDict()
        self._perturbation = Perturbation()
        self._appearance: AppearanceState | None = None
        self._noise_rng = np.random.default_rng(0)

    @classmethod
    def from_layout(
        cls,
        layout: Layout,
        config: MujocoConfig | None = None,
        start_pose: tuple[float, float, float] | None = None,
    ) -> MujocoBackend:
        """A backend whose scene is always ``layout`` (``reset`` reloads it; the seed only
        picks the random start pose when the layout has none). Already reset on return."""
        backend = cls(config)
        backend._fixed_layout = layout
        backend.reset(0, start_pose)
        return backend

    # ------------------------------------------------------------------ scene
    def _load(self, layout: Layout | None, key: object) -> None:
        """Switch to scene ``key``: from the cache, or compiled from ``layout`` (generated from
        the seed when None). Cached scenes keep their free-space grid and obstacle list."""
        cached = self._cache.pop(key, None)
        if cached is None:
            if layout is None:
                layout = generate_house(int(key), self.config.house)
            h, w = self._render_hw()
            nav_h, nav_w = self.config.nav_size
            sim = SceneSim(layout, RenderSizes(w, h), (nav_w, nav_h))
            cached = (sim, AppearanceState(sim.model, sim.is_robot), None, obstacles(layout))
        self._cache[key] = cached
        while len(self._cache) > self.config.scene_cache:
            self._cache.popitem(last=False)
        self._sim, self._appearance, self._free, self._blockers = cached
        self._scene_key = key
        if self._renderer is not None:
            self._renderer.bind(self._sim.model)
        self._appearance.apply(self._perturbation)

    def reset(self, scene_seed: int, start_pose: tuple[float, float, float] | None = None) -> None:
        """Load scene ``scene_seed`` (or the fixed layout) and place the robot.

        Reusing the same seed reuses the compiled model and renderers (only the state is
        reset). Raises ValueError for a start pose off the map or overlapping walls/furniture.
        """
        if isinstance(scene_seed, bool) or not isinstance(scene_seed, (int, np.integer)):
            raise ValueError(f"scene_seed must be an int, got {scene_seed!r}")
        key = "fixed" if self._fixed_layout is not None else int(scene_seed)
        if self._sim is None or key != self._scene_key:
            self._load(self._fixed_layout, key)
        sim = self._sim
        mujoco.mj_resetData(sim.model, sim.data)
        for ent in sim.entities:
            if ent.weld >= 0:
                sim.data.eq_active[ent.weld] = 0
                sim.model.geom_contype[ent.geoms] = 1
        sim.held = None
        pose = start_pose if start_pose is not None else sim.layout.agent_pose
        if pose is None:
            pose = self._random_pose(int(scene_seed))
        self._check_pose(pose)
        sim.set_robot(pose[0], pose[1], pose[2], self.config.start_lift, 0.0, 0.0)
        for _ in range(10):  # let resting objects settle (and fall asleep)
            mujoco.mj_step(sim.model, sim.data)
        sim.relax_base()
        sim.refresh()
        self._noise_rng = np.random.default_rng(self._perturbation.seed)

    def _check_pose(self, pose) -> None:
        check_pose(self._sim.layout, pose, self.config.start_lift, self._blockers)

    def _random_pose(self, seed: int) -> tuple[float, float, float]:
        rng = np.random.default_rng([seed, 7])
        fs = self.free_space()
        pts = fs.free_points()
        if len(pts) == 0:
            raise ValueError(f"scene {self._scene_key!r} has no free space for the robot")
        for _ in range(200):
            x, y = pts[rng.integers(len(pts))]
            yaw = float(rng.uniform(-180.0, 180.0))
            try:
                self._check_pose((x, y, yaw))
                return float(x), float(y), yaw
            except ValueError:
                continue
        raise ValueError(f"no collision-free start pose found in scene {self._scene_key!r}")

    # ------------------------------------------------------------------ step
    def step(self, action: int) -> StepOutcome:
        """Execute action ``action`` (index into ``ACTIONS``) through physics."""
        if (
            isinstance(action, bool)
            or not isinstance(action, (int, np.integer))
            or not (0 <= action < len(ACTIONS))
        ):
            raise ValueError(f"action must be an int in [0, {len(ACTIONS)}), got {action!r}")
        a, sim, cfg = ACTIONS[int(action)], self._require(), self.config
        resting = sim.robot_contacts()  # left by the last physics step of the last action
        rest_pos = {c: sim.data.xpos[sim.entities[c].body].copy() for c in resting if c >= 0}
        touched: set[int] = set()
        ok, picked, covered = True, None, 1.0
        if a.kind in (ActionKind.BASE_TRANSLATE, ActionKind.BASE_ROTATE):
            covered, touched = self._move_base(a.kind, a.magnitude)
            ok = covered > 0.75
        elif a.kind in JOINT_FOR_KIND:
            joint = JOINT_FOR_KIND[a.kind]
            ok, covered, touched = self._move_joint(joint, a.magnitude)
        elif a.kind is ActionKind.GRASP:
            k = sim.grasp_candidate(cfg.grasp_radius) if sim.held is None else None
            ok = k is not None
            if k is not None:
                sim.attach(k)
                picked = sim.entities[k].object_id
            touched = sim.drive({}, 0, cfg.ramp_steps + cfg.settle_steps)
        elif a.kind is ActionKind.RELEASE:
            ok = sim.detach() is not None
            touched = sim.drive({}, 0, cfg.ramp_steps + cfg.settle_steps)
        sim.refresh()
        struck = touched
        if cfg.collision_rule == "struck" and covered >= cfg.held_back_below:
            pushed = {
                c
                for c, p in rest_pos.items()
                if c != sim.held
                and float(np.abs(sim.data.xpos[sim.entities[c].body] - p).max()) > cfg.pushed_m
            }
            struck = (touched - resting) | (touched & pushed)
        names = sorted({sim.entity_name(c) for c in touched})
        return StepOutcome(
            collided=bool(names),
            collided_with=names,
            action_succeeded=ok,
            picked_up=picked,
            struck=bool(struck),
            struck_with=sorted({sim.entity_name(c) for c in struck}),
        )

    def snapshot(self) -> tuple:
        """The complete state of the current scene (physics and the render-noise generator),
        for :meth:`restore`; see :meth:`SceneSim.snapshot`."""
        return self._scene_key, self._require().snapshot(), self._noise_rng.bit_generator.state

    def restore(self, snap: tuple) -> None:
        """Return to a :meth:`snapshot` of the scene that is still loaded."""
        key, sim_snap, noise = snap
        if key != self._scene_key:
            raise RuntimeError(
                f"snapshot of scene {key!r}, but scene {self._scene_key!r} is loaded"
            )
        self._sim.restore(sim_snap)
        self._noise_rng.bit_generator.state = noise

    def _move_base(self, kind: ActionKind, magnitude: float) -> tuple[float, set[int]]:
        """Translate ``magnitude`` m along the heading or turn ``magnitude`` deg clockwise;
        return the share of the request covered (the action succeeds above 0.75, else it was
        blocked) and the touched entity codes."""
        sim, cfg = self._sim, self.config
        x0, y0, t = sim.q("base_x"), sim.q("base_y"), sim.q("base_yaw")
        if kind is ActionKind.BASE_TRANSLATE:
            c, s = math.cos(t), math.sin(t)
            goal = {"base_x": x0 + magnitude * c, "base_y": y0 + magnitude * s, "base_yaw": t}
            touched = sim.drive(goal, cfg.ramp_steps, cfg.settle_steps)
            done = ((sim.q("base_x") - x0) * c + (sim.q("base_y") - y0) * s) / magnitude
        else:
            delta = -math.radians(magnitude)  # positive magnitude = clockwise = yaw decreases
            goal = {"base_x": x0, "base_y": y0, "base_yaw": t + delta}
            touched = sim.drive(goal, cfg.ramp_steps, cfg.settle_steps)
            done = (sim.q("base_yaw") - t) / delta
        sim.relax_base()
        return float(done), touched

    def _move_joint(self, joint: str, magnitude: float) -> tuple[bool, float, set[int]]:
        """Move the lift/arm (m) or wrist (deg) by ``magnitude`` within the joint range;
        succeeds if it covered more than half of the request. Also returns the share covered
        of the motion the range allowed (1 when the joint is at its limit already)."""
        sim, cfg = self._sim, self.config
        q0 = sim.q(joint)
        wrist = tuple(math.radians(v) for v in WRIST_RANGE_DEG)
        lo, hi = {"arm": ARM_RANGE_M, "lift": LIFT_RANGE_M}.get(joint, wrist)
        step = math.radians(magnitude) if joint == "wrist" else magnitude
        goal = min(max(q0 + step, lo), hi)
        touched = sim.drive({joint: goal}, cfg.ramp_steps, cfg.settle_steps)
        moved = sim.q(joint) - q0
        allowed = goal - q0
        covered = moved / allowed if abs(allowed) > 1e-9 else 1.0
        return moved / step > 0.5, float(covered), touched

    def _require(self) -> SceneSim:
        if self._sim is None:
            raise RuntimeError("MujocoBackend: call reset(scene_seed) before using the scene")
        return self._sim

    # ------------------------------------------------------------------ queries
    def agent(self) -> AgentState:
        sim = self._require()
        yaw = math.degrees(sim.q("base_yaw"))
        yaw = (yaw + 180.0) % 360.0 - 180.0
        held = sim.entities[sim.held].object_id if sim.held is not None else None
        return AgentState(
            position=np.array([sim.q("base_x"), sim.q("base_y"), 0.0]),
            yaw_deg=yaw,
            arm_extension=sim.q("arm"),
            lift_height=sim.q("lift"),
            wrist_yaw_deg=math.degrees(sim.q("wrist")),
            held_object=held,
        )

    def range_scan(self, objects_only: bool = False) -> np.ndarray:
        """(SCAN_BEAMS,) float32: the range to the nearest obstacle per bearing from the base's
        centre (:data:`safevla_core.actions.SCAN_ANGLE_MIN` onwards, counter-clockwise), the
        lowest over rays cast horizontally at SCAN_HEIGHTS_M; the robot's own geoms and a held
        object are not seen; SCAN_RANGE_MAX_M where nothing is nearer.

        ``objects_only``: the same scan with the building's static structure (walls, floor)
        removed, as a scan filtered against a static map gives it: a ray whose first hit is
        structure returns nothing (SCAN_RANGE_MAX_M), so only furniture and objects remain
        (:meth:`range_scans` gives both from one set of rays)."""
        return self.range_scans()[1 if objects_only else 0]

    def range_scans(self, beams: int = SCAN_BEAMS) -> tuple[np.ndarray, np.ndarray]:
        """``(scan, object scan)``: :meth:`range_scan` without and with ``objects_only``;
        ``beams`` bearings from SCAN_ANGLE_MIN, 2 pi / ``beams`` apart (the critic's
        SCAN_BEAMS by default; a denser scan for measurements, docs/results/dense_scan)."""
        return self.all_scans(beams)[:2]

    def arm_scan(self) -> np.ndarray:
        """(SCAN_BEAMS,) float32: the range scan over the heights the arm and gripper occupy
        now (:data:`safevla_core.footprint.ARM_BAND_M` about the lift's height), the rays of
        :meth:`range_scan` at those heights and at the band's two edges, walls included (no
        gap of 2.5 cm at an edge of the band, where a table top under the fingertips lay):
        what the arm can strike
        when it slides out (the safety monitor's arm guard). A depth camera or 3D lidar gives
        it on a robot, reduced to a planar scan with a height band that follows the lift."""
        return self.all_scans()[2]

    def all_scans(self, beams: int = SCAN_BEAMS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(scan, object scan, arm scan)`` from one set of rays (:meth:`range_scans`,
        :meth:`arm_scan`)."""
        sim = self._require()
        m, d = sim.model, sim.data
        things = sim.is_object
        yaw = sim.q("base_yaw")
        step = SCAN_ANGLE_INCREMENT if beams == SCAN_BEAMS else 2.0 * np.pi / beams
        bearings = yaw + SCAN_ANGLE_MIN + step * np.arange(beams)
        vec = np.zeros((beams, 3))
        vec[:, 0], vec[:, 1] = np.cos(bearings), np.sin(bearings)
        vec = vec.reshape(-1)
        groups = np.ones(6, np.uint8)
        groups[1] = 0  # robot geoms (scene_xml.ROBOT_GEOM)
        exclude = sim.entities[sim.held].body if sim.held is not None else -1
        geomid = np.zeros(beams, np.int32)
        dist = np.zeros(beams)
        out = np.full(beams, SCAN_RANGE_MAX_M)
        obj = np.full(beams, SCAN_RANGE_MAX_M)
        arm = np.full(beams, SCAN_RANGE_MAX_M)
        lift = sim.q("lift")
        x, y = sim.q("base_x"), sim.q("base_y")
        # the arm band's own edges too: the scan's heights are 2.5 cm apart, and a table top
        # just above the fingertips lay between two of them (measured: extensions that the
        # arm scan put 16 cm clear scraped a coffee table's top 3 mm above the fingertips)
        edges = [lift + b for b in ARM_BAND_M if lift + b > 0.0 and lift + b not in SCAN_HEIGHTS_M]
        for h, arm_only in (*((h, False) for h in SCAN_HEIGHTS_M), *((h, True) for h in edges)):
            pnt = np.array([x, y, h])
            mujoco.mj_multiRay(
                m,
                d,
                pnt,
                vec,
                groups,
                1,
                exclude,
                geomid,
                dist,
                None,
                beams,
                SCAN_RANGE_MAX_M,
            )
            hit = geomid >= 0
            if arm_only:  # an edge of the arm band: the arm scan's alone
                arm[hit] = np.minimum(arm[hit], dist[hit])
                continue
            out[hit] = np.minimum(out[hit], dist[hit])
            thing = hit & things[np.maximum(geomid, 0)]
            obj[thing] = np.minimum(obj[thing], dist[thing])
            if ARM_BAND_M[0] <= h - lift <= ARM_BAND_M[1]:
                arm[hit] = np.minimum(arm[hit], dist[hit])
        return out.astype(np.float32), obj.astype(np.float32), arm.astype(np.float32)

    @property
    def layout(self) -> Layout:
        """The current scene's layout (rooms, walls, furniture, objects at their start)."""
        return self._require().layout

    def gripper_position(self) -> np.ndarray:
        """(3,) world position of the grip point (between the fingers)."""
        sim = self._require()
        return sim.data.site_xpos[sim.grip_site].copy()

    def objects(self) -> list[ObjectState]:
        sim = self._require()
        out = []
        for k, ent in enumerate(sim.entities):
            if ent.static:
                f = sim.layout.furniture[k]
                pos = np.array([*f.center, f.elevation + f.size[2] / 2])
                rot = np.array([0.0, 0.0, f.yaw_deg])
                mat = _rotz(f.yaw_deg)
            else:
                qp = sim.data.qpos[ent.qpos_adr : ent.qpos_adr + 7]
                pos, rot = qp[:3].copy(), quat_to_euler_deg(qp[3:])
                mat = np.zeros(9)
                mujoco.mju_quat2Mat(mat, qp[3:])
                mat = mat.reshape(3, 3)
            size = np.abs(mat) @ ent.size  # world axis-aligned extent
            out.append(
                ObjectState(
                    ent.object_id,
                    ent.object_type,
                    pos,
                    rot,
                    size,
                    ent.pickupable,
                    ent.fragile,
                    ent.dangerous,
                    ent.static,
                    False,
                    k == sim.held,
                )
            )
        return out

    def free_space(self) -> FreeSpace:
        """Cells >= ``clearance`` from walls, furniture and floor-standing objects (at their
        start positions), restricted to the robot's connected region; computed once per scene."""
        sim = self._require()
        if self._free is None:
            seed = sim.layout.agent_pose[:2] if sim.layout.agent_pose else None
            free = free_space_grid(
                sim.layout.bounds(),
                [r for _, r, _ in self._blockers],
                self.config.clearance,
                self.config.free_space_resolution,
                seed,
            )
            self._free = free
            self._cache[self._scene_key] = (sim, self._appearance, free, self._blockers)
        return self._free

    def visible_objects(self, max_distance: float = 4.0) -> set[str]:
        from sim_bridge.mujoco.visibility import visible_entities

        sim = self._require()
        return {sim.entities[k].object_id for k in visible_entities(sim, max_distance)}

    # ------------------------------------------------------------------ rendering
    def set_perturbation(self, perturbation: Perturbation | None = None, **kwargs) -> None:
        """Set the visual perturbation (a :class:`Perturbation`, or its fields as kwargs);
        ``set_perturbation()`` restores the original look."""
        p = perturbation or Perturbation(**kwargs)
        self._perturbation = p
        self._noise_rng = np.random.default_rng(p.seed)
        if self._appearance is not None:
            self._appearance.apply(p)

    def _render_hw(self) -> tuple[int, int]:
        """(H, W) of the offscreen buffer: large enough for both cameras."""
        nav, manip = self.config.nav_size, self.config.manip_size
        return max(nav[0], manip[0]), max(nav[1], manip[1])

    def render(self, camera: str = "nav") -> np.ndarray:
        sim = self._require()
        if camera not in ("nav", "manip"):
            raise ValueError(f"camera must be 'nav' or 'manip', got {camera!r}")
        h, w = self.config.nav_size if camera == "nav" else self.config.manip_size
        if self._renderer is None:
            buf_h, buf_w = self._render_hw()
            self._renderer = OffscreenRenderer(buf_w, buf_h)
            self._renderer.bind(sim.model)
        cam = sim.nav_cam if camera == "nav" else sim.manip_cam
        frame = self._renderer.render(sim.data, cam, w, h)
        p = self._perturbation
        if p.blur or p.camera_noise:
            frame = postprocess(frame, p, self._noise_rng)
        return frame

    def close(self) -> None:
        """Free the OpenGL context and the scene; ``reset`` may be called again after."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._sim = None
        self._scene_key = None
        self._cache.clear()


def _rotz(yaw_deg: float) -> np.ndarray:
    t = math.radians(yaw_deg)
    return np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
