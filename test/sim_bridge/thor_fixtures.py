"""Real AI2-THOR object metadata (from the procthor wheel) wrapped into ``ai2thor.server.Event``s.

The objects are THOR's own metadata for the iTHOR rooms; only the agent / arm part of each event
is written here (it is not in that file), in the Stretch agent's metadata layout.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
from pathlib import Path

import numpy as np
from ai2thor.server import Event

from sim_bridge.thor.convert import STRETCH_LIFT_OFFSET_M

# Located without importing procthor (its databases module loads every file at import).
_PROCTHOR = Path(importlib.util.find_spec("procthor").submodule_search_locations[0])
METADATA_FILE = _PROCTHOR / "databases" / "ai2thor-object-metadata.json"


@functools.lru_cache(maxsize=1)
def real_rooms() -> dict[str, list[list[dict]]]:
    """``{"kitchens": [objects of room 0, ...], "living_rooms": ..., ...}`` (read once)."""
    return json.loads(METADATA_FILE.read_text())


def room_objects(kind: str, index: int) -> list[dict]:
    """A deep copy of one real room's object list."""
    return copy.deepcopy(real_rooms()[kind][index])


def stretch_arm(lift: float = 0.5, ext: float = 0.1, wrist: float = 0.0, held=()) -> dict:
    """Arm metadata in the Stretch layout (lift joint first, wrist_2 joint last)."""

    def joint(name, y, z, w=0.0):
        return {
            "name": name,
            "position": {"x": 0.0, "y": y, "z": z},
            "rootRelativePosition": {"x": 0.0, "y": y, "z": z},
            "rootRelativeRotation": {"x": 0.0, "y": 1.0, "z": 0.0, "w": w},
        }

    return {
        "joints": [
            joint("stretch_robot_lift_jnt", lift + STRETCH_LIFT_OFFSET_M, 0.0),
            joint("stretch_robot_arm_1_jnt", lift, 0.0),
            joint("stretch_robot_wrist_1_jnt", lift, ext),
            joint("stretch_robot_wrist_2_jnt", lift, ext, wrist),
        ],
        "heldObjects": list(held),
        "pickupableObjects": [],
        "handSphereCenter": {"x": 0.0, "y": lift, "z": ext},
        "handSphereRadius": 0.06,
    }


def make_event(
    objects: list[dict],
    agent_xz=(0.0, 0.0),
    yaw: float = 0.0,
    error: str = "",
    success: bool = True,
    arm: dict | None = None,
    action: str = "MoveAgent",
) -> Event:
    """A THOR event with these objects and a Stretch agent at THOR ``(x, 0.9, z)``."""
    meta = {
        "screenWidth": 396,
        "screenHeight": 224,
        "objects": objects,
        "agent": {
            "position": {"x": float(agent_xz[0]), "y": 0.9, "z": float(agent_xz[1])},
            "rotation": {"x": 0.0, "y": float(yaw), "z": 0.0},
            "cameraHorizon": 0.0,
        },
        "arm": arm if arm is not None else stretch_arm(),
        "lastAction": action,
        "lastActionSuccess": success,
        "errorMessage": error,
        "actionReturn": None,
    }
    return Event(meta)


def find(objects: list[dict], object_type: str) -> dict:
    return next(o for o in objects if o["objectType"] == object_type)


def shift(objects: list[dict], object_id: str, dx=0.0, dy=0.0, dz=0.0, drot=None) -> list[dict]:
    """Copy of ``objects`` where one object moved by THOR ``(dx, dy, dz)`` (and turned)."""
    out = copy.deepcopy(objects)
    o = next(o for o in out if o["objectId"] == object_id)
    for k, d in zip("xyz", (dx, dy, dz)):
        o["position"][k] += d
    if drot is not None:
        for k, d in zip("xyz", drot):
            o["rotation"][k] += d
    return out


def thor_xz(o: dict) -> np.ndarray:
    return np.array([o["position"]["x"], o["position"]["z"]])
