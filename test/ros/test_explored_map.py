"""The explored map over ROS: the sim bridge publishes it for a bundle that reads it (the env's
map of every observation, before its frame), a policy node with such a bundle reads it and
proposes nothing without a valid one, and `safevla run --sim` wires the two."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from ros_harness import (
    drive_bridge_episode,
    frame_sender,
    run_sim_moves,
    stamp_ns,
    wait_until_up,
)
from std_msgs.msg import Header, String

from safevla_core.actions import EXPLORED_CHANNELS, EXPLORED_SHAPE, action_by_name
from safevla_core.policy_runtime import PolicyRuntime
from safevla_ros.msg import ActionProposal, ExploredMap
from safevla_ros.msg_conversions import explored_map, explored_values
from safevla_ros.params import EXPLORED_TOPIC, POLICY_PARAMS, SIM_BRIDGE_PARAMS

pytestmark = pytest.mark.ros

MAP, IMAGE, PROP = "safevla/explored", "safevla/image", "safevla/proposal"
INSTRUCTION, TEXT = "safevla/instruction", "find an apple"


def _grid(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, EXPLORED_SHAPE, dtype=np.uint8)


def test_the_message_carries_the_grid_and_a_wrong_one_is_refused():
    grid = _grid(0)
    msg = explored_map(grid, Header(frame_id="base_link"))
    assert list(msg.channels) == list(EXPLORED_CHANNELS)
    np.testing.assert_array_equal(explored_values(msg), grid)
    bad = explored_map(grid, Header())
    bad.width = 10
    with pytest.raises(ValueError, match="20x20 cells"):
        explored_values(bad)
    bad = explored_map(grid, Header())
    bad.channels = ["free", "frontier", "blocked"]
    with pytest.raises(ValueError, match="channels"):
        explored_values(bad)
    bad = explored_map(grid, Header())
    bad.data = bytes(100)
    with pytest.raises(ValueError, match="carries 100 values"):
        explored_values(bad)
    for specs in (POLICY_PARAMS, SIM_BRIDGE_PARAMS):
        assert next(s for s in specs if s.name == "explored_topic").default == EXPLORED_TOPIC
    assert EXPLORED_TOPIC == MAP


def test_sim_bridge_publishes_the_env_map_before_each_frame(nodes, probe, explored_bundle_path):
    """For a bundle that reads the map: at the episode start and after every step the env's
    ``obs["explored"]``, replayed here on the same episode; each one before the frame of the
    same observation."""
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episodes import load_episodes, shipped_path

    actions = ["rotate_left", "move_ahead", "rotate_right", "rotate_left"]
    episodes = load_episodes(shipped_path("objnav"))
    nodes(
        "sim_bridge_node",
        auto_reset=False,
        max_steps=len(actions),
        frame_rate_hz=20.0,
        bundle_path=explored_bundle_path,
        camera_width=64,
        camera_height=48,
    )
    heard = drive_bridge_episode(probe, episodes[0].episode_id, actions, MAP, ExploredMap)
    probe.spin_until(lambda: len(probe.msgs(MAP)) >= len(actions) + 1, timeout=5)
    assert heard == list(range(1, len(actions) + 1))  # frame n arrived after its map

    env = make_env(episodes, EnvConfig(nav_size=(48, 64), max_steps=8, explored_map=True))
    obs, _ = env.reset(seed=0, options={"episode": episodes[0]})
    want = [obs["explored"]]
    for name in actions:
        want.append(env.step(action_by_name(name).index)[0]["explored"])
    env.close()
    got = [explored_values(m) for m in probe.msgs(MAP)]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert got[-1][0].sum() > got[0][0].sum()  # the map grew


def test_policy_with_a_map_bundle_proposes_only_with_a_valid_map(
    nodes, probe, explored_bundle_path
):
    nodes("policy_node", bundle_path=explored_bundle_path)
    wait_until_up(probe, ["policy_node"])
    subs = lambda: dict(probe.node.get_subscriber_names_and_types_by_node("policy_node", "/"))  # noqa: E731
    assert probe.spin_until(lambda: "/" + MAP in subs(), timeout=10)
    assert subs()["/" + MAP] == ["safevla_ros/msg/ExploredMap"]
    probe.subscribe(PROP, ActionProposal)
    probe.subscribe("/diagnostics", DiagnosticArray)
    instruction = probe.latched(INSTRUCTION, String)
    instruction.publish(String(data=TEXT))
    send, pixels = frame_sender(probe, IMAGE)

    def warned(text: str) -> bool:
        return any(
            text in s.message
            for d in probe.msgs("/diagnostics")
            for s in d.status
            if s.name == "/policy_node"
        )

    assert probe.spin_until(lambda: warned("/" + MAP), timeout=20, every=send, period=0.1)
    maps = probe.latched(MAP, ExploredMap)
    bad = explored_map(_grid(1), Header())
    bad.height = 5
    maps.publish(bad)
    assert probe.spin_until(lambda: warned("explored map rejected"), timeout=10)
    for _ in range(5):
        send()
        probe.spin_for(0.1)
    assert not probe.msgs(PROP), "proposed without a valid map"

    runtime = PolicyRuntime(explored_bundle_path, ["cpu"], 1)

    def propose(grid) -> np.ndarray:
        maps.publish(explored_map(grid, Header()))
        probe.spin_for(1.0)
        stamp = send()
        mine = lambda: [p for p in probe.msgs(PROP) if stamp_ns(p) == stamp]  # noqa: E731
        assert probe.spin_until(mine, timeout=20), "no proposal"
        return np.array(mine()[0].action_probabilities, np.float32)

    first = propose(_grid(2))
    np.testing.assert_allclose(
        first, runtime.step(pixels, TEXT, explored=_grid(2)).probs, atol=1e-5
    )
    second = propose(np.zeros(EXPLORED_SHAPE, np.uint8))
    want = runtime.step(pixels, TEXT, explored=np.zeros(EXPLORED_SHAPE, np.uint8)).probs
    np.testing.assert_allclose(second, want, atol=1e-5)


@pytest.mark.slow
def test_run_sim_with_a_map_bundle(subprocess_env, ros_domain_id, explored_bundle_path, tmp_path):
    """`safevla run --sim` runs such a bundle: the bridge publishes the map, the policy reads
    it, the episodes run on the policy's actions."""
    policy_log = run_sim_moves(
        explored_bundle_path, subprocess_env, ros_domain_id, tmp_path / "logs"
    )
    assert "takes the explored map" in policy_log and "no valid one has arrived" not in policy_log
