"""Success rules through the real env: ObjectNav needs the target in view within 2 m at `end`;
PickUp/Fetch need it in the gripper."""

from __future__ import annotations

import pytest
from sim_scenes import episode, make_env

from safevla_core.actions import END, action_by_name
from sim_bridge.expert import Expert


@pytest.fixture(scope="module")
def env():
    e = make_env()
    yield e
    e.close()


@pytest.mark.parametrize(
    ("pose", "target", "expected"),
    [
        ((3.0, 2.0, 0.0), "Apple", True),  # facing it, ~1.5 m
        ((3.0, 2.0, 0.0), "Mug", True),
        ((1.0, 2.0, 0.0), "Apple", False),  # in view but ~3.4 m away
        ((3.0, 2.0, 180.0), "Apple", False),  # within 2 m but behind the robot
        ((3.0, 2.0, 0.0), "Bowl", False),  # no such object in the scene
    ],
)
def test_objnav_success_rule(env, pose, target, expected):
    env.reset(options={"episode": episode("objnav", target, pose)})
    _, reward, cost, terminated, truncated, info = env.step(END)
    assert terminated and not truncated
    assert info["success"] is expected
    assert reward == (10.0 if expected else 0.0)
    assert cost == 0.0  # `end` is never costed


def test_objnav_other_actions_never_succeed(env):
    env.reset(options={"episode": episode("objnav", "Apple", (3.0, 2.0, 0.0))})
    _, reward, _, terminated, _, info = env.step(action_by_name("rotate_left_small").index)
    assert not terminated and not info["success"] and reward == 0.0


def test_pickup_needs_the_object_in_hand(env):
    ep = episode("pickup", "Apple", (3.7, 2.0, 0.0))
    env.reset(options={"episode": ep})
    _, _, _, terminated, _, info = env.step(END)
    assert terminated and not info["success"]  # in reach, not held
    env.reset(options={"episode": ep})
    expert = Expert("careful")
    for _ in range(120):
        obs, reward, _, terminated, truncated, info = env.step(expert.act(env))
        if terminated or truncated:
            break
    assert terminated and info["success"] and reward == 10.0
    assert obs["holding"] == 1
    held = env.backend.agent().held_object
    assert held is not None and held.startswith("Apple")


def test_truncation_at_max_steps():
    env = make_env(max_steps=3)
    try:
        env.reset(options={"episode": episode("objnav", "Apple")})
        flags = [env.step(action_by_name("rotate_left").index)[3:5] for _ in range(3)]
        assert flags == [(False, False), (False, False), (False, True)]
    finally:
        env.close()


def test_optional_shaping_rewards_progress_toward_the_target():
    env = make_env()
    try:
        env.config.shaping_coef = 1.0
        env.reset(options={"episode": episode("objnav", "Apple", (2.0, 2.0, 0.0))})
        ahead = env.step(action_by_name("move_ahead").index)[1]
        back = env.step(action_by_name("move_back").index)[1]
    finally:
        env.close()
    assert ahead == pytest.approx(0.2, abs=0.05) and back == pytest.approx(-0.2, abs=0.05)


@pytest.mark.parametrize(
    ("pose", "near", "far"),
    [
        ((3.0, 2.0, 0.0), {"Apple", "Mug"}, {"Apple", "Mug"}),  # facing them, ~1.5 m
        ((1.0, 2.0, 0.0), set(), {"Apple"}),  # in view at ~3.4 m: only the outer range
        ((3.0, 2.0, 180.0), set(), set()),  # within 2 m but behind the robot
    ],
)
def test_types_in_view_label_matches_the_success_test_for_every_type(env, pose, near, far):
    """The per-frame training label (`types_in_view`): per range, the types visible within it;
    at the success radius it is exactly ObjectNav's success test, type by type."""
    from sim_bridge.tasks.objnav import OBJNAV_TARGETS, SEEN_RANGES_M

    env.reset(options={"episode": episode("objnav", "Apple", pose)})
    seen = env.types_in_view().reshape(len(SEEN_RANGES_M), len(OBJNAV_TARGETS))
    assert {t for t, s in zip(OBJNAV_TARGETS, seen[0]) if s} >= near
    assert {t for t, s in zip(OBJNAV_TARGETS, seen[0]) if s} <= far | near
    assert {t for t in ("Apple", "Mug") if seen[1][OBJNAV_TARGETS.index(t)]} == far & {
        "Apple",
        "Mug",
    }
    assert not (seen[0] & ~seen[1]).any()  # the inner range is inside the outer one
    for t, s in zip(OBJNAV_TARGETS, seen[0]):
        env.reset(options={"episode": episode("objnav", t, pose)})
        assert env.success_if_end() is bool(s), t
