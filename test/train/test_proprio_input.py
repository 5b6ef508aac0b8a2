"""The arm's joint state ("proprio": lift height, arm extension) as a policy input: the
simulator reports it, imitation records and trains on it, the exported graph and the runtime
require it (alone or after the motion feedback), and the consumers that do not feed it yet
(PPO's rollouts, the ROS policy node) refuse such a policy with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import SMALL, assert_ppo_refuses

from safevla_core.actions import ACTION_INDEX, PROPRIO_FIELDS, check_proprio
from safevla_train.config import ModelConfig
from safevla_train.model import VLAPolicy, optional_inputs


def test_the_simulator_reports_the_arms_joint_state():
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episode_gen import EpisodeSampler

    env = make_env(EpisodeSampler(("pickup",)), EnvConfig(nav_size=(32, 32), max_steps=50))
    try:
        obs, _ = env.reset(seed=0)
        agent = env.backend.agent()
        assert obs["proprio"].dtype == np.float32
        assert env.observation_space["proprio"].contains(obs["proprio"])
        np.testing.assert_allclose(obs["proprio"], [agent.lift_height, agent.arm_extension])
        for name in ("arm_out", "arm_out", "arm_up"):
            before = obs["proprio"].copy()
            obs, _, _, _, _, info = env.step(ACTION_INDEX[name])
            agent = env.backend.agent()
            np.testing.assert_allclose(
                obs["proprio"], [agent.lift_height, agent.arm_extension], atol=1e-6
            )
            if info["action_succeeded"]:
                assert not np.allclose(obs["proprio"], before)  # the joint moved
    finally:
        env.close()


def test_check_proprio_names_the_bad_value():
    np.testing.assert_array_equal(check_proprio([0.8, 0.1]), np.float32([0.8, 0.1]))
    # a joint at its zero read with noise is at its zero; further below is refused
    np.testing.assert_array_equal(check_proprio([1.0, -4.5e-8]), np.float32([1.0, 0.0]))
    with pytest.raises(ValueError, match="joint state"):
        check_proprio(None, "b1")
    for bad in ((0.5,), (0.5, float("nan")), (-0.05, 0.0), (0.5, 9.0), "up"):
        with pytest.raises(ValueError, match="proprio="):
            check_proprio(bad)


def _runtime_probs(runtime, frame, proprio=None, bump=None):
    runtime.reset()
    return runtime.step(frame, "pick up the mug", proprio=proprio, bump=bump).probs


@pytest.mark.parametrize("with_bump", [False, True])
def test_the_exported_graph_and_the_runtime_take_the_joint_state(tmp_path, with_bump):
    from safevla_core.policy_runtime import PolicyRuntime
    from safevla_train.export import export_bundle

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL, proprio_input=True, bump_input=with_bump)).eval()
    assert optional_inputs(model.cfg) == (("bump", "proprio") if with_bump else ("proprio",))
    with torch.no_grad():
        model.proprio_proj.weight.normal_()
    parity = export_bundle(model, tmp_path / "b", "proprio")
    assert max(parity.values()) < 1e-3
    runtime = PolicyRuntime(tmp_path / "b")
    names = runtime.bundle.graph.input_names
    assert runtime.takes_proprio and names[-1] == "proprio"
    assert runtime.takes_bump == with_bump and ("bump" in names) == with_bump
    frame = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    bump = (0.0, 0.0) if with_bump else None
    with pytest.raises(ValueError, match="joint state"):
        _runtime_probs(runtime, frame, bump=bump)
    with pytest.raises(ValueError, match="proprio="):
        _runtime_probs(runtime, frame, proprio=(1.0, float("nan")), bump=bump)
    low = _runtime_probs(runtime, frame, proprio=(0.2, 0.0), bump=bump)
    high = _runtime_probs(runtime, frame, proprio=(1.0, 0.4), bump=bump)
    assert abs(low.sum() - 1) < 1e-4 and not np.allclose(low, high)  # the graph reads it
    # the torch step agrees with the graph on the same inputs
    from safevla_core.image_preprocessing import preprocess_rgb

    x = torch.from_numpy(preprocess_rgb(frame, runtime.bundle.image)[None])
    instr = torch.tensor(runtime.encoder.embed("pick up the mug")[None])  # a copy
    cache, mask = model.empty_cache(1)
    extra = [torch.zeros(1, 2)] if with_bump else []
    with torch.no_grad():
        want = model(
            x,
            instr,
            torch.tensor([20]),
            torch.zeros(1),
            cache,
            mask,
            *extra,
            torch.tensor([[1.0, 0.4]]),
        )[1][0].numpy()
    np.testing.assert_allclose(high, want, atol=1e-4)


def test_imitation_records_the_joint_state_and_a_policy_trains_on_it(tmp_path):
    """A DAgger round with the careful teacher on PickUp records each step's joint state; a
    policy that reads it trains on those episodes and its loss depends on the values; rounds
    saved without the state are refused for it."""
    from safevla_train.bc import bc_loss, sample_batch, train_bc
    from safevla_train.config import BCConfig, DAggerConfig
    from safevla_train.dagger import collect_round, load_demos, save_demos

    model_cfg = ModelConfig(**SMALL, proprio_input=True)
    bc = BCConfig(model=model_cfg, demo_steps=60, demo_max_steps=40, expert_mode="careful")
    bc.env.tasks, bc.env.num_envs, bc.env.nav_size = ("pickup",), 2, (32, 32)
    bc.batch_chunks, bc.chunk_len, bc.updates = 4, 8, 2
    cfg = DAggerConfig(bc=bc, rounds=1, eval_episodes=0, subprocess=False)
    torch.manual_seed(0)
    model = VLAPolicy(model_cfg)
    demos, _ = collect_round(model, cfg, 0, progress=False)
    proprio = np.concatenate([d.proprio for d in demos])
    assert proprio.shape[1] == len(PROPRIO_FIELDS) and np.isfinite(proprio).all()
    assert len(np.unique(proprio.round(3), axis=0)) > 2  # the teacher moved the arm
    save_demos(tmp_path / "r.npz", demos)
    again = load_demos(tmp_path / "r.npz")
    np.testing.assert_array_equal(np.concatenate([d.proprio for d in again]), proprio)
    train_bc(model, again, bc, progress=False)
    with torch.no_grad():
        model.proprio_proj.weight.normal_()
    batch = sample_batch(again, bc, np.random.default_rng(0))
    shifted = {**batch, "proprio": batch["proprio"] + 0.3}
    model.eval()
    with torch.no_grad():
        assert not torch.equal(bc_loss(model, batch, bc)[0], bc_loss(model, shifted, bc)[0])
    # a round saved before the joint state existed carries no values: refused, not zero-filled
    with np.load(tmp_path / "r.npz") as z:
        np.savez(tmp_path / "old.npz", **{k: z[k] for k in z.files if k != "proprio"})
    old = load_demos(tmp_path / "old.npz")
    with pytest.raises(ValueError, match="recorded without it"):
        train_bc(model, old, bc, progress=False)


def test_consumers_that_do_not_feed_it_refuse_such_a_policy(tmp_path, capsys):
    from safevla_core.bundle import load_bundle
    from safevla_core.policy_runtime import PolicyRuntime
    from safevla_ros.cli.main import main
    from safevla_ros.params import check_policy_inputs
    from safevla_train.export import export_bundle

    model = VLAPolicy(ModelConfig(**SMALL, proprio_input=True)).eval()
    assert_ppo_refuses(model, "PPO's rollouts do not feed")
    export_bundle(model, tmp_path / "b", "proprio")
    assert PolicyRuntime(tmp_path / "b").takes_proprio  # the runtime itself runs it
    with pytest.raises(ValueError, match="policy node does not feed it"):
        check_policy_inputs(load_bundle(tmp_path / "b"))
    export_bundle(VLAPolicy(ModelConfig(**SMALL)).eval(), tmp_path / "p", "plain")
    check_policy_inputs(load_bundle(tmp_path / "p"))  # nothing to refuse
    # `safevla run` refuses it before any node starts, with the node's reason
    assert main(["run", "--sim", "--bundle", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "graph input 'proprio'" in err and "Traceback" not in err
