"""The backend protocol: what every simulator (embedded MuJoCo, AI2-THOR) provides.

Everything above it -- cost model, tasks, CMDP env, expert, bridge node, trainer, evaluator --
talks to a simulator only through :class:`Backend` and the plain data types here.

Conventions (shared by all backends):
    * World frame: x, y on the ground plane, z up, metres. (AI2-THOR is y-up; its backend
      converts: THOR (x, y, z) -> ours (x, z, y).)
    * Agent yaw: degrees, 0 = facing +x, positive = counter-clockwise seen from above. The
      ``rotate_right`` action (magnitude +30) therefore *decreases* yaw.
    * Object rotations: Euler angles in degrees (x, y, z), used only for the disturbance test.
    * Images: ``uint8`` arrays ``(H, W, 3)`` RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


class BackendUnavailableError(RuntimeError):
    """A simulator cannot run on this machine (missing package, build, GPU or display); the
    message says what is missing in one line."""


@dataclass
class ObjectState:
    """One object, as the cost model and the tasks see it.

    Attributes:
        object_id: unique and stable within an episode (e.g. "Mug|3").
        object_type: THOR objectType ("Mug", "Knife", "Sofa", ...).
        position: (3,) centre of the object, metres, world frame.
        rotation: (3,) Euler angles, degrees.
        size: (3,) axis-aligned bounding-box extent, metres.
        pickupable: the gripper can pick it up.
        fragile: breakable (THOR ``breakable``).
        dangerous: in the safety spec's dangerous types (or flagged by the scene).
        static: furniture / fixtures that physics never moves (excluded from clusters).
        is_drawer: drawers/cabinet parts (excluded from clusters).
        held: currently held by the gripper.
    """

    object_id: str
    object_type: str
    position: np.ndarray
    rotation: np.ndarray
    size: np.ndarray
    pickupable: bool = False
    fragile: bool = False
    dangerous: bool = False
    static: bool = False
    is_drawer: bool = False
    held: bool = False


@dataclass
class AgentState:
    """The robot's pose and arm state.

    Attributes:
        position: (3,) base centre on the ground, metres.
        yaw_deg: heading, degrees (see module conventions).
        arm_extension: telescoping arm extension, metres from fully retracted.
        lift_height: lift height, metres above the ground.
        wrist_yaw_deg: wrist angle, degrees.
        held_object: object_id in the gripper, or None.
    """

    position: np.ndarray
    yaw_deg: float
    arm_extension: float = 0.0
    lift_height: float = 0.0
    wrist_yaw_deg: float = 0.0
    held_object: str | None = None


@dataclass
class StepOutcome:
    """What executing one action did, as measured by the simulator.

    Attributes:
        collided: the robot (base or arm) made contact with a non-floor object or wall
            during the action.
        collided_with: object_ids it touched (walls and structure included by id).
        action_succeeded: the action did what it asked (e.g. pickup grasped something,
            move was not blocked).
        picked_up: object_id grasped by this action, if any.
        struck: the action ran into something, the benchmark's "the move collided" (what
            the corner and blind-spot costs and the robot-collision log read): THOR's
            collided message; in the embedded simulator a contact that began during the
            action, or an earlier one that held the motion back or was pushed
            (``MujocoConfig.collision_rule``). A motion away from an object the robot rests
            against touches it but does not strike it.
        struck_with: the object_ids it ran into.
    """

    collided: bool = False
    collided_with: list[str] = field(default_factory=list)
    action_succeeded: bool = True
    picked_up: str | None = None
    struck: bool = False
    struck_with: list[str] = field(default_factory=list)


@dataclass
class FreeSpace:
    """The reachable ground-plane grid (the expert's map and the corner cost's input).

    Attributes:
        origin: (2,) world x, y of cell (0, 0).
        resolution: cell size, metres.
        free: bool array (nx, ny), True where the robot's base centre can stand.
    """

    origin: np.ndarray
    resolution: float
    free: np.ndarray

    def world_to_cell(self, xy: np.ndarray) -> tuple[int, int]:
        i, j = self.world_to_cells(np.asarray(xy)[None])[0]
        return int(i), int(j)

    def world_to_cells(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) int cells of N points (N, >= 2): :meth:`world_to_cell` of each."""
        return np.floor((xy[:, :2] - self.origin) / self.resolution).astype(int)

    def cell_to_world(self, i: int, j: int) -> np.ndarray:
        return self.origin + (np.array([i, j]) + 0.5) * self.resolution

    def free_points(self) -> np.ndarray:
        """(N, 2) world coordinates of the free cells' centres."""
        ij = np.argwhere(self.free)
        return self.origin + (ij + 0.5) * self.resolution


@runtime_checkable
class Backend(Protocol):
    """A simulator. Implementations: ``sim_bridge.mujoco`` (embedded) and ``sim_bridge.thor``,
    built by name through :func:`sim_bridge.backends.make_backend`."""

    name: str

    def reset(self, scene_seed: int, start_pose: tuple[float, float, float] | None = None) -> None:
        """Load (or regenerate) scene ``scene_seed`` and put the agent at ``(x, y, yaw_deg)``.

        ``None`` picks a seeded random free pose. Raises ValueError for an impossible pose.
        """

    def step(self, action: int) -> StepOutcome:
        """Execute one of the 20 actions (index into ``safevla_core.ACTIONS``)."""

    def agent(self) -> AgentState:
        """The robot's current state."""

    def objects(self) -> list[ObjectState]:
        """Every non-structural object (free and static) with its current state."""

    def visible_objects(self, max_distance: float = 4.0) -> set[str]:
        """object_ids visible in the navigation camera within ``max_distance`` metres."""

    def render(self, camera: str = "nav") -> np.ndarray:
        """RGB frame (H, W, 3) uint8 from camera ``"nav"`` or ``"manip"``."""

    def free_space(self) -> FreeSpace:
        """The reachable grid of the current scene."""

    def close(self) -> None:
        """Release renderer and simulator resources."""
