"""The explored map ("explored": seen floor, seen obstacles and frontiers around the robot) as a
policy input: the simulator reports it in the robot's frame and grows it once per observation,
imitation records and trains on it, a resumed DAgger run adds it to a trained policy, the
exported graph and the runtime require it, the evaluators and PPO's rollouts feed it (the ROS
feed: test/ros/test_explored_map.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from tiny_model import SMALL, TINY_ENV

from safevla_core.actions import ACTION_INDEX, EXPLORED_CELL_M, EXPLORED_SHAPE, check_explored
from safevla_train.config import BCConfig, DAggerConfig, EnvSettings, ModelConfig, RiskConfig
from safevla_train.model import VLAPolicy, optional_inputs
from sim_bridge.explored_obs import ego_grid

_, H, W = EXPLORED_SHAPE


def _one_cell_world(xy) -> tuple[np.ndarray, np.ndarray, float]:
    """A 20 m x 20 m world grid at 0.1 m, origin (-10, -10), with only the cell at ``xy`` set."""
    res, origin = 0.1, np.array([-10.0, -10.0])
    layers = np.zeros((1, 200, 200), bool)
    i, j = np.floor((np.asarray(xy) - origin) / res).astype(int)
    layers[0, i, j] = True
    return layers, origin, res


@pytest.mark.parametrize(
    "yaw_deg, xy, row_col",
    [
        # facing +x: a point 2 m ahead is above the centre, one 2 m to the left left of it
        (0.0, (2.05, 0.05), (H // 2 - 5, W // 2 - 1)),
        (0.0, (0.05, 2.05), (H // 2 - 1, W // 2 - 5)),
        # facing +y: the same world point 2 m along +x is now 2 m to the robot's right
        (90.0, (2.05, 0.05), (H // 2 - 1, W // 2 + 4)),
        # facing -x: it is 2 m behind, and 5 cm to the right (+y is now right)
        (180.0, (2.05, 0.05), (H // 2 + 4, W // 2)),
    ],
)
def test_the_grid_is_in_the_robots_frame(yaw_deg, xy, row_col):
    layers, origin, res = _one_cell_world(xy)
    grid = ego_grid(layers, origin, res, np.zeros(2), yaw_deg)
    assert grid.shape == (1, H, W) and grid.dtype == np.uint8
    hit = np.argwhere(grid[0] > 0)
    assert [tuple(h) for h in hit] == [row_col]
    # a 0.1 m cell is one of the 25 ground points of a 0.5 m cell
    assert EXPLORED_CELL_M == 0.5 and grid[0][row_col] == round(255 / 25)
    anyway = ego_grid(layers, origin, res, np.zeros(2), yaw_deg, any_layers=(0,))
    assert anyway[0][row_col] == 255


def test_the_simulator_reports_the_explored_map_and_grows_it_per_observation():
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episode_gen import EpisodeSampler

    cfg = EnvConfig(nav_size=(32, 32), max_steps=50, render_manip=False, explored_map=True)
    env = make_env(EpisodeSampler(("objnav",)), cfg)
    try:
        obs, _ = env.reset(seed=0)
        m = obs["explored"]
        assert m.dtype == np.uint8 and env.observation_space["explored"].contains(m)
        free = m[0].astype(float)
        # the first view lies ahead of the robot (rows above the centre), none of it behind
        assert free[: H // 2].sum() > 0 and free[H // 2 + 2 :].sum() == 0
        seen = [int(env._explored.map.seen.sum())]
        for _ in range(6):
            env.advance(ACTION_INDEX["rotate_left"])  # the probe's trial step: no new view
            assert int(env._explored.map.seen.sum()) == seen[-1]
            obs, *_ = env.step(ACTION_INDEX["rotate_left"])
            seen.append(int(env._explored.map.seen.sum()))
        assert seen[-1] > seen[0] and all(b >= a for a, b in itertools.pairwise(seen))
        assert obs["explored"][2].max() == 255  # frontiers: where unseen floor begins
        # a new episode starts a new map
        obs, _ = env.reset(seed=1)
        assert env._explored.map.views == 1
    finally:
        env.close()
    plain = make_env(EpisodeSampler(("objnav",)), EnvConfig(nav_size=(32, 32), max_steps=5))
    try:
        obs, _ = plain.reset(seed=0)
        assert obs["explored"].shape == EXPLORED_SHAPE and not obs["explored"].any()
    finally:
        plain.close()


def test_check_explored_names_the_bad_value():
    grid = np.full(EXPLORED_SHAPE, 255, np.uint8)
    np.testing.assert_array_equal(check_explored(grid), np.ones(EXPLORED_SHAPE, np.float32))
    half = np.full(EXPLORED_SHAPE, 0.5, np.float32)
    np.testing.assert_array_equal(check_explored(half), half)
    with pytest.raises(ValueError, match="takes the explored map"):
        check_explored(None, "b1")
    for bad in (np.zeros((3, 10, 10)), np.zeros(EXPLORED_SHAPE, bool), "map"):
        with pytest.raises(ValueError, match="is not a"):
            check_explored(bad)
    for bad in (half * 3, np.where(half > 0, np.nan, 0.0), np.full(EXPLORED_SHAPE, 300)):
        with pytest.raises(ValueError, match="outside"):
            check_explored(bad)


def _probs(runtime, frame, explored=None, bump=None):
    runtime.reset()
    return runtime.step(frame, "find a mug", explored=explored, bump=bump).probs


def test_the_exported_graph_and_the_runtime_take_the_map(tmp_path):
    from safevla_core.image_preprocessing import preprocess_rgb
    from safevla_core.policy_runtime import PolicyRuntime
    from safevla_train.export import export_bundle

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL, explored_input=True, bump_input=True)).eval()
    assert optional_inputs(model.cfg) == ("bump", "explored")
    with torch.no_grad():
        model.explored_proj[-1].weight.normal_()
    parity = export_bundle(model, tmp_path / "b", "explored")
    assert max(parity.values()) < 1e-3
    runtime = PolicyRuntime(tmp_path / "b")
    assert runtime.takes_explored and runtime.bundle.graph.input_names[-2:] == (
        "bump",
        "explored",
    )
    frame = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="takes the explored map"):
        _probs(runtime, frame, bump=(0, 0))
    with pytest.raises(ValueError, match="is not a"):
        _probs(runtime, frame, explored=np.zeros((3, 8, 8), np.uint8), bump=(0, 0))
    grid = np.random.default_rng(4).integers(0, 256, EXPLORED_SHAPE, dtype=np.uint8)
    empty = _probs(runtime, frame, explored=np.zeros(EXPLORED_SHAPE, np.uint8), bump=(0, 0))
    full = _probs(runtime, frame, explored=grid, bump=(0, 0))
    assert abs(full.sum() - 1) < 1e-4 and not np.allclose(empty, full)  # the graph reads it
    # the torch step agrees with the graph on the same inputs
    x = torch.from_numpy(preprocess_rgb(frame, runtime.bundle.image)[None])
    instr = torch.tensor(runtime.encoder.embed("find a mug")[None])
    cache, mask = model.empty_cache(1)
    shares = torch.from_numpy(grid[None].astype(np.float32) / 255.0)
    with torch.no_grad():
        want = model(
            x, instr, torch.tensor([20]), torch.zeros(1), cache, mask, torch.zeros(1, 2), shares
        )[1][0].numpy()
    np.testing.assert_allclose(full, want, atol=1e-4)


def _dagger_cfg(rounds: int, explored: bool) -> DAggerConfig:
    bc = BCConfig(
        model=ModelConfig(**SMALL, explored_input=explored),
        env=EnvSettings(num_envs=2, nav_size=(32, 32), explored_map=True),
        demo_steps=48,
        demo_max_steps=30,
        expert_mode="explorer-reactive",
    )
    bc.batch_chunks, bc.chunk_len, bc.updates = 4, 8, 2
    return DAggerConfig(bc=bc, rounds=rounds, beta0=1.0, eval_episodes=0, subprocess=False)


@pytest.mark.slow
def test_imitation_records_the_map_and_a_resumed_run_adds_the_input(tmp_path):
    """Round 0 without the input records no map; resumed with ``bc.model.explored_input`` the
    policy gains a zero-initialised projection (its actions unchanged at first), the new round
    records the maps, and a policy reading them trains on them (the loss depends on them);
    rounds recorded without the map are refused for it."""
    from safevla_train.bc import bc_loss, sample_batch, train_bc
    from safevla_train.checkpoint import load_checkpoint
    from safevla_train.dagger import load_demos, run_dagger

    torch.manual_seed(0)
    out = tmp_path / "run"
    run_dagger(_dagger_cfg(1, False), out, progress=False)
    before = load_checkpoint(out / "checkpoint.pt")
    assert all(d.explored is None for d in load_demos(out / "data" / "round_000.npz"))
    with pytest.raises(ValueError, match="recorded without it"):
        run_dagger(_dagger_cfg(2, True), out, before, progress=False)
    # with the old round re-collected (here: dropped), the resume adds the input
    (out / "data" / "round_000.npz").unlink()
    state = {**before, "history": []}
    run_dagger(_dagger_cfg(2, True), out, state, progress=False)
    after = load_checkpoint(out / "checkpoint.pt")
    assert after["added_inputs"] == ["explored"]
    assert len(after["optimizer"]["param_groups"]) == 2
    demos = load_demos(out / "data" / "round_001.npz")
    maps = np.concatenate([d.explored for d in demos])
    assert maps.shape[1:] == EXPLORED_SHAPE and maps.dtype == np.uint8
    assert maps[:, 0].any() and maps[:, 2].any()  # seen floor and frontiers
    # the new projection started at zero: the old weights act as before
    fresh = VLAPolicy(_dagger_cfg(2, True).bc.model).eval()
    fresh.load_state_dict(before["model"], strict=False)
    old = VLAPolicy(_dagger_cfg(1, False).bc.model).eval()
    old.load_state_dict(before["model"])
    batch = sample_batch(demos, _dagger_cfg(2, True).bc, np.random.default_rng(0))
    with torch.no_grad():
        a = bc_loss(fresh, batch, _dagger_cfg(2, True).bc)[0]
        b = bc_loss(old, batch, _dagger_cfg(1, False).bc)[0]
    torch.testing.assert_close(a, b)
    # the trained policy reads the map
    model = VLAPolicy(_dagger_cfg(2, True).bc.model).eval()
    model.load_state_dict(after["model"])
    with torch.no_grad():
        model.explored_proj[-1].weight.normal_()
        blank = {**batch, "explored": torch.zeros_like(batch["explored"])}
        assert not torch.equal(
            bc_loss(model, batch, _dagger_cfg(2, True).bc)[0],
            bc_loss(model, blank, _dagger_cfg(2, True).bc)[0],
        )
    train_bc(model, demos, _dagger_cfg(2, True).bc, progress=False)


def test_a_map_policy_needs_envs_that_report_the_map():
    with pytest.raises(ValueError, match=r"env\.explored_map=true"):
        BCConfig(model=ModelConfig(**SMALL, explored_input=True))


def test_ppo_rollouts_carry_the_map_and_the_update_trains_on_it(tmp_path):
    """The collector records each step's map; the update's recomputed log-probs of the
    rollout equal those it was sampled with (same inputs on both paths), a PPO update moves the
    map's projection, and a PPO run refuses envs that do not report the map."""
    import dataclasses

    from tiny_model import tiny_ppo_config

    from safevla_train.ppo import make_algo
    from safevla_train.risk import make_envs
    from safevla_train.rollout import Collector
    from safevla_train.train_ppo import run_ppo

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL, explored_input=True)).eval()
    with torch.no_grad():
        model.explored_proj[-1].weight.normal_()
    env = dataclasses.replace(TINY_ENV, explored_map=True)
    venv, samplers = make_envs(env, RiskConfig(enabled=False))
    try:
        col = Collector(venv, samplers, model, rollout_steps=10, seed=0)
        col.sync_reset(1)
        ro = col.collect()
    finally:
        venv.close()
    assert ro.explored.dtype == torch.uint8 and ro.explored.shape[2:] == EXPLORED_SHAPE
    assert ro.explored[:, -10:, 0].any()  # seen floor on the rollout's steps
    with torch.no_grad():
        out = model.sequence_features(
            ro.feat, ro.instr, ro.prev_action, ro.holding, ro.ep_id, ro.valid, **ro.optional()
        )
    logp = out["logits"][:, -10:].log_softmax(-1).gather(-1, ro.actions[..., None])
    torch.testing.assert_close(logp.squeeze(-1), ro.logp, atol=1e-5, rtol=0)
    before = model.explored_proj[0].weight.detach().clone()
    make_algo(model, tiny_ppo_config(16, epochs=1)).update(
        ro, warmup=False, rng=np.random.default_rng(0)
    )
    assert not torch.equal(model.explored_proj[0].weight, before)
    with pytest.raises(ValueError, match=r"set env\.explored_map=true"):
        cfg_model = ModelConfig(**SMALL, explored_input=True)
        run_ppo(tiny_ppo_config(16), tmp_path / "r", model_cfg=cfg_model, progress=False)


def test_the_policy_node_takes_such_a_policy(tmp_path):
    from safevla_core.bundle import load_bundle
    from safevla_ros.params import check_policy_inputs
    from safevla_train.export import export_bundle

    export_bundle(VLAPolicy(ModelConfig(**SMALL, explored_input=True)).eval(), tmp_path / "b", "x")
    check_policy_inputs(load_bundle(tmp_path / "b"))  # the node feeds it (test/ros)


def test_evaluation_feeds_the_map_the_env_grows_each_step(tmp_path):
    """The evaluation envs do not report the map in their observations; the bundle agent and
    the trainer's torch agents ask the env for it every step and agree on the same episode."""
    from safevla_eval.agents import BundleAgent
    from safevla_eval.runner import make_env
    from safevla_train.evaluate import TorchAgent, evaluate
    from safevla_train.export import export_bundle
    from sim_bridge.episodes import load_episodes, shipped_path

    torch.manual_seed(1)
    model = VLAPolicy(ModelConfig(**SMALL, explored_input=True)).eval()
    with torch.no_grad():
        model.explored_proj[-1].weight.normal_()
    export_bundle(model, tmp_path / "b", "explored")
    episode = load_episodes(shipped_path("objnav"))[0]
    env = make_env(8, (32, 32))
    try:
        bundle_agent, torch_agent = BundleAgent(str(tmp_path / "b")), TorchAgent(model)
        obs, _ = env.reset(options={"episode": episode})
        bundle_agent.reset(0)
        torch_agent.reset(0)
        seen = []
        for _ in range(5):
            a = bundle_agent.propose(obs, env)
            b = torch_agent.propose(obs, env)  # the same step: the map is not grown twice
            np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)
            seen.append(int(env._explored.map.views))
            bundle_agent.record(ACTION_INDEX["rotate_left"])  # what is executed: new views
            obs, *_ = env.step(ACTION_INDEX["rotate_left"])
        assert seen == [1, 2, 3, 4, 5]  # one view per step
    finally:
        env.close()
    settings = EnvSettings(num_envs=1, nav_size=(32, 32), max_steps=6)
    for batch in (1, 2):
        assert evaluate(model, settings, 2, seed=0, batch=batch)["n_episodes"] == 2


def test_a_sighted_target_stays_on_the_map_where_it_stood():
    """The ``target`` channel marks where an object of the instructed type was in view, and
    keeps it after the robot has turned away; other objects in view are not marked."""
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episodes import load_episodes, shipped_path
    from sim_bridge.explored_obs import TARGET_RADIUS_M

    cfg = EnvConfig(nav_size=(32, 32), max_steps=60, render_manip=False, explored_map=True)
    episodes = load_episodes(shipped_path("objnav"))
    env = make_env(episodes, cfg)
    try:
        for ep in episodes[:20]:  # an episode whose target comes into view while turning
            obs, _ = env.reset(options={"episode": ep})
            seen_at = None
            for k in range(12):
                if obs["explored"][3].any():
                    seen_at = k
                    break
                obs, *_ = env.step(ACTION_INDEX["rotate_left"])
            if seen_at is not None:
                break
        assert seen_at is not None, "no target came into view in 20 episodes"
        m = env._explored
        targets = [o for o in env.backend.objects() if o.object_type == ep.target_type]
        marked = np.argwhere(m.target)
        xy = m.fs.origin + (marked + 0.5) * m.fs.resolution
        near = [np.linalg.norm(xy - o.position[:2], axis=1).max() for o in targets]
        assert min(near) <= TARGET_RADIUS_M + m.fs.resolution  # around one target's centre
        for _ in range(6):  # turned away (180°): still on the map, behind the robot
            obs, *_ = env.step(ACTION_INDEX["rotate_left"])
        assert m.target.any() and obs["explored"][3].any()
    finally:
        env.close()
