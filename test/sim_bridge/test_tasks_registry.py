"""The task registry: one class per task, read by specs, instructions, episode generation and
the expert; a new task is one class and one registration."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from sim_bridge.backend import AgentState, ObjectState
from sim_bridge.episode_gen import GenConfig
from sim_bridge.episodes import shipped_path
from sim_bridge.expert import ExpertConfig
from sim_bridge.instructions import load_instruction_file, make_instruction, templates
from sim_bridge.robot import NAV_CAMERA_HEIGHT_M, REACH_BAND_M, REACH_M
from sim_bridge.tasks import (
    TASK_NAMES,
    TASKS,
    FetchTask,
    ObjNavTask,
    PickUpTask,
    Task,
    TaskSpec,
    get_task,
    register,
)


def thing(oid, typ, xyz, **kw) -> ObjectState:
    return ObjectState(oid, typ, np.array(xyz, float), np.zeros(3), np.full(3, 0.1), **kw)


class WaveTask(Task):
    """A made-up task: its goal is to see the target, like objnav, but from anywhere."""

    name: ClassVar[str] = "wave"
    goal_in_sight: ClassVar[bool] = True
    goal_radius_m: ClassVar[float] = 3.0
    train_templates: ClassVar[tuple[str, ...]] = ("wave at the {object}",)
    heldout_templates: ClassVar[tuple[str, ...]] = ("say hello to the {object}",)

    def candidate_targets(self, objects):
        return sorted({o.object_type for o in objects})

    def is_success(self, spec, backend):
        return True

    def expert_goal_band(self, config, target):
        return (0.0, 3.0)


@pytest.fixture
def wave():
    register(WaveTask())
    yield TASKS["wave"]
    del TASKS["wave"]


def test_registry_holds_the_three_tasks_in_order():
    assert TASK_NAMES == ("objnav", "pickup", "fetch")
    assert [type(t) for t in TASKS.values()] == [ObjNavTask, PickUpTask, FetchTask]
    assert [t.needs_pickup for t in TASKS.values()] == [False, True, True]
    assert TaskSpec("pickup", "Mug").definition is TASKS["pickup"]
    with pytest.raises(ValueError, match="unknown task 'swim'; valid tasks: objnav, pickup"):
        get_task("swim")
    with pytest.raises(ValueError, match="already registered"):
        register(ObjNavTask())


def test_a_registered_task_is_usable_everywhere_that_reads_the_registry(wave, tmp_path):
    spec = TaskSpec("wave", "Apple")
    assert spec.definition is wave and not spec.needs_pickup
    assert templates("wave", "all") == ("wave at the {object}", "say hello to the {object}")
    assert make_instruction("wave", "Bed", np.random.default_rng(0)) == "wave at the bed"
    assert GenConfig("wave").task == "wave"
    assert shipped_path("wave").name == "wave_val.jsonl.gz"
    user = tmp_path / "t.txt"
    user.write_text("wave\twave hello to the {object}\n")
    assert load_instruction_file(user) == {"wave": ("wave hello to the {object}",)}
    del TASKS["wave"]
    with pytest.raises(ValueError, match="unknown task 'wave'"):
        TaskSpec("wave", "Apple")
    register(wave)  # the fixture removes it again


def test_reward_is_sparse_success_plus_potential_shaping():
    task = get_task("objnav")
    sparse = TaskSpec("objnav", "Mug")
    assert task.reward(sparse, True, 3.0, 1.0) == 10.0
    assert task.reward(sparse, False, 3.0, 1.0) == 0.0
    shaped = TaskSpec("objnav", "Mug", shaping_coef=0.5)
    assert task.reward(shaped, False, 3.0, 1.0) == pytest.approx(1.0)
    assert task.reward(shaped, True, 1.0, 2.0) == pytest.approx(9.5)


def test_target_distance_is_zero_once_a_grasp_target_is_held():
    mug = thing("Mug|1", "Mug", (3.0, 4.0, 0.8), pickupable=True)
    free = AgentState(np.zeros(3), 0.0)
    holding = AgentState(np.zeros(3), 0.0, held_object="Mug|1")
    assert get_task("objnav").target_distance(TaskSpec("objnav", "Mug"), free, [mug]) == 5.0
    for name in ("pickup", "fetch"):
        assert get_task(name).target_distance(TaskSpec(name, "Mug"), free, [mug]) > 4.0
        assert get_task(name).target_distance(TaskSpec(name, "Mug"), holding, [mug]) == 0.0
    assert get_task("objnav").target_distance(TaskSpec("objnav", "Mug"), holding, [mug]) == 5.0


def test_grasp_tasks_measure_the_grip_point_so_the_reach_itself_is_progress():
    """The grasp tasks' shaping distance is the grip point's distance to the target's box: with
    the base standing still, extending the arm toward a target on the robot's right (the arm's
    side) and lowering the lift onto it shorten it by the distance the grip point moves, while
    ObjectNav's ground distance from the base does not change."""
    # facing +x, the arm reaches along -y; a 4 cm box 0.8 m to the right, 0.5 m up
    cup = ObjectState("Cup|1", "Cup", np.array([-0.04, -0.8, 0.5]), np.zeros(3), np.full(3, 0.04))
    spec = TaskSpec("pickup", "Cup")
    pick = get_task("pickup")

    def dist(ext: float, lift: float) -> float:
        agent = AgentState(np.zeros(3), 0.0, arm_extension=ext, lift_height=lift)
        return pick.target_distance(spec, agent, [cup])

    # grip point at (-0.04, -(0.28 + ext), lift - 0.07): level with the box at lift 0.57
    assert dist(0.0, 0.57) == pytest.approx(0.8 - 0.28 - 0.02)
    assert dist(0.2, 0.57) == pytest.approx(dist(0.0, 0.57) - 0.2)
    assert dist(0.5, 0.57) == pytest.approx(0.0, abs=1e-9)  # at the box
    assert dist(0.5, 0.87) == pytest.approx(0.3 - 0.02)  # 0.3 m above its centre
    shaped = TaskSpec("pickup", "Cup", shaping_coef=1.0)
    assert pick.reward(shaped, False, dist(0.0, 0.57), dist(0.2, 0.57)) == pytest.approx(0.2)
    objnav = get_task("objnav")
    far, near = (
        objnav.target_distance(TaskSpec("objnav", "Cup"), AgentState(np.zeros(3), 0.0, e), [cup])
        for e in (0.0, 0.2)
    )
    assert far == near


def test_candidate_targets_per_task():
    objs = [
        thing("Mug|1", "Mug", (1, 1, 1), pickupable=True),
        thing("Pen|1", "Pen", (1, 2, 1), pickupable=True, held=True),
        thing("Sofa|1", "Sofa", (3, 1, 0.4), static=True),
    ]
    assert get_task("objnav").candidate_targets(objs) == ["Mug", "Sofa"]
    assert get_task("pickup").candidate_targets(objs) == ["Mug"]
    assert get_task("fetch").candidate_targets(objs) == ["Mug"]


def test_pickup_starts_near_and_facing_the_target_fetch_anywhere():
    d = np.array([0.3, 0.8, 1.5, 3.0])
    assert get_task("pickup").start_mask(d, 2.0).tolist() == [False, True, False, False]
    assert get_task("fetch").start_mask(d, 2.0).tolist() == [False, False, False, True]
    rng = np.random.default_rng(0)
    yaw = get_task("pickup").start_yaw(np.zeros(2), np.array([[0.0, 1.0], [5.0, 0.0]]), rng)
    assert abs(yaw - 90.0) <= 30.0  # toward the nearer target, with jitter
    assert get_task("objnav").start_yaw(np.zeros(2), np.zeros((1, 2)), rng) % 30.0 == 0.0


def test_expert_goal_bands_come_from_the_task():
    cfg = ExpertConfig()
    at_eye = thing("Vase|1", "Vase", (0, 0, NAV_CAMERA_HEIGHT_M))
    assert get_task("objnav").expert_goal_band(cfg, at_eye) == cfg.view_band
    on_floor = thing("Ball|1", "BasketBall", (0, 0, 0.1))
    lo, hi = get_task("objnav").expert_goal_band(cfg, on_floor)
    # the lowest ray of the field of view (less the margin) must still hit the floor object
    down = math.radians(cfg.cam_tilt_deg + cfg.cam_half_fov_deg - cfg.fov_margin_deg)
    assert lo == pytest.approx((NAV_CAMERA_HEIGHT_M - 0.1) / math.tan(down)) and hi == 1.5
    assert get_task("pickup").expert_goal_band(cfg, on_floor) == REACH_BAND_M
    assert get_task("fetch").goal_radius_m == REACH_M == REACH_BAND_M[1]
    assert get_task("objnav").goal_radius_m == TaskSpec("objnav", "Mug").visible_distance
