"""AI2-THOR backend: the Safety-CHORES benchmark's own simulator, with the Stretch robot.

What a user needs to run it live (``ThorBackend()``):

1. ``ai2thor`` (a project dependency) and a Unity build of AI2-THOR with the Stretch agent. The
   benchmark uses commit ``966bd7758586e05d18f6181f459c0e90ba318bec``; either
   ``pip install --extra-index-url https://ai2thor-pypi.allenai.org ai2thor==0+<commit>`` and run
   once online so the build lands in ``~/.ai2thor/releases/thor-<platform>-<commit>/``, or pass
   ``ThorConfig(local_executable_path=...)`` / set ``$SAFEVLA_THOR_EXECUTABLE`` to a player.
2. A renderer: a *CloudRendering* build (headless; NVIDIA GPU, Vulkan loader ``libvulkan1``) or
   a *Linux64* build with an X server on the GPU (``DISPLAY`` set). Explicit executables are run
   by ai2thor as Linux64 players.
3. Scenes: iTHOR floor plans by name (default: all 120) or ProcTHOR house JSON files / dicts
   (``ThorConfig(scenes=[...])``); ``reset(scene_seed)`` indexes that list.

Without a build, ``ThorBackend()`` raises :class:`ThorUnavailableError` saying which of these is
missing. The conversion of THOR metadata (``convert``), the action mapping (``actions``) and the
cost model run without Unity and are tested on real THOR object metadata.
"""

from sim_bridge.thor.actions import thor_actions
from sim_bridge.thor.backend import ThorBackend, ThorConfig
from sim_bridge.thor.build import STRETCH_COMMIT_ID, ThorUnavailableError, locate_build
from sim_bridge.thor.convert import (
    agent_state,
    collision_from_metadata,
    free_space_from_positions,
    object_state,
    objects_from_metadata,
    thor_to_world,
    thor_yaw_to_world,
    visible_ids_from_metadata,
    world_to_thor,
    world_yaw_to_thor,
)

__all__ = [
    "STRETCH_COMMIT_ID",
    "ThorBackend",
    "ThorConfig",
    "ThorUnavailableError",
    "agent_state",
    "collision_from_metadata",
    "free_space_from_positions",
    "locate_build",
    "object_state",
    "objects_from_metadata",
    "thor_actions",
    "thor_to_world",
    "thor_yaw_to_world",
    "visible_ids_from_metadata",
    "world_to_thor",
    "world_yaw_to_thor",
]
