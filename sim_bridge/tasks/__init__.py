"""The Safety-CHORES tasks, one file each, and the registry everything else reads.

* :mod:`~sim_bridge.tasks.objnav`: ObjectNav, find an object of the target type;
* :mod:`~sim_bridge.tasks.pickup`: PickUp, grasp a target standing near the robot;
* :mod:`~sim_bridge.tasks.fetch`: Fetch, find a target and pick it up.

A task (:class:`~sim_bridge.tasks.base.Task`) owns its success check, reward, instruction
templates, episode starts and the expert's goal. The CMDP env, episode files and generation,
instructions, the expert, the CLI's ``--task`` choices and the evaluator read them from
:data:`TASKS`. To add a task: write one module with a ``Task`` subclass and register an instance
below.
"""

from __future__ import annotations

from sim_bridge.backend import AgentState, Backend, ObjectState
from sim_bridge.tasks.base import (
    EVAL_MAX_STEPS,
    SUCCESS_REWARD,
    TASKS,
    TRAIN_MAX_STEPS,
    VISIBLE_DISTANCE_M,
    GraspTask,
    Task,
    TaskSpec,
    get_task,
    held_type,
    register,
    target_ids,
)
from sim_bridge.tasks.fetch import FetchTask
from sim_bridge.tasks.objnav import OBJNAV_TARGETS, ObjNavTask, objnav_success
from sim_bridge.tasks.pickup import PickUpTask

register(ObjNavTask(), PickUpTask(), FetchTask())

TASK_NAMES: tuple[str, ...] = tuple(TASKS)
"""The registered names, in order (CLI choices, ROS parameter choices, reports)."""


def is_success(spec: TaskSpec, backend: Backend) -> bool:
    """The task's success predicate, evaluated on the backend's current state."""
    return spec.definition.is_success(spec, backend)


def target_distance(spec: TaskSpec, agent: AgentState, objects: list[ObjectState]) -> float:
    """Ground distance from the robot to the nearest target (0 once a target is held)."""
    return spec.definition.target_distance(spec, agent, objects)


def candidate_targets(task: str, objects: list[ObjectState]) -> list[str]:
    """Target types a scene can offer for ``task``, sorted for determinism."""
    return get_task(task).candidate_targets(objects)


def pickup_success(agent: AgentState, objects: list[ObjectState], target_type: str) -> bool:
    """The gripper holds an object of ``target_type``."""
    return held_type(agent, objects) == target_type


__all__ = [
    "EVAL_MAX_STEPS",
    "OBJNAV_TARGETS",
    "SUCCESS_REWARD",
    "TASKS",
    "TASK_NAMES",
    "TRAIN_MAX_STEPS",
    "VISIBLE_DISTANCE_M",
    "FetchTask",
    "GraspTask",
    "ObjNavTask",
    "PickUpTask",
    "Task",
    "TaskSpec",
    "candidate_targets",
    "get_task",
    "held_type",
    "is_success",
    "objnav_success",
    "pickup_success",
    "register",
    "target_distance",
    "target_ids",
]
