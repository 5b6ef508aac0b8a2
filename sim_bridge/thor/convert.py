"""AI2-THOR event metadata -> the backend protocol's plain data (pure functions, no Unity).

Frames: THOR is Unity's left-handed, y-up frame (x right, y up, z forward). Ours is right-handed,
z up. A THOR point ``(x, y, z)`` is our ``(x, z, y)`` (swapping two axes flips the handedness,
so no sign changes are needed). The same permutation is applied to sizes and to the per-axis
Euler angles of objects (which the cost model only compares before/after).

Yaw: THOR's ``rotation.y`` ``theta`` turns clockwise seen from above, 0 = facing THOR +z, so the
heading is ``(sin theta, cos theta)`` in THOR (x, z) = our (x, y). Ours is ``(cos psi, sin psi)``
with psi counter-clockwise from +x, hence ``psi = 90 - theta`` (wrapped to (-180, 180]).
``RotateAgent(degrees=+30)`` (rotate right) thus lowers our yaw by 30, as the action table says.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from safevla_core.safety_spec import SAFETY_SPEC, SafetySpec
from sim_bridge.backend import AgentState, FreeSpace, ObjectState

# Offset of the Stretch lift joint's root-relative height from the MoveArm target frame (the
# value the benchmark's Stretch controller subtracts; THOR build 966bd77...).
STRETCH_LIFT_OFFSET_M = 0.16297650337219238
WRIST_JOINT = "stretch_robot_wrist_2_jnt"


def thor_to_world(v: Mapping[str, float]) -> np.ndarray:
    """THOR ``{"x", "y", "z"}`` -> our ``[x, y, z]`` = ``[x_T, z_T, y_T]``."""
    return np.array([float(v["x"]), float(v["z"]), float(v["y"])])


def world_to_thor(p: Iterable[float], height: float = 0.0) -> dict[str, float]:
    """Our ``(x, y[, z])`` -> THOR ``{"x": x, "y": z or height, "z": y}``."""
    q = [float(c) for c in p]
    return {"x": q[0], "y": q[2] if len(q) > 2 else float(height), "z": q[1]}


def wrap_deg(a: float) -> float:
    """Angle in (-180, 180]."""
    r = math.fmod(float(a) + 180.0, 360.0)
    r = r + 360.0 if r <= 0 else r
    return r - 180.0


def thor_yaw_to_world(theta_deg: float) -> float:
    """``psi = wrap(90 - theta)``: THOR clockwise-from-+z to our counter-clockwise-from-+x."""
    return wrap_deg(90.0 - float(theta_deg))


def world_yaw_to_thor(psi_deg: float) -> float:
    """Inverse of :func:`thor_yaw_to_world`, in [0, 360)."""
    return (90.0 - float(psi_deg)) % 360.0


def object_state(meta: Mapping[str, Any], spec: SafetySpec = SAFETY_SPEC) -> ObjectState:
    """One THOR object dict -> :class:`ObjectState`.

    ``static`` = neither pickupable nor moveable (counters, fridges, stove burners, ...);
    ``fragile`` = THOR ``breakable``; ``dangerous`` = the spec's whole-word type test;
    ``held`` = ``isPickedUp``; ``size`` = the axis-aligned box extent (zeros if absent).
    """
    aabb = meta.get("axisAlignedBoundingBox") or {}
    size = thor_to_world(aabb["size"]) if "size" in aabb else np.zeros(3)
    otype = str(meta["objectType"])
    return ObjectState(
        object_id=str(meta["objectId"]),
        object_type=otype,
        position=thor_to_world(meta["position"]),
        rotation=thor_to_world(meta["rotation"]),
        size=size,
        pickupable=bool(meta.get("pickupable", False)),
        fragile=bool(meta.get("breakable", False)),
        dangerous=spec.is_dangerous(otype),
        static=not (meta.get("pickupable", False) or meta.get("moveable", False)),
        is_drawer=otype == "Drawer",
        held=bool(meta.get("isPickedUp", False)),
    )


def objects_from_metadata(
    metadata: Mapping[str, Any], spec: SafetySpec = SAFETY_SPEC
) -> list[ObjectState]:
    """Every non-structural object of an event (floors, walls, doors, ... are left out)."""
    return [
        object_state(o, spec)
        for o in metadata["objects"]
        if o["objectType"] not in spec.structural_types
    ]


def stretch_arm_target(metadata: Mapping[str, Any]) -> dict[str, float] | None:
    """The Stretch arm's state in ``MoveArm``'s target frame: x (0), y (lift), z (extension).

    ``y = joints[0].rootRelativePosition.y - STRETCH_LIFT_OFFSET_M``,
    ``z = joints[-1].rootRelativePosition.z``. None when the event has no arm metadata.
    """
    arm = metadata.get("arm") or {}
    joints = arm.get("joints") or []
    if not joints:
        return None
    return {
        "x": float(joints[-1]["rootRelativePosition"]["x"]),
        "y": float(joints[0]["rootRelativePosition"]["y"]) - STRETCH_LIFT_OFFSET_M,
        "z": float(joints[-1]["rootRelativePosition"]["z"]),
    }


def stretch_wrist_yaw(metadata: Mapping[str, Any]) -> float:
    """Wrist yaw, degrees: the last joint's root-relative axis-angle ``fmod(w * y, 360)``
    (THOR reports rotations as axis ``(x, y, z)`` and angle ``w`` in degrees). 0 without arm."""
    joints = (metadata.get("arm") or {}).get("joints") or []
    if not joints:
        return 0.0
    r = joints[-1]["rootRelativeRotation"]
    return math.fmod(float(r["w"]) * float(r["y"]), 360.0)


def agent_state(metadata: Mapping[str, Any]) -> AgentState:
    """The Stretch agent -> :class:`AgentState`.

    The base stands on the ground: our ``z`` is 0 (THOR's agent ``y`` is its body height above
    the floor pivot, not needed by tasks or costs, which measure on the ground plane).
    """
    ag = metadata["agent"]
    pos = thor_to_world(ag["position"])
    pos[2] = 0.0
    arm_state = stretch_arm_target(metadata) or {"y": 0.0, "z": 0.0}
    held = (metadata.get("arm") or {}).get("heldObjects") or []
    return AgentState(
        position=pos,
        yaw_deg=thor_yaw_to_world(ag["rotation"]["y"]),
        arm_extension=arm_state["z"],
        lift_height=arm_state["y"],
        wrist_yaw_deg=stretch_wrist_yaw(metadata),
        held_object=str(held[0]) if held else None,
    )


_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_COLLIDED_WITH = re.compile(r"collided with:?\s*([^\s'\",;]+)", re.IGNORECASE)


def collision_from_metadata(metadata: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """Did the last action collide, and with which objects (object ids)?

    Collided = ``"collided"`` in the lower-cased ``errorMessage`` (the benchmark's test; arm and
    base moves report it), or a ``collided`` flag in the metadata. Names are read from
    ``collidedObjects`` when present, from quoted names in the message (the benchmark reads the
    first ``'...'``) and from ``"Collided with: X."``; each is mapped to an objectId through
    the objects' ids and names (unknown names are kept as they are, e.g. walls' game objects).
    """
    msg = str(metadata.get("errorMessage") or "")
    collided = "collided" in msg.lower() or bool(metadata.get("collided", False))
    if not collided:
        return False, []
    names: list[str] = [str(n) for n in metadata.get("collidedObjects") or []]
    names += [a or b for a, b in _QUOTED.findall(msg)]
    names += [n.rstrip(".") for n in _COLLIDED_WITH.findall(msg)]
    by_name = {}
    for o in metadata.get("objects") or []:
        by_name[str(o["objectId"]).lower()] = str(o["objectId"])
        if o.get("name"):
            by_name.setdefault(str(o["name"]).lower(), str(o["objectId"]))
    out: list[str] = []
    for n in names:
        oid = by_name.get(n.strip().lower(), n.strip())
        if oid and oid not in out:
            out.append(oid)
    return True, out


def visible_ids_from_metadata(metadata: Mapping[str, Any], max_distance: float) -> set[str]:
    """Objects THOR flags ``visible`` whose agent-to-object ``distance`` is within the limit."""
    return {
        str(o["objectId"])
        for o in metadata.get("objects") or []
        if o.get("visible") and float(o.get("distance", math.inf)) <= max_distance
    }


def free_space_from_positions(positions: Iterable[Mapping[str, float]], grid: float) -> FreeSpace:
    """``GetReachablePositions`` output -> :class:`FreeSpace` with cell size ``grid``.

    Each reachable point becomes the centre of one free cell: cell ``(i, j)`` holds THOR
    ``x = x_min + i * grid``, ``z = z_min + j * grid`` (our ``y`` = THOR ``z``).
    """
    if grid <= 0:
        raise ValueError(f"grid must be > 0 metres, got {grid!r}")
    pts = np.array([[float(p["x"]), float(p["z"])] for p in positions]).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("no reachable positions: the scene has no free floor for the agent")
    lo = pts.min(axis=0)
    ij = np.rint((pts - lo) / grid).astype(int)
    free = np.zeros(tuple(ij.max(axis=0) + 1), bool)
    free[ij[:, 0], ij[:, 1]] = True
    return FreeSpace(origin=lo - grid / 2.0, resolution=float(grid), free=free)
