"""The explorer expert: acts only on what the camera has shown, and still finishes ObjectNav."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_scenes import episode, make_env

from safevla_core.actions import ACTION_INDEX, END
from sim_bridge.expert import MODES, Expert
from sim_bridge.explorer import ExplorerConfig
from sim_bridge.explorer_map import RevealedMap, occluder_grid
from sim_bridge.mujoco import Furniture, Layout, ObjectSpec, Wall
from sim_bridge.policies import make_policy
from sim_bridge.render import rollout

A = ACTION_INDEX
START = (1.0, 1.0, 0.0)


def three_rooms(apple_room: str) -> Layout:
    """Rooms A [0,4]², B [4,8]x[0,4] (door in x = 4) and C [0,4]x[4,8] (door in y = 4), a
    table in B and one in C, the apple on the table of ``apple_room``; the robot starts in A."""
    walls = [
        Wall((0, 0), (8, 0)),
        Wall((8, 0), (8, 4)),
        Wall((8, 4), (4, 4)),
        Wall((4, 4), (4, 8)),
        Wall((4, 8), (0, 8)),
        Wall((0, 8), (0, 0)),
        Wall((4, 0), (4, 1.5)),
        Wall((4, 2.5), (4, 4)),
        Wall((0, 4), (1.5, 4)),
        Wall((2.5, 4), (4, 4)),
    ]
    tables = {"B": (7.2, 3.2), "C": (3.2, 7.2)}
    furniture = [
        Furniture("DiningTable", xy, (0.8, 0.8, 0.75), shape="table") for xy in tables.values()
    ]
    x, y = tables[apple_room]
    return Layout(
        walls=walls,
        furniture=furniture,
        objects=[ObjectSpec("Apple", (x, y, None))],
        agent_pose=START,
    )


def _run_until_found(apple_room: str, mode: str, max_steps: int = 400):
    """Actions of expert ``mode`` until (and including) the step the apple is first in view
    within the explorer's sighting range, and that step's index."""
    env = make_env(three_rooms(apple_room), max_steps=max_steps)
    sight = ExplorerConfig().sight_range_m
    try:
        env.reset(options={"episode": episode("objnav", "Apple", START)})
        expert, actions = Expert(mode), []
        apple = next(o.object_id for o in env.backend.objects() if o.object_type == "Apple")
        for _ in range(max_steps):
            found = apple in env.backend.visible_objects(max_distance=sight)
            actions.append(expert.act(env))
            if found:
                return actions, len(actions) - 1
            _, _, _, terminated, truncated, _ = env.step(actions[-1])
            if terminated or truncated:
                break
        return actions, None
    finally:
        env.close()


def test_explorer_is_a_registered_expert_mode():
    assert "explorer" in MODES
    assert Expert("explorer").explorer is not None
    assert Expert("careful").explorer is None


def test_actions_before_the_first_sighting_ignore_where_the_target_is():
    """Moving the apple to another unseen room changes nothing until it comes into view; the
    privileged careful expert, for contrast, heads for the apple from its first step."""
    runs = {room: _run_until_found(room, "explorer") for room in ("B", "C")}
    (acts_b, found_b), (acts_c, found_c) = runs["B"], runs["C"]
    assert found_b is not None and found_c is not None, "explorer never saw the apple"
    first = min(found_b, found_c)
    assert first >= 5, "the apple should start out of view"
    assert acts_b[:first] == acts_c[:first]
    assert found_b != found_c  # one room is searched before the other
    careful = {room: _run_until_found(room, "careful")[0][:first] for room in ("B", "C")}
    assert careful["B"] != careful["C"]


def test_explorer_finds_a_target_behind_it_and_ends_successfully():
    env = make_env()  # table_room: 6 x 4 m, the apple on a table at x = 4.4
    try:
        policy = make_policy("expert:explorer")
        tr = rollout(env, episode("objnav", "Apple", (1.0, 2.0, 180.0)), policy)
    finally:
        env.close()
    assert tr.success and tr.actions[-1] == END
    assert tr.actions[0] in (A["rotate_left"], A["rotate_right"])  # looks around first
    small = sum(a in (A["rotate_left_small"], A["rotate_right_small"]) for a in tr.actions)
    assert small <= 2, "30° turns should do the steering"
    assert tr.total_cost == 0.0
    assert tr.steps < 60


def test_explorer_labels_states_another_policy_reached_then_finishes():
    """DAgger-style use: queried every step while a scripted policy drives, it keeps mapping
    what the camera shows; when it takes over it still finds the apple."""
    env = make_env()
    try:
        env.reset(options={"episode": episode("objnav", "Apple", (1.0, 2.0, 180.0))})
        expert = Expert("explorer")
        for action in [A["rotate_right"]] * 3 + [A["move_ahead"]] * 2:
            assert 0 <= expert.act(env) < len(A)
            env.step(action)
        assert expert.explorer.map.seen.sum() > 0
        done, info = False, {}
        while not done:
            _, _, _, terminated, truncated, info = env.step(expert.act(env))
            done = terminated or truncated
    finally:
        env.close()
    assert info["success"]


def test_explorer_mode_acts_as_careful_on_pickup():
    env = make_env(max_steps=150)
    ep = episode("pickup", "Apple", (3.2, 2.0, 0.0))
    try:
        careful = rollout(env, ep, make_policy("expert:careful"))
        explorer = rollout(env, ep, make_policy("expert:explorer"))
    finally:
        env.close()
    assert careful.success
    assert explorer.actions == careful.actions


def test_steady_explorer_sweeps_once_then_searches_without_the_target_position():
    """``explorer-steady`` (ExpertConfig.steady_search): off for ``explorer``; it starts with
    one 360° sweep of left turns, still ignores the unseen apple, and still finishes."""
    from sim_bridge.expert_config import ExpertConfig

    assert "explorer-steady" in MODES and Expert("explorer-steady").explorer is not None
    assert not ExpertConfig.for_mode("explorer").steady_search
    assert ExpertConfig.for_mode("explorer-steady").steady_search
    _sweeps_then_searches_blind(ExpertConfig.for_mode("explorer-steady"))
    _finishes_safely("explorer-steady", max_steps=60)


def _sweeps_then_searches_blind(cfg) -> None:
    """Mode ``cfg.mode`` starts with one 360° sweep of left turns and acts the same whichever
    room holds the (unseen) apple, until it first sees it."""
    from sim_bridge.explorer import SWEEP_TURNS

    runs = {room: _run_until_found(room, cfg.mode) for room in ("B", "C")}
    (acts_b, found_b), (acts_c, found_c) = runs["B"], runs["C"]
    assert found_b is not None and found_c is not None, f"{cfg.mode} never saw the apple"
    first = min(found_b, found_c)
    assert first > SWEEP_TURNS
    assert acts_b[:first] == acts_c[:first]
    assert acts_b[:SWEEP_TURNS] == [A["rotate_left"]] * SWEEP_TURNS


def _finishes_safely(mode: str, max_steps: int) -> None:
    """Mode ``mode`` solves the default scene's apple episode without cost, in time."""
    env = make_env()
    try:
        tr = rollout(
            env, episode("objnav", "Apple", (1.0, 2.0, 180.0)), make_policy(f"expert:{mode}")
        )
    finally:
        env.close()
    assert tr.success and tr.actions[-1] == END
    assert tr.total_cost == 0.0
    assert tr.steps < max_steps


def test_reactive_explorer_turns_right_only_toward_the_heading_in_view():
    """``explorer-reactive`` (ExpertConfig.reactive_search): the start sweep, no knowledge of
    the unseen apple, and while searching a right turn only when the best heading is the one
    30° to the right; it still finishes, safely. The steering rule itself: a field that
    descends 90° to the right turns the reactive steering left, the plain one right."""
    from sim_bridge import planner
    from sim_bridge.backend import AgentState
    from sim_bridge.expert_config import ExpertConfig
    from sim_bridge.explorer_steer import MOVE_M, steer, unit

    assert "explorer-reactive" in MODES and Expert("explorer-reactive").explorer is not None
    cfg = ExpertConfig.for_mode("explorer-reactive")
    assert cfg.reactive_search and not cfg.steady_search
    with pytest.raises(ValueError, match="exclude each other"):
        ExpertConfig(mode="explorer", steady_search=True, reactive_search=True)
    _sweeps_then_searches_blind(cfg)
    env = make_env(three_rooms("B"))
    try:
        env.reset(options={"episode": episode("objnav", "Apple", START)})
        fs = env.backend.free_space()
        # cost-to-go that falls toward -y (90° right of a robot facing +x): the best heading
        # is out of view, so the reactive rule turns left, the long way round
        ij = np.indices(fs.free.shape)
        field_ = np.where(fs.free, fs.origin[1] + (ij[1] + 0.5) * fs.resolution, np.inf)
        agent = AgentState(
            position=np.array([2.0, 2.0, 0.0]), yaw_deg=0.0, lift_height=1.0, arm_extension=0.0
        )
        cell = fs.world_to_cell(agent.position[:2])
        assert planner.in_grid(field_, cell) and np.isfinite(field_[cell])
        plain = steer(fs, field_, agent, cell, 0.85, 4.0, steady=True)
        reactive = steer(fs, field_, agent, cell, 0.85, 4.0, steady=True, right_only_in_view=True)
        assert plain == A["rotate_right"] and reactive == A["rotate_left"]
        tilted = AgentState(
            position=agent.position, yaw_deg=-60.0, lift_height=1.0, arm_extension=0.0
        )  # best heading now 30° to the right (in view) and the way ahead blocked: turn right
        for n in (1, 2):  # the landing cells of one and two moves ahead
            field_[fs.world_to_cell(agent.position[:2] + n * MOVE_M * unit(-60.0))] = np.inf
        both = {
            steer(fs, field_, tilted, cell, 0.85, 4.0, steady=True, right_only_in_view=r)
            for r in (False, True)
        }
        assert both == {A["rotate_right"]}
    finally:
        env.close()
    _finishes_safely("explorer-reactive", max_steps=80)


def _facing_east_at(x: float, y: float):
    """A robot at (x, y) facing +x, arm in and up."""
    from sim_bridge.backend import AgentState

    return AgentState(
        position=np.array([x, y, 0.0]), yaw_deg=0.0, lift_height=1.0, arm_extension=0.0
    )


def test_ahead_explorer_prefers_the_frontier_it_faces(rooms_backend):
    """``explorer-ahead`` (``frontier_turn_m``): with a frontier 1 m behind the robot and
    another 1.3 m ahead, the reactive explorer's field leads to the nearer one behind (it
    turns), the ahead explorer's to the one in front (it drives on); the mode still finishes
    its episode safely."""
    from sim_bridge import planner
    from sim_bridge.expert_config import ExpertConfig
    from sim_bridge.explorer import faced_frontier
    from sim_bridge.explorer_steer import steer

    cfg = ExpertConfig.for_mode("explorer-ahead")
    assert cfg.reactive_search and cfg.frontier_turn_m > 0
    assert ExpertConfig.for_mode("explorer-reactive").frontier_turn_m == 0
    with pytest.raises(ValueError, match="frontier_turn_m must be >= 0"):
        ExpertConfig(mode="explorer-ahead", reactive_search=True, frontier_turn_m=-1.0)
    fs = rooms_backend.free_space()
    agent = _facing_east_at(2.0, 2.0)
    frontier = np.zeros(fs.free.shape, bool)
    for x in (1.0, 3.3):  # behind, ahead
        assert fs.free[fs.world_to_cell(np.array([x, 2.0]))]
        frontier[fs.world_to_cell(np.array([x, 2.0]))] = True
    cost = np.ones(fs.free.shape)
    here = fs.world_to_cell(agent.position[:2])
    nearest = planner.cost_to_go(fs.free, cost, frontier, fs.resolution)  # reactive
    faced = faced_frontier(fs, cost, agent, frontier, here, cfg.frontier_turn_m)
    assert faced[fs.world_to_cell(np.array([3.3, 2.0]))] and faced.sum() == 1
    ahead = planner.cost_to_go(fs.free, cost, faced, fs.resolution)
    actions = {
        name: steer(fs, field_, agent, here, 0.85, 4.0, steady=True)
        for name, field_ in (("explorer-reactive", nearest), ("explorer-ahead", ahead))
    }
    # a small turn cost still takes the nearer frontier behind
    behind = faced_frontier(fs, cost, agent, frontier, here, 0.1)
    assert behind[fs.world_to_cell(np.array([1.0, 2.0]))]
    assert actions == {"explorer-reactive": A["rotate_left"], "explorer-ahead": A["move_ahead"]}
    _finishes_safely("explorer-ahead", max_steps=80)


def test_steering_options_hold_the_near_ties_and_only_those(rooms_backend):
    """:func:`steer_options`: its action is :func:`steer`'s; with ``band`` 0 it is the only
    option; a field whose best heading is out of view to the right gives the reactive rule's
    left turn and the shorter right turn (not moving: no descent ahead); a field that descends
    30° to the left of the heading, near the threshold of driving on, gives both driving on and
    the turn toward it, never the turn away."""
    from sim_bridge.explorer_steer import steer, steer_options

    fs = rooms_backend.free_space()
    xy = fs.origin + (np.indices(fs.free.shape).transpose(1, 2, 0) + 0.5) * fs.resolution
    agent = _facing_east_at(2.0, 2.0)
    cell = fs.world_to_cell(agent.position[:2])

    def descending_toward(deg: float) -> np.ndarray:
        d = np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))])
        return np.where(fs.free, 10.0 - xy @ d, np.inf)

    left, right, ahead = A["rotate_left"], A["rotate_right"], A["move_ahead"]
    for field_, steady, reactive, want in [
        (descending_toward(-90.0), True, True, {left, right}),
        (descending_toward(-90.0), True, False, {right}),
        (descending_toward(30.0), False, False, {ahead, left}),
        (descending_toward(30.0), False, True, {ahead, left}),
    ]:
        args = (fs, field_, agent, cell, 0.85)
        action, options = steer_options(*args, steady, reactive, fine_deg=4.0, band=0.15)
        assert action == steer(*args, 4.0, steady=steady, right_only_in_view=reactive)
        assert action in options and options == want, (steady, reactive, options)
        bare = steer_options(*args, steady, reactive, fine_deg=4.0, band=0.0)
        assert bare == (action, frozenset([action]))
    assert steer_options(fs, descending_toward(-90.0), agent, cell, 0.85, True, True)[0] == left


@pytest.fixture(scope="module")
def rooms_backend():
    env = make_env(three_rooms("B"))
    env.reset(options={"episode": episode("objnav", "Apple", START)})
    yield env.backend
    env.close()


def _cell_angles(fs, pos):
    ij = np.indices(fs.free.shape).reshape(2, -1).T
    xy = fs.origin + (ij + 0.5) * fs.resolution - pos
    return np.linalg.norm(xy, axis=1), np.degrees(np.arctan2(xy[:, 1], xy[:, 0]))


def test_revealed_map_grows_only_inside_the_field_of_view(rooms_backend):
    fs, objects = rooms_backend.free_space(), rooms_backend.objects()
    occ = occluder_grid(fs, objects, clearance=0.25, see_over_m=1.2)
    hfov, max_range = 59.0, 3.0
    rmap = RevealedMap(fs, occ, hfov, max_range)
    pos = np.array([2.0, 2.0])
    dist, bearing = _cell_angles(fs, pos)
    tol = math.degrees(fs.resolution / 0.5)  # a cell's half-diagonal seen from 0.5 m
    for yaw in (0.0, 30.0, 150.0):
        before = rmap.seen.copy()
        assert rmap.observe(pos, yaw) > 0
        new = (rmap.seen & ~before).ravel()
        off = np.abs((bearing - yaw + 180.0) % 360.0 - 180.0)
        far = dist > 0.5  # near the camera the cell size dominates the angle
        assert np.all(off[new & far] <= hfov / 2 + tol)
        assert np.all(dist[new] <= max_range + fs.resolution)
    # facing the wall x = 4 below the door: nothing of room B behind it is revealed
    before = rmap.seen.copy()
    rmap.observe(np.array([3.0, 0.6]), -20.0)
    xs = fs.origin[0] + (np.arange(fs.free.shape[0]) + 0.5) * fs.resolution
    assert not (rmap.seen & ~before)[xs > 4.3].any()
    # a closer look keeps only what was seen from near enough
    rmap.set_range(1.0)
    assert rmap.seen.sum() < before.sum()


def test_explorer_config_validation():
    with pytest.raises(ValueError, match="sight_range_m"):
        ExplorerConfig(view_range_m=4.0, sight_range_m=3.0)
    with pytest.raises(ValueError, match="progress_ratio"):
        ExplorerConfig(progress_ratio=0.0)
    with pytest.raises(ValueError, match=r"option_band must be in \[0, 1\), got 1.5"):
        ExplorerConfig(option_band=1.5)


def test_revealed_map_with_memory_forgets_views_older_than_its_window(rooms_backend):
    fs, objects = rooms_backend.free_space(), rooms_backend.objects()
    occ = occluder_grid(fs, objects, clearance=0.25, see_over_m=1.2)
    pos = np.array([2.0, 2.0])
    forgetful, full = RevealedMap(fs, occ, 59.0, 3.0, 3), RevealedMap(fs, occ, 59.0, 3.0)
    for m in (forgetful, full):
        m.observe(pos, 0.0)  # east
    east = forgetful.seen.copy()
    for yaw in (90.0, 180.0):  # two more views: the east one is still within the last 3
        for m in (forgetful, full):
            m.observe(pos, yaw)
        assert (forgetful.seen & east).sum() == east.sum()
    for m in (forgetful, full):
        m.observe(pos, 270.0)  # the fourth view pushes the first out
    assert forgetful.seen.sum() < full.seen.sum()
    lost = east & ~forgetful.seen
    assert lost.sum() > 0.5 * east.sum()  # most of the east view is forgotten ...
    assert full.seen[lost].all()  # ... which the map without memory keeps
    with pytest.raises(ValueError, match="memory_steps"):
        RevealedMap(fs, occ, 59.0, 3.0, -1)


def test_recent_explorer_forgets_a_sighting_its_memory_no_longer_holds():
    """``explorer-recent`` (memory_steps 32) and ``explorer-reactive`` label the same states:
    both see the apple; after the robot turns away and 32 more steps pass without it in view,
    only the reactive one still knows of it, and the recent one's map holds less floor."""
    env = make_env(three_rooms("B"))
    try:
        env.reset(options={"episode": episode("objnav", "Apple", START)})
        apple = next(o.object_id for o in env.backend.objects() if o.object_type == "Apple")
        recent, full = Expert("explorer-recent"), Expert("explorer-reactive")
        assert recent.config.memory_steps == 32 and full.config.memory_steps == 0
        for _ in range(400):  # the reactive explorer drives until both have seen the apple
            action = full.act(env)
            recent.act(env)
            if apple in recent.explorer.seen_ids:
                break
            env.step(action)
        assert apple in recent.explorer.seen_ids and apple in full.explorer.seen_ids
        for _ in range(6):  # turn around: the apple leaves the view
            env.step(A["rotate_left"])
            full.act(env)
            recent.act(env)
        held = recent.explorer.map.seen.sum()
        for _ in range(32):  # stand still, facing away, for the whole memory
            full.act(env)
            recent.act(env)
        assert apple not in env.backend.visible_objects(max_distance=10.0)
        assert apple in full.explorer.seen_ids
        assert apple not in recent.explorer.seen_ids
        assert recent.explorer.map.seen.sum() < held < full.explorer.map.seen.sum()
    finally:
        env.close()


def test_memory_steps_validation_and_the_recent_mode_memory():
    from sim_bridge.expert_config import ExpertConfig

    with pytest.raises(ValueError, match="memory_steps"):
        ExpertConfig(mode="explorer", memory_steps=-1)
    assert ExpertConfig.for_mode("explorer-recent").memory_steps == 32
    expert = Expert("explorer-recent:64")
    assert expert.config.memory_steps == 64 and expert.config.reactive_search
    assert expert.explorer is not None and expert.mode == "explorer-recent:64"
    with pytest.raises(ValueError, match="explorer-recent:N"):
        Expert("explorer-reactive:64")
