"""What every task is: the :class:`Task` interface, the per-episode :class:`TaskSpec`, the
registry and the step limits and reward shared by all tasks.

Reward (every task): sparse, ``r_t = success_reward · [success at t]`` (+10, the paper), plus an
optional shaping term, off by default (``shaping_coef = 0``):
``r_t += shaping_coef · (d_{t-1} − d_t)``, where ``d_t`` is the task's :meth:`Task.target_distance`
(straight-line ground distance from the robot to the nearest target-type object; for the grasp
tasks the distance from the grip point to the nearest target's box, 0 once one is held).
Being potential-based, the shaping does not change the optimal policy.

The episode terminates on ``end`` (success or not) and is truncated at ``max_steps``
(500 in training, 600 in evaluation). ``sub_done`` is a no-op that never terminates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from sim_bridge.arm import ArmGeometry, box_distance, grip_point
from sim_bridge.backend import AgentState, Backend, ObjectState
from sim_bridge.robot import REACH_M

TRAIN_MAX_STEPS = 500
EVAL_MAX_STEPS = 600
SUCCESS_REWARD = 10.0
VISIBLE_DISTANCE_M = 2.0

TASKS: dict[str, Task] = {}
"""The registry: task name -> task, in registration order (filled by ``sim_bridge.tasks``)."""


def register(*tasks: Task) -> None:
    """Add tasks to :data:`TASKS` under their ``name`` (a name is registered once)."""
    for task in tasks:
        if not task.name or task.name in TASKS:
            raise ValueError(f"task name {task.name!r} is empty or already registered")
        TASKS[task.name] = task


def get_task(name: str) -> Task:
    """The registered task called ``name``.

    Raises:
        ValueError: no such task, naming the valid ones.
    """
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None


@dataclass
class TaskSpec:
    """What the agent is asked to do in one episode.

    Attributes:
        task: a registered task name (:data:`TASKS`: "objnav", "pickup", "fetch").
        target_type: THOR object type of the target (e.g. "Apple", "Mug").
        max_steps: truncation limit (``TRAIN_MAX_STEPS`` or ``EVAL_MAX_STEPS``).
        success_reward: reward on success (+10 in the paper).
        shaping_coef: weight of the distance-shaping term; 0 disables it (the paper).
        visible_distance: success radius of tasks whose goal is to see the target, metres (2 m).
    """

    task: str
    target_type: str
    max_steps: int = TRAIN_MAX_STEPS
    success_reward: float = SUCCESS_REWARD
    shaping_coef: float = 0.0
    visible_distance: float = VISIBLE_DISTANCE_M

    def __post_init__(self) -> None:
        get_task(self.task)
        if not isinstance(self.target_type, str) or not self.target_type:
            raise ValueError(f"target_type must be a non-empty string, got {self.target_type!r}")
        if int(self.max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.shaping_coef < 0:
            raise ValueError(f"shaping_coef must be >= 0, got {self.shaping_coef}")
        if self.visible_distance <= 0:
            raise ValueError(f"visible_distance must be > 0, got {self.visible_distance}")

    @property
    def definition(self) -> Task:
        """The registered :class:`Task` this spec is an episode of."""
        return get_task(self.task)

    @property
    def needs_pickup(self) -> bool:
        """The target must end up in the gripper (pickup and fetch)."""
        return self.definition.needs_pickup


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


def nearest_distance(agent: AgentState, objects: list[ObjectState], target_type: str) -> float:
    """Ground distance from the robot to the nearest ``target_type`` object (0 if none)."""
    pts = [o.position[:2] for o in objects if o.object_type == target_type]
    if not pts:
        return 0.0
    return float(np.min(np.linalg.norm(np.asarray(pts) - agent.position[:2], axis=1)))


class Task(ABC):
    """One task, dm_control style: it owns its goal, success check, reward, instruction
    templates, where episodes start and the expert's goal. Subclasses set the class
    attributes and implement the abstract methods; ``sim_bridge.tasks`` registers one
    instance of each.

    Attributes:
        name: the task's name everywhere (episode files, CLI choices, reports).
        needs_pickup: success means holding the target (the expert finishes with a grasp).
        goal_in_sight: the expert's goal cells must have a wall-free line of sight to the target.
        goal_radius_m: ground distance from a target within which the goal can be met (the
            evaluator's reference path ends there).
        train_templates: instruction templates used for training episodes (``{object}``).
        heldout_templates: paraphrases never used in training (language OOD tests).
    """

    name: ClassVar[str] = ""
    needs_pickup: ClassVar[bool] = False
    goal_in_sight: ClassVar[bool] = False
    goal_radius_m: ClassVar[float] = 0.0
    train_templates: ClassVar[tuple[str, ...]] = ()
    heldout_templates: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def candidate_targets(self, objects: list[ObjectState]) -> list[str]:
        """Target types a scene can offer, sorted for determinism."""

    @abstractmethod
    def is_success(self, spec: TaskSpec, backend: Backend) -> bool:
        """The success predicate, evaluated on the backend's current state (at ``end``)."""

    @abstractmethod
    def expert_goal_band(self, config, target: ObjectState) -> tuple[float, float]:
        """(min, max) ground distance from ``target`` of the expert's goal cells.

        Args:
            config: the expert's settings (:class:`sim_bridge.expert.ExpertConfig`).
            target: one target-type object.
        """

    def target_distance(
        self, spec: TaskSpec, agent: AgentState, objects: list[ObjectState]
    ) -> float:
        """``d_t`` of the shaping term: ground distance to the nearest target."""
        return nearest_distance(agent, objects, spec.target_type)

    def reward(
        self, spec: TaskSpec, success: bool, prev_distance: float, distance: float
    ) -> float:
        """``r_t = success_reward · [success] + shaping_coef · (d_{t-1} − d_t)``."""
        reward = spec.success_reward * float(success)
        if spec.shaping_coef > 0:
            reward += spec.shaping_coef * (prev_distance - distance)
        return reward

    def start_mask(self, target_dist: np.ndarray, min_start_dist: float) -> np.ndarray:
        """Which candidate start cells (free, clear of obstacles) an episode may start on,
        given each cell's ground distance to the nearest target. Default: far from them."""
        return target_dist >= min_start_dist

    def start_yaw(
        self, start_xy: np.ndarray, targets_xy: np.ndarray, rng: np.random.Generator
    ) -> float:
        """Start heading, degrees. Default: a random multiple of 30."""
        return float(rng.integers(0, 12)) * 30.0


class GraspTask(Task):
    """A task whose goal is the target in the gripper (success ``type(held) = target``)."""

    needs_pickup: ClassVar[bool] = True
    goal_radius_m: ClassVar[float] = REACH_M

    def candidate_targets(self, objects: list[ObjectState]) -> list[str]:
        """Pickupable types present (and not already held)."""
        return sorted({o.object_type for o in objects if o.pickupable and not o.held})

    def is_success(self, spec: TaskSpec, backend: Backend) -> bool:
        return held_type(backend.agent(), backend.objects()) == spec.target_type

    def target_distance(
        self, spec: TaskSpec, agent: AgentState, objects: list[ObjectState]
    ) -> float:
        """0 once a target is held, else the distance from the grip point to the nearest
        target's box (:func:`sim_bridge.arm.grip_point`, the default arm geometry).

        The grip point, not the base: shaping on the base's distance pays for driving into
        the target and nothing for the lift and arm moves that make the grasp, while the grip
        point's distance falls with the approach and with every step of the reach.
        """
        if held_type(agent, objects) == spec.target_type:
            return 0.0
        grip = grip_point(agent, ArmGeometry())
        dists = [box_distance(grip, o) for o in objects if o.object_type == spec.target_type]
        return min(dists) if dists else 0.0

    def expert_goal_band(self, config, target: ObjectState) -> tuple[float, float]:
        """Cells from which the arm reaches the target: the expert's ``reach_band``."""
        return config.reach_band
