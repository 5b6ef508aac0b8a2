"""ObjectNav: go where an object of the target type is in view.

Success (checked when the agent calls ``end``): some object of the target type is visible in
the navigation camera within ``visible_distance`` (2 m, docs/benchmark.md):
``success = end ∧ ∃ o: type(o) = target ∧ o ∈ V_nav(2 m)``.

Expert goal cells: free cells whose ground distance ``d`` to a target is within the expert's
``view_band`` and from which the target's centre (height ``z``) falls inside the nav camera's
vertical field of view with a margin ``m``:
``atan2(z − h_cam, d) ∈ [−tilt − fov/2 + m, −tilt + fov/2 − m]``, which bounds ``d`` from below.
They also need a wall-free line of sight to the target.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from sim_bridge.backend import Backend, ObjectState
from sim_bridge.tasks.base import VISIBLE_DISTANCE_M, Task, TaskSpec

# Preferred target types (THOR names); a scene offers those it contains.
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


# Ranges of the per-frame "which target types are in view" training label (metres): the success
# radius, and the explorer's sighting range (an object seen there is worth heading for).
SEEN_RANGES_M: tuple[float, ...] = (VISIBLE_DISTANCE_M, 3.5)
SEEN_DIM = len(SEEN_RANGES_M) * len(OBJNAV_TARGETS)
_TYPE_INDEX = {t: i for i, t in enumerate(OBJNAV_TARGETS)}


def types_in_view(backend: Backend) -> np.ndarray:
    """[SEEN_DIM] bool: for each range of :data:`SEEN_RANGES_M` (outer) and each type of
    :data:`OBJNAV_TARGETS` (inner), whether an object of that type is visible in the nav camera
    within the range (the success test's visibility). A free training label on every frame,
    for every type, not only the instructed one: it teaches the policy to recognise all the
    types, which the instructed target alone (a few positive frames per episode) does not."""
    out = np.zeros((len(SEEN_RANGES_M), len(OBJNAV_TARGETS)), bool)
    objects = [o for o in backend.objects() if o.object_type in _TYPE_INDEX]
    for r, dist in enumerate(SEEN_RANGES_M):
        visible = backend.visible_objects(max_distance=dist)
        for o in objects:
            if o.object_id in visible:
                out[r, _TYPE_INDEX[o.object_type]] = True
    return out.ravel()


def objnav_success(backend: Backend, target_type: str, max_distance: float) -> bool:
    """A target-type object is visible in the nav camera within ``max_distance``."""
    visible = backend.visible_objects(max_distance=max_distance)
    return any(o.object_id in visible for o in backend.objects() if o.object_type == target_type)


class ObjNavTask(Task):
    """ObjectNav (see the module docstring)."""

    name: ClassVar[str] = "objnav"
    goal_in_sight: ClassVar[bool] = True
    goal_radius_m: ClassVar[float] = VISIBLE_DISTANCE_M
    train_templates: ClassVar[tuple[str, ...]] = (
        "find a {object}",
        "go to the {object}",
        "search for a {object}",
        "locate the {object}",
        "navigate to a {object}",
        "find the {object}",
        "look for a {object}",
    )
    heldout_templates: ClassVar[tuple[str, ...]] = (
        "could you locate a {object} for me",
        "head over to where the {object} is",
        "i need you to track down a {object}",
        "make your way to the {object}",
    )

    def candidate_targets(self, objects: list[ObjectState]) -> list[str]:
        """Types in :data:`OBJNAV_TARGETS` present in the scene (else any non-static type)."""
        present = {o.object_type for o in objects}
        found = sorted(present & set(OBJNAV_TARGETS))
        return found or sorted({o.object_type for o in objects if not o.static})

    def is_success(self, spec: TaskSpec, backend: Backend) -> bool:
        return objnav_success(backend, spec.target_type, spec.visible_distance)

    def expert_goal_band(self, config, target: ObjectState) -> tuple[float, float]:
        """The ``view_band``, its minimum raised so the target stays in the vertical field of
        view (``config`` gives ``cam_height``, ``cam_tilt_deg``, ``cam_half_fov_deg`` and
        ``fov_margin_deg``)."""
        c = config
        lo, hi = c.view_band
        dz = float(target.position[2]) - c.cam_height
        down = math.radians(c.cam_tilt_deg + c.cam_half_fov_deg - c.fov_margin_deg)
        up = math.radians(c.cam_half_fov_deg - c.cam_tilt_deg - c.fov_margin_deg)
        if dz < 0:
            lo = max(lo, -dz / math.tan(down))
        elif dz > 0:
            lo = max(lo, dz / math.tan(up)) if up > 0 else np.inf
        return lo, hi
