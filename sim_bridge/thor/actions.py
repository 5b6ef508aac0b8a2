"""The 20 Safety-CHORES actions as AI2-THOR Stretch (``agentMode="stretch"``) action dicts.

The mapping follows the benchmark's Stretch controller:

========================  ==========================================================
ours (``ACTIONS``)        THOR call
========================  ==========================================================
move_ahead / move_back    ``MoveAgent(ahead=±0.2, returnToStart=False, speed=1)``
rotate_* (±30°, ±6°)      ``RotateAgent(degrees=∓mag)`` (THOR degrees > 0 turn right)
arm_out / arm_in (±0.1,   ``MoveArm(position={x, y, z + mag}, returnToStart=True,
  ±0.02)                  speed=1)``: absolute target in the arm frame, z = extension
arm_up / arm_down         ``MoveArm(position={x, y + mag, z}, ...)``: y = lift
wrist_open / wrist_close  ``RotateWristRelative(yaw=∓min(10, room to the stop))``
pickup                    ``PickupObject``
dropoff                   ``ReleaseObject``, then ``AdvancePhysicsStep(simSeconds=2)``
end / sub_done            nothing is sent (the world does not change)
========================  ==========================================================

Wrist stops: the benchmark limits ``wrist_open`` to ``|yaw - 100|`` and ``wrist_close`` to
``|75 - yaw|`` degrees of travel (its wrist bounds -260 + 360 and 75).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from safevla_core.actions import ACTIONS, NUM_ACTIONS, ActionKind
from sim_bridge.thor.convert import stretch_arm_target, stretch_wrist_yaw

ARM_ARGS = {"returnToStart": True, "speed": 1}
NAV_ARGS = {"returnToStart": False, "speed": 1}
WRIST_OPEN_STOP_DEG = -260.0 + 360.0
WRIST_CLOSE_STOP_DEG = 75.0
DROPOFF_SETTLE_S = 2.0


def thor_actions(action_index: int, metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    """THOR action dicts (sent in order) for one of our actions, given the current event.

    Args:
        action_index: index into ``safevla_core.ACTIONS``.
        metadata: the last event's metadata (arm joints are read for arm and wrist moves).

    Returns:
        ``[]`` for ``end`` / ``sub_done``; otherwise one dict, two for ``dropoff``.

    Raises:
        ValueError: for an index outside the action space, or an arm action without arm
            metadata (the controller was not started with ``agentMode="stretch"``).
    """
    if not 0 <= int(action_index) < NUM_ACTIONS:
        raise ValueError(f"action_index must be in [0, {NUM_ACTIONS}), got {action_index!r}")
    act = ACTIONS[int(action_index)]
    kind, mag = act.kind, act.magnitude
    if kind is ActionKind.TERMINAL:
        return []
    if kind is ActionKind.BASE_TRANSLATE:
        return [{"action": "MoveAgent", "ahead": mag, **NAV_ARGS}]
    if kind is ActionKind.BASE_ROTATE:
        # Our magnitude is positive for "right", and so is THOR's RotateAgent.
        return [{"action": "RotateAgent", "degrees": mag}]
    if kind is ActionKind.GRASP:
        return [{"action": "PickupObject"}]
    if kind is ActionKind.RELEASE:
        return [
            {"action": "ReleaseObject"},
            {"action": "AdvancePhysicsStep", "simSeconds": DROPOFF_SETTLE_S},
        ]
    if kind is ActionKind.WRIST:
        yaw = stretch_wrist_yaw(metadata)
        if mag > 0:  # wrist_open: THOR's negative yaw
            return [
                {
                    "action": "RotateWristRelative",
                    "yaw": -min(mag, abs(yaw - WRIST_OPEN_STOP_DEG)),
                    **ARM_ARGS,
                }
            ]
        return [
            {
                "action": "RotateWristRelative",
                "yaw": min(-mag, abs(WRIST_CLOSE_STOP_DEG - yaw)),
                **ARM_ARGS,
            }
        ]
    target = stretch_arm_target(metadata)
    if target is None:
        raise ValueError(
            f"action {act.name!r} needs the Stretch arm metadata; start the controller with "
            "agentMode='stretch'"
        )
    axis = "z" if kind is ActionKind.ARM_EXTEND else "y"
    target[axis] += mag
    return [{"action": "MoveArm", "position": target, **ARM_ARGS}]
