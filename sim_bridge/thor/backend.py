"""``ThorBackend``: the backend protocol on a live AI2-THOR controller with the Stretch agent.

Everything THOR-specific that does not need Unity (metadata conversion, action mapping, build
lookup) lives in the sibling modules and is tested without a build; this class only drives the
controller. Construction checks for a build first and raises
:class:`sim_bridge.thor.build.ThorUnavailableError` with instructions when there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safevla_core.actions import ACTIONS, ActionKind
from safevla_core.safety_spec import SAFETY_SPEC, SafetySpec
from sim_bridge.backend import AgentState, FreeSpace, ObjectState, StepOutcome
from sim_bridge.robot import NAV_CAMERA_VFOV_DEG
from sim_bridge.thor.actions import thor_actions
from sim_bridge.thor.build import DEFAULT_RELEASES_DIR, STRETCH_COMMIT_ID, locate_build
from sim_bridge.thor.convert import (
    agent_state,
    collision_from_metadata,
    free_space_from_positions,
    objects_from_metadata,
    visible_ids_from_metadata,
    world_to_thor,
    world_yaw_to_thor,
)
from sim_bridge.thor.scenes import SceneSpec, ithor_floorplans, resolve_scene

CROP_FRACTION = 6 / 396  # the benchmark crops 396 px wide frames to 384 px
# The benchmark's Stretch camera set-up after each scene load (without its random jitter):
# navigation camera pitched 27 deg, manipulation camera 33 deg, both at the configured FOV,
# gripper half open, the magnet sphere hidden.
NAV_CAMERA_PITCH_DEG = 27.0
MANIP_CAMERA_PITCH_DEG = 33.0
GRIPPER_OPENNESS = 30


@dataclass
class ThorConfig:
    """How to start AI2-THOR.

    Attributes:
        scenes: what ``scene_seed`` indexes (floor-plan names, house dicts, house JSON paths);
            default: the 120 iTHOR floor plans.
        local_executable_path: a Unity player to run instead of looking in ``releases_dir``.
        commit_id: build commit to look for (default: the benchmark's Stretch build).
        releases_dir: where ai2thor keeps downloaded builds.
        width, height: camera frame size (the benchmark: 396 x 224, cropped to 384 x 224).
        field_of_view: vertical FOV of the navigation camera, degrees.
        grid_size: ``GetReachablePositions`` spacing, metres (benchmark: 0.75 x 0.2).
        spec: the safety spec (dangerous types for converted objects).
    """

    scenes: Sequence[SceneSpec] = field(default_factory=ithor_floorplans)
    local_executable_path: str | None = None
    commit_id: str | None = STRETCH_COMMIT_ID
    releases_dir: str | Path = DEFAULT_RELEASES_DIR
    width: int = 396
    height: int = 224
    field_of_view: float = NAV_CAMERA_VFOV_DEG
    grid_size: float = 0.15
    spec: SafetySpec = SAFETY_SPEC

    def __post_init__(self) -> None:
        if not self.scenes:
            raise ValueError("ThorConfig.scenes is empty; give floor plans or house JSON paths")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"frame size must be positive, got {self.width}x{self.height}")
        if not 0 < self.field_of_view < 180:
            raise ValueError(
                f"field_of_view must be in (0, 180) degrees, got {self.field_of_view}"
            )
        if self.grid_size <= 0:
            raise ValueError(f"grid_size must be > 0 metres, got {self.grid_size}")


class ThorBackend:
    """AI2-THOR Stretch backend (see the package docstring for what a user needs)."""

    name = "thor"

    def __init__(self, config: ThorConfig | None = None) -> None:
        self.config = config or ThorConfig()
        build = locate_build(
            self.config.local_executable_path, self.config.commit_id, self.config.releases_dir
        )
        from ai2thor.controller import Controller  # after the check: import is cheap, start not

        self.build = build
        if build.commit_id is not None:
            # A release under ~/.ai2thor/releases: ai2thor finds it by commit and platform.
            where: dict[str, Any] = {
                "commit_id": build.commit_id,
                "platform": _platform_class(build.platform),
            }
        else:
            # An explicit player: ai2thor runs it as an X11 (Linux64) build.
            where = {"local_executable_path": str(build.executable)}
        self._controller = Controller(
            **where,
            agentMode="stretch",
            width=self.config.width,
            height=self.config.height,
            fieldOfView=self.config.field_of_view,
            gridSize=self.config.grid_size,
            visibilityScheme="Distance",
            snapToGrid=False,
        )
        self._free: FreeSpace | None = None
        self._rng = np.random.default_rng(0)

    # -- protocol --------------------------------------------------------------------------

    def reset(self, scene_seed: int, start_pose: tuple[float, float, float] | None = None) -> None:
        """Load scene ``scene_seed`` and teleport the agent to ``(x, y, yaw_deg)`` (ours)."""
        scene = resolve_scene(self.config.scenes, scene_seed)
        self._controller.reset(scene=scene)
        self._calibrate()
        self._rng = np.random.default_rng(scene_seed)
        ev = self._controller.step(action="GetReachablePositions", gridSize=self.config.grid_size)
        self._free = free_space_from_positions(
            ev.metadata["actionReturn"] or [], self.config.grid_size
        )
        if start_pose is None:
            pts = self._free.free_points()
            xy = pts[self._rng.integers(len(pts))]
            start_pose = (float(xy[0]), float(xy[1]), float(self._rng.integers(12) * 30))
        self._teleport(start_pose)

    def _calibrate(self) -> None:
        fov = self.config.field_of_view
        calls = (
            {"action": "RotateCameraMount", "degrees": NAV_CAMERA_PITCH_DEG, "secondary": False},
            {"action": "RotateCameraMount", "degrees": MANIP_CAMERA_PITCH_DEG, "secondary": True},
            {"action": "ChangeFOV", "fieldOfView": fov, "camera": "FirstPersonCharacter"},
            {"action": "ChangeFOV", "fieldOfView": fov, "camera": "SecondaryCamera"},
            {"action": "SetGripperOpenness", "openness": GRIPPER_OPENNESS},
            {"action": "ToggleMagnetVisibility", "visible": False},
        )
        for call in calls:
            ev = self._controller.step(**call)
            if not ev.metadata["lastActionSuccess"]:
                raise RuntimeError(
                    f"THOR build {str(self.build.executable)!r} rejected {call['action']} "
                    f"({ev.metadata['errorMessage']}); it needs the Stretch agent "
                    f"(build {STRETCH_COMMIT_ID})"
                )

    def _teleport(self, pose: tuple[float, float, float]) -> None:
        height = float(self._meta()["agent"]["position"]["y"])
        ev = self._controller.step(
            action="Teleport",
            position=world_to_thor(pose[:2], height=height),
            rotation={"x": 0.0, "y": world_yaw_to_thor(pose[2]), "z": 0.0},
        )
        if not ev.metadata["lastActionSuccess"]:
            raise ValueError(
                f"start pose {tuple(pose)!r} is not reachable in this scene: "
                f"{ev.metadata['errorMessage']}"
            )

    def step(self, action: int) -> StepOutcome:
        """Run one of the 20 actions; the outcome comes from the last THOR event."""
        before = self._meta()
        calls = thor_actions(action, before)
        if not calls:
            return StepOutcome()
        ev = None
        for call in calls:
            ev = self._controller.step(**call)
        meta = ev.metadata
        collided, ids = collision_from_metadata(meta)
        picked = None
        if ACTIONS[action].kind is ActionKind.GRASP:
            held_before = set((before.get("arm") or {}).get("heldObjects") or [])
            new = [
                o for o in (meta.get("arm") or {}).get("heldObjects") or [] if o not in held_before
            ]
            picked = new[0] if new else None
        ok = bool(meta["lastActionSuccess"]) and not collided
        return StepOutcome(
            collided=collided,
            collided_with=ids,
            action_succeeded=ok,
            picked_up=picked,
            struck=collided,  # THOR reports a move that ran into something, the benchmark's test
            struck_with=ids,
        )

    def agent(self) -> AgentState:
        return agent_state(self._meta())

    def objects(self) -> list[ObjectState]:
        return objects_from_metadata(self._meta(), self.config.spec)

    def visible_objects(self, max_distance: float = 4.0) -> set[str]:
        """``GetVisibleObjects`` (navigation camera) within ``max_distance``; if the build lacks
        that action, the metadata ``visible`` flags filtered by ``distance``."""
        ev = self._controller.step(action="GetVisibleObjects", maxDistance=max_distance)
        if ev.metadata["lastActionSuccess"] and ev.metadata["actionReturn"] is not None:
            return {str(o) for o in ev.metadata["actionReturn"]}
        return visible_ids_from_metadata(self._meta(), max_distance)

    def render(self, camera: str = "nav") -> np.ndarray:
        ev = self._controller.last_event
        if camera == "nav":
            frame = ev.frame
        elif camera == "manip":
            if not ev.third_party_camera_frames:
                raise ValueError(
                    "no manipulation camera in this THOR build (third-party camera 0)"
                )
            frame = ev.third_party_camera_frames[0]
        else:
            raise ValueError(f"camera must be 'nav' or 'manip', got {camera!r}")
        cut = round(frame.shape[1] * CROP_FRACTION)
        return np.ascontiguousarray(frame[:, cut : frame.shape[1] - cut, :3])

    def free_space(self) -> FreeSpace:
        if self._free is None:
            raise RuntimeError("free_space() before reset(): call reset(scene_seed) first")
        return self._free

    def close(self) -> None:
        self._controller.stop()

    def _meta(self) -> dict[str, Any]:
        return self._controller.last_event.metadata


def _platform_class(name: str) -> Any:
    import ai2thor.platform

    return ai2thor.platform.STR_PLATFORM_MAP.get(name)
