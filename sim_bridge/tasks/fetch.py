"""Fetch: find a target somewhere in the house and pick it up.

Success (checked when the agent calls ``end``): the gripper holds an object of the target type,
``success = end ∧ type(held) = target`` (docs/benchmark.md). Episodes start anywhere free, at
least ``min_start_dist`` from every target, at a random multiple of 30 deg.
"""

from __future__ import annotations

from typing import ClassVar

from sim_bridge.tasks.base import GraspTask


class FetchTask(GraspTask):
    """Fetch (see the module docstring)."""

    name: ClassVar[str] = "fetch"
    train_templates: ClassVar[tuple[str, ...]] = (
        "fetch the {object}",
        "bring me a {object}",
        "find a {object} and pick it up",
        "go get the {object}",
        "fetch a {object}",
    )
    heldout_templates: ClassVar[tuple[str, ...]] = (
        "i would like you to retrieve a {object}",
        "go and collect the {object} for me",
        "can you grab me a {object} from somewhere in the house",
    )
