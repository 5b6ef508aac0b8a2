"""The expert's scripted grasp (pickup/fetch), run once the robot stands within arm reach.

The arm reaches out to the robot's right; its grip point ``g`` for a base pose and arm state is
:func:`sim_bridge.arm.grip_point` (:class:`~sim_bridge.arm.ArmGeometry`). The grasp therefore
first turns the base so the target lies on the arm's line (``|x_obj − gx|`` small), then drives
the lift and the arm so ``g`` meets the target.

* careful: lift above the target's top (``lift_clearance``), extend, lower onto it, ``pickup``,
  lift a little, retract (done by :class:`~sim_bridge.expert.Expert` before ``end``).
* careless: lift straight to the target's height and push the arm out at that height (sweeping
  through whatever stands in between), ``pickup``.

Returns ``None`` when the grasp failed repeatedly from this spot, so the expert tries another.
"""

from __future__ import annotations

import math

from safevla_core.actions import ACTION_INDEX as A
from sim_bridge.arm import ArmGeometry, box_distance, grip_point, to_base_frame
from sim_bridge.backend import AgentState, Backend, ObjectState
from sim_bridge.robot import GRASP_RADIUS_M

A_NAMES = (
    "arm_up",
    "arm_down",
    "arm_out",
    "arm_in",
    "pickup",
    "arm_up_small",
    "arm_down_small",
    "arm_out_small",
    "arm_in_small",
    "rotate_left_small",
    "rotate_right_small",
    "rotate_left",
    "rotate_right",
)


def arm_geometry(backend: Backend) -> ArmGeometry:
    """The backend's ``arm_geometry`` attribute if it has one, else the Stretch-like default."""
    geo = getattr(backend, "arm_geometry", None)
    return geo if isinstance(geo, ArmGeometry) else ArmGeometry()


def _servo(
    err: float,
    coarse: str,
    fine: str,
    neg_coarse: str,
    neg_fine: str,
    tol: float,
    exact: bool = False,
) -> str | None:
    """Action name that reduces ``err`` (positive = needs the positive action), or None.

    Coarse (0.1) steps while ``|err| > 0.06`` -- they may overshoot by 0.04; with ``exact``
    only while ``|err| > 0.1 + tol``, so the target is approached without overshoot.
    """
    if abs(err) <= tol:
        return None
    if abs(err) > (0.1 + tol if exact else 0.06):
        return coarse if err > 0 else neg_coarse
    return fine if err > 0 else neg_fine


def _lift_to(agent: AgentState, z: float, geo: ArmGeometry, exact: bool = False) -> str | None:
    target = min(max(z + geo.gz, 0.0), geo.max_lift)
    err = target - agent.lift_height
    return _servo(err, "arm_up", "arm_up_small", "arm_down", "arm_down_small", 0.012, exact)


def _extend_to(agent: AgentState, ext: float, geo: ArmGeometry) -> str | None:
    target = min(max(ext, 0.0), geo.max_extension)
    return _servo(
        target - agent.arm_extension, "arm_out", "arm_out_small", "arm_in", "arm_in_small", 0.012
    )


def _blocked_lift(expert, agent: AgentState) -> bool:
    """The previous action lowered the lift and it did not move (something is under the arm)."""

    last = expert._last
    if last is None or last[0] not in (A["arm_down"], A["arm_down_small"]):
        return False
    return abs(agent.lift_height - expert._last_lift) < 0.005


def _blocked_arm(expert, agent: AgentState) -> bool:
    """The previous action extended the arm and it did not move."""

    last = expert._last
    if last is None or last[0] not in (A["arm_out"], A["arm_out_small"]):
        return False
    return abs(agent.arm_extension - expert._last_ext) < 0.005


def _start_retreat(expert, agent, target, geo) -> int | None:
    """Failed from this spot: careful lifts clear and retracts before leaving; both give up
    the spot (returns None once the arm is in)."""
    expert._grasp_tries = 0
    if expert.config.mode != "careful" or agent.arm_extension < 0.03:
        return None
    expert._retreat = True
    return _retreat(expert, agent, target, geo)


def _retreat(expert, agent: AgentState, target: ObjectState, geo: ArmGeometry) -> int | None:

    clear = min(target.position[2] + 0.5 * float(target.size[2]) + 0.1, geo.max_lift - geo.gz)
    last = expert._last
    stuck = (
        last is not None
        and last[0] == A["arm_up"]
        and (abs(agent.lift_height - expert._last_lift) < 0.005)
    )
    if agent.lift_height - geo.gz < clear - 0.02 and not stuck:
        return A["arm_up"]
    if agent.arm_extension > 0.03:
        return A["arm_in"]
    expert._retreat = False
    return None


def grasp_action(expert, backend: Backend, agent: AgentState, target: ObjectState) -> int | None:
    """Next grasp action for ``expert`` (an :class:`~sim_bridge.expert.Expert`), or None."""

    geo = arm_geometry(backend)
    reach = getattr(getattr(backend, "config", None), "grasp_radius", GRASP_RADIUS_M) * 0.9
    careful = expert.config.mode == "careful"
    if expert._retreat:
        return _retreat(expert, agent, target, geo)
    if expert._last is not None and expert._last[0] == A["pickup"]:
        expert._grasp_tries += 1
        if expert._grasp_tries >= 2:
            return _start_retreat(expert, agent, target, geo)
    if box_distance(grip_point(agent, geo), target) <= reach:
        return A["pickup"]
    if _blocked_lift(expert, agent):  # cannot get closer: last chance from here
        if expert._last[0] != A["pickup"]:
            return A["pickup"]
        return _start_retreat(expert, agent, target, geo)
    if _blocked_arm(expert, agent):  # the arm hit something on the way out
        return _start_retreat(expert, agent, target, geo)
    rel = to_base_frame(agent, target.position)
    if agent.arm_extension < 0.05:  # turn so the target lies on the robot's right (arm side)
        side_err = math.degrees(math.atan2(-rel[0], -rel[1]))  # 0 when straight to the right
        if abs(side_err) > 25.0:
            return A["rotate_left"] if side_err < 0 else A["rotate_right"]
    want_ext = -rel[1] - geo.gy0
    if want_ext < -0.03 or want_ext > geo.max_extension + 0.03:
        return None
    # 1. Put the target on the arm's line. Turning left by δ moves a point on the robot's
    #    right backwards by about r·δ, so a target ahead of the line needs a left turn.
    lateral_err = rel[0] - geo.gx
    # a 6° turn moves the target by r·sin 6° along the line: a tighter window would oscillate
    tol = max(0.03, 0.6 * abs(rel[1]) * math.sin(math.radians(6.0)))
    if abs(lateral_err) > tol and agent.arm_extension < 0.05:
        dyaw = math.degrees(math.atan2(lateral_err, max(-rel[1], 0.1)))
        if abs(dyaw) > 18.0:
            return A["rotate_left"] if dyaw > 0 else A["rotate_right"]
        return A["rotate_left_small"] if dyaw > 0 else A["rotate_right_small"]
    top = target.position[2] + 0.5 * float(target.size[2])
    near_face = want_ext - 0.5 * float(max(target.size[0], target.size[1]))
    if not careful:  # straight at the object's height, coarse steps (sweeps, may shove it)
        act = _lift_to(agent, target.position[2], geo) or _extend_to(agent, want_ext, geo)
        return A[act] if act else A["pickup"]
    max_grip = geo.max_lift - geo.gz
    above = top + expert.config.lift_clearance
    if above <= max_grip:  # from above: lift over it, extend over its centre, lower onto it
        if agent.arm_extension < want_ext - 0.012:
            if agent.lift_height - geo.gz < above - 0.012:
                return A[_lift_to(agent, above, geo) or "arm_up"]
            return A[_extend_to(agent, want_ext, geo) or "pickup"]
        return A[_lift_to(agent, top + 0.5 * reach, geo, exact=True) or "pickup"]
    # too tall to pass over: approach its upper part sideways in small steps, stop at the face
    act = _lift_to(agent, min(top - 0.03, max_grip), geo, exact=True)
    if act is None:
        gap = near_face - agent.arm_extension
        act = ("arm_out" if gap > 0.14 else "arm_out_small") if gap > -0.02 else "pickup"
    return A[act]
