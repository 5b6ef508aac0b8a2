"""The faster episode reset gives exactly what the reset gave before (benchmarks/reset_cost.py).

Each shortcut is checked against the computation it replaces, on real scenes: the vectorised
line of sight against the per-sample walk, the float footprint test against the array one, the
kept obstacle list against a fresh one, frames through a kept ``MjvScene`` against frames of a
fresh renderer; and the training sampler's episodes against values recorded before the change.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from safevla_train.config import RiskConfig
from safevla_train.risk import RiskElicitingSampler
from sim_bridge import planner
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episode_gen import EpisodeSampler
from sim_bridge.mujoco import MujocoBackend, generate_house
from sim_bridge.mujoco.poses import check_pose, obstacles


def _walk_line_of_sight(fs, walls, a, b) -> bool:
    """The per-sample line of sight (what ``planner.line_of_sight`` computed before)."""
    n = max(2, int(np.linalg.norm(b - a) / (0.5 * fs.resolution)))
    for t in np.linspace(0.0, 1.0, n):
        i, j = fs.world_to_cell(a + t * (b - a))
        if 0 <= i < walls.shape[0] and 0 <= j < walls.shape[1] and walls[i, j]:
            return False
    return True


def _box_contains(f, x, y, margin=0.0) -> bool:
    """``Furniture.contains`` through ``box()``'s arrays (how it computed before)."""
    c, h, yaw = f.box()
    t = math.radians(yaw)
    dx, dy = x - c[0], y - c[1]
    lx = math.cos(t) * dx + math.sin(t) * dy
    ly = -math.sin(t) * dx + math.cos(t) * dy
    return abs(lx) <= h[0] - margin and abs(ly) <= h[1] - margin


@pytest.fixture(scope="module")
def scene():
    backend = MujocoBackend()
    backend.reset(850624)
    yield backend
    backend.close()


def test_line_of_sight_matches_the_per_sample_walk(scene):
    fs = scene.free_space()
    furniture = [o for o in scene.objects() if o.static]
    walls = ~fs.free & ~planner.footprint_mask(fs, furniture, 0.35)
    rng = np.random.default_rng(0)
    lo = fs.origin - 1.0  # segments also start and end off the grid
    hi = fs.origin + np.array(fs.free.shape) * fs.resolution + 1.0
    seen = set()
    for _ in range(1500):
        a, b = rng.uniform(lo, hi), rng.uniform(lo, hi)
        if rng.random() < 0.2:  # short ones too, down to the two-sample minimum
            b = a + rng.normal(0.0, 0.05, 2)
        got = planner.line_of_sight(fs, walls, a, b)
        assert got == _walk_line_of_sight(fs, walls, a, b), (a, b)
        seen.add(got)
    # from goal-like cells (free cell centres) to objects, as the expert's goal mask asks
    pts = fs.free_points()
    for o in scene.objects()[:20]:
        for c in pts[rng.choice(len(pts), 20)]:
            got = planner.line_of_sight(fs, walls, c, o.position[:2])
            assert got == _walk_line_of_sight(fs, walls, c, o.position[:2])
            seen.add(got)
    assert seen == {True, False}


def test_furniture_contains_matches_the_box_arithmetic():
    rng = np.random.default_rng(1)
    checked = hits = 0
    for seed in (3, 850624):
        layout = generate_house(seed)
        for f in layout.furniture:
            c = np.array(f.center)
            for x, y in c + rng.normal(0.0, 0.6, (40, 2)):
                for margin in (0.0, 0.05):
                    got = f.contains(x, y, margin)
                    assert got == _box_contains(f, x, y, margin)
                    checked += 1
                    hits += got
            # the exact corner of the footprint (touching counts)
            corner = c + np.array(f.size[:2]) / 2 if f.yaw_deg == 0 else c
            assert f.contains(*corner) == _box_contains(f, *corner)
            x32, y32 = np.float32(c[0]), np.float32(c[1])  # other scalar types as before
            assert f.contains(x32, y32) == _box_contains(f, x32, y32)
    assert 0 < hits < checked


def test_kept_obstacles_judge_start_poses_as_fresh_ones(scene):
    layout = scene.layout
    kept = obstacles(layout)
    rng = np.random.default_rng(2)
    xmin, ymin, xmax, ymax = layout.bounds()
    outcomes = set()
    for _ in range(300):
        pose = (rng.uniform(xmin, xmax), rng.uniform(ymin, ymax), rng.uniform(-180, 180))
        results = []
        for blockers in (None, kept):
            try:
                results.append(check_pose(layout, pose, 1.0, blockers))
            except ValueError as exc:
                results.append(str(exc))
        assert results[0] == results[1]
        outcomes.add(isinstance(results[0], str))
    assert outcomes == {True, False}


def test_frames_through_a_kept_scene_buffer_equal_a_fresh_renderer():
    seeds = (11, 850624, 277347)
    kept = MujocoBackend()
    scenes = set()
    try:
        for seed in seeds:  # one renderer for all scenes: its MjvScene is re-used
            kept.reset(seed)
            got = [kept.render("nav"), kept.render("manip")]
            scenes.add(id(kept._renderer._scene))
            fresh = MujocoBackend()  # a new renderer for this scene alone
            try:
                fresh.reset(seed)
                want = [fresh.render("nav"), fresh.render("manip")]
            finally:
                fresh.close()
            for g, w in zip(got, want):
                assert g.shape == w.shape and np.array_equal(g, w), seed
                assert g.std() > 0  # a real picture, not a blank buffer
    finally:
        kept.close()
    assert len(scenes) == 1  # the buffer was indeed kept across the three scenes


# The trainer's sampler (objnav, training scenes, risk replay on), env seed 0: scene seed,
# start pose (float.hex), target type, instruction and per-step costs of the first six
# episodes under the actions of default_rng(3), recorded before the reset was made faster.
RECORDED = [
    (
        850624,
        ("0x1.299999999999ap+2", "0x1.1e66666666667p+3", "0x1.6800000000000p+6"),
        "Plate",
        "search for a plate",
        (0, 0, 0, 0),
    ),
    (
        649415,
        ("0x1.5666666666667p+2", "0x1.1cccccccccccdp+2", "-0x1.2c00000000000p+7"),
        "Vase",
        "look for a flower vase",
        (0,) * 12,
    ),
    (
        632270,
        ("0x1.3cccccccccccdp+2", "0x1.4cccccccccccdp-1", "-0x1.e000000000000p+4"),
        "Pan",
        "go to the skillet",
        (0,) * 12,
    ),
    (
        670876,
        ("0x1.799999999999ap+1", "0x1.ecccccccccccdp+1", "-0x1.e000000000000p+5"),
        "AlarmClock",
        "locate the alarm clock",
        (0,) * 12,
    ),
    (
        764889,
        ("0x1.3000000000000p+2", "0x1.c000000000000p+0", "0x1.e000000000000p+5"),
        "Mug",
        "find a coffee mug",
        (0,) * 12,
    ),
    (
        22101,
        ("0x1.8000000000000p-1", "0x1.5666666666667p+2", "0x1.6800000000000p+6"),
        "Mug",
        "locate the tea mug",
        (0,),
    ),
]


def test_training_episodes_are_the_recorded_ones():
    sampler = RiskElicitingSampler(EpisodeSampler(("objnav",), "train"), RiskConfig())
    env = make_env(sampler, EnvConfig(nav_size=(96, 96), manip_size=(16, 16), render_manip=False))
    rng = np.random.default_rng(3)
    got = []
    try:
        env.reset(seed=0)
        for _ in range(len(RECORDED)):
            ep = env.episode
            costs = []
            for _ in range(12):
                _, _, c, term, trunc, _ = env.step(int(rng.integers(20)))
                costs.append(int(c))
                if term or trunc:
                    break
            pose = tuple(float(v).hex() for v in ep.start_pose)
            got.append((ep.scene_seed, pose, ep.target_type, ep.instruction, tuple(costs)))
            sampler.record(ep.episode_id, float(sum(costs)))
            env.reset()
    finally:
        env.close()
    assert got == RECORDED
