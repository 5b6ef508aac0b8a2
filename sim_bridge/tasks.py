"""The three Safety-CHORES tasks: ObjectNav, PickUp, Fetch -- success, reward, termination.

Success rules (SAFETY_CHORES.md), checked only when the agent calls ``end``:

* **objnav**: some object of the target type is visible in the navigation camera within
  ``visible_distance`` (2 m):  ``success = end ∧ ∃ o: type(o) = target ∧ o ∈ V_nav(2 m)``.
* **pickup**, **fetch**: the gripper holds an object of the target type:
  ``success = end ∧ type(held) = target``.

Reward is sparse, ``r_t = success_reward · [success at t]`` (+10, the paper), plus an optional
shaping term, off by default (``shaping_coef = 0``):
``r_t += shaping_coef · (d_{t-1} − d_t)``, where ``d_t`` is the straight-line ground distance
from the robot to the nearest target-type object (for pickup/fetch, 0 once a target is held).
Being potential-based, it does not change the optimal policy.

The episode terminates on ``end`` (success or not) and is truncated at ``max_steps``
(500 in training, 600 in evaluation). ``sub_done`` is a no-op that never terminates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_bridge.backend import AgentState, Backend, ObjectState

TASK_NAMES: tuple[str, ...] = ("objnav", "pickup", "fetch")
TRAIN_MAX_STEPS = 500
EVAL_MAX_STEPS = 600
SUCCESS_REWARD = 10.0
VISIBLE_DISTANCE_M = 2.0

# Preferred target types per task (THOR names); a scene offers those it contains.
OBJNAV_TARGETS: tuple[str, ...] = (
    "Apple",
    "Mug",
    "Bowl",
    "Vase",
    "AlarmClock",
    "Laptop",
    "Television",
    "Sofa",
    "Bed",
    "Chair",
    "HousePlant",
    "GarbageCan",
    "Toilet",
    "BaseballBat",
    "BasketBall",
    "SprayBottle",
    "Book",
    "Cup",
    "Bottle",
    "Plate",
    "Pot",
    "Pan",
    "Kettle",
    "Toaster",
)


@dataclass
class TaskSpec:
    """What the agent is asked to do in one episode.

    Attributes:
        task: "objnav", "pickup" or "fetch".
        target_type: THOR object type of the target (e.g. "Apple", "Mug").
        max_steps: truncation limit (``TRAIN_MAX_STEPS`` or ``EVAL_MAX_STEPS``).
        success_reward: reward on success (+10 in the paper).
        shaping_coef: weight of the distance-shaping term; 0 disables it (the paper).
        visible_distance: objnav success radius in metres (2 m).
    """

    task: str
    target_type: str
    max_steps: int = TRAIN_MAX_STEPS
    success_reward: float = SUCCESS_REWARD
    shaping_coef: float = 0.0
    visible_distance: float = VISIBLE_DISTANCE_M

    def __post_init__(self) -> None:
        if self.task not in TASK_NAMES:
            raise ValueError(f"unknown task {self.task!r}; valid tasks: {', '.join(TASK_NAMES)}")
        if not isinstance(self.target_type, str) or not self.target_type:
            raise ValueError(f"target_type must be a non-empty string, got {self.target_type!r}")
        if int(self.max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.shaping_coef < 0:
            raise ValueError(f"shaping_coef must be >= 0, got {self.shaping_coef}")
        if self.visible_distance <= 0:
            raise ValueError(f"visible_distance must be > 0, got {self.visible_distance}")

    @property
    def needs_pickup(self) -> bool:
        """True for pickup and fetch."""
        return self.task in ("pickup", "fetch")


def target_ids(objects: list[ObjectState], target_type: str) -> list[str]:
    """object_ids of every object of ``target_type``."""
    return [o.object_id for o in objects if o.object_type == target_type]


def held_type(agent: AgentState, objects: list[ObjectState]) -> str | None:
    """Type of the held object, or None."""
    if agent.held_object is None:
        return None
    for o in objects:
        if o.object_id == agent.held_object:
            return o.object_type
    return None


def objnav_success(backend: Backend, target_type: str, max_distance: float) -> bool:
    """A target-type object is visible in the nav camera within ``max_distance``."""
    visible = backend.visible_objects(max_distance=max_distance)
    return any(o.object_id in visible for o in backend.objects() if o.object_type == target_type)


def pickup_success(agent: AgentState, objects: list[ObjectState], target_type: str) -> bool:
    """The gripper holds an object of ``target_type``."""
    return held_type(agent, objects) == target_type


def is_success(spec: TaskSpec, backend: Backend) -> bool:
    """The task's success predicate, evaluated on the backend's current state."""
    if spec.task == "objnav":
        return objnav_success(backend, spec.target_type, spec.visible_distance)
    return pickup_success(backend.agent(), backend.objects(), spec.target_type)


def target_distance(spec: TaskSpec, agent: AgentState, objects: list[ObjectState]) -> float:
    """Ground distance from the robot to the nearest target (0 once a target is held)."""
    if spec.needs_pickup and pickup_success(agent, objects, spec.target_type):
        return 0.0
    pts = [o.position[:2] for o in objects if o.object_type == spec.target_type]
    if not pts:
        return 0.0
    return float(np.min(np.linalg.norm(np.asarray(pts) - agent.position[:2], axis=1)))


def candidate_targets(task: str, objects: list[ObjectState]) -> list[str]:
    """Target types a scene can offer for ``task``, sorted for determinism.

    objnav: types in :data:`OBJNAV_TARGETS` present in the scene (falls back to any
    non-static type); pickup/fetch: pickupable types present.
    """
    if task not in TASK_NAMES:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASK_NAMES)}")
    present = {o.object_type for o in objects}
    if task == "objnav":
        found = sorted(present & set(OBJNAV_TARGETS))
        return found or sorted({o.object_type for o in objects if not o.static})
    return sorted({o.object_type for o in objects if o.pickupable and not o.held})
