"""A policy that sees the wrist camera too (``model.camera = "nav_rgb+manip_rgb"``, for the
grasping tasks: the arm reaches out to the robot's right, out of the navigation camera's
view). The simulator renders both cameras, demonstrations keep them side by side, the bundle
declares it, and evaluation feeds the exported graph the frame training saw."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import SMALL

from safevla_core.bundle import load_bundle
from safevla_eval.agents import BundleAgent, PolicySpec, sees_manip
from safevla_eval.runner import Job, make_env, run_batched
from safevla_train.bc import collect_demos, train_bc
from safevla_train.config import BCConfig, EnvSettings, ModelConfig, check_model_fits_env
from safevla_train.evaluate import BatchedTorchAgent, TorchAgent
from safevla_train.export import export_bundle
from safevla_train.model import VLAPolicy
from sim_bridge.episodes import load_episodes, shipped_path

BOTH = "nav_rgb+manip_rgb"
WRIST = ModelConfig(**{**SMALL, "image_width": 64, "camera": BOTH})
ENV = EnvSettings(tasks=("pickup",), num_envs=2, nav_size=(32, 32), render_manip=True)


def test_a_model_that_sees_a_camera_the_envs_do_not_render_is_refused():
    with pytest.raises(ValueError, match=r"set env\.render_manip=true"):
        BCConfig(model=WRIST, env=EnvSettings(tasks=("pickup",)))
    check_model_fits_env(WRIST, ENV)  # rendered: fine
    check_model_fits_env(ModelConfig(**SMALL), EnvSettings())  # the nav camera is always drawn
    with pytest.raises(ValueError, match=r"model\.camera='depth'"):
        ModelConfig(**{**SMALL, "camera": "depth"})
    with pytest.raises(ValueError, match="without repeats"):
        ModelConfig(**{**SMALL, "image_width": 96, "camera": "nav_rgb+manip_rgb+nav_rgb"})
    with pytest.raises(ValueError, match="a multiple of the 2 cameras"):
        ModelConfig(**{**SMALL, "image_width": 33, "camera": BOTH})


@pytest.fixture(scope="module")
def wrist_bundle(tmp_path_factory):
    """A tiny wrist-camera policy imitating the careful expert on PickUp, and its bundle."""
    torch.manual_seed(0)
    cfg = BCConfig(
        model=WRIST,
        env=ENV,
        expert_mode="careful",
        demo_steps=120,
        keep_failures=True,
        demo_max_steps=60,
        updates=2,
        batch_chunks=2,
        chunk_len=8,
    )
    demos = collect_demos(cfg, progress=False)
    model = VLAPolicy(cfg.model)
    train_bc(model, demos, cfg, progress=False)
    folder = tmp_path_factory.mktemp("wrist") / "bundle"
    export_bundle(model.eval(), folder, "wrist", render_size=ENV.nav_size)
    return model, demos, folder


def test_demonstrations_keep_both_cameras_side_by_side(wrist_bundle):
    _, demos, _ = wrist_bundle
    frames = np.concatenate([d.frames for d in demos])
    assert frames.shape[1:] == (32, 64, 3)
    nav, wrist = frames[:, :, :32].astype(float), frames[:, :, 32:].astype(float)
    # the wrist camera was drawn (an unrendered camera is all zeros) and differs from the
    # navigation camera's view
    assert wrist.std() > 10 and np.abs(nav - wrist).mean() > 10


def test_the_bundle_declares_both_cameras_and_evaluation_renders_them(wrist_bundle):
    model, _, folder = wrist_bundle
    bundle = load_bundle(folder)
    assert bundle.image.camera == BOTH and bundle.image.cameras == ("nav_rgb", "manip_rgb")
    assert (bundle.image.height, bundle.image.width) == (32, 64)
    assert bundle.render_size == (32, 32)
    spec = PolicySpec("wrist", "bundle", str(folder))
    assert sees_manip(spec)
    assert not sees_manip(PolicySpec("expert:careful", "expert", "careful"))

    # the exported graph and the trainer's torch policy, fed the same env observations, agree
    episodes = load_episodes(shipped_path("pickup"))[:2]
    env = make_env(6, (32, 32), manip=True)
    try:
        bundle_agent, torch_agent = BundleAgent(str(folder)), TorchAgent(model)
        obs, _ = env.reset(options={"episode": episodes[0]})
        bundle_agent.reset(0)
        torch_agent.reset(0)
        for _ in range(4):
            a = bundle_agent.propose(obs, env)
            b = torch_agent.propose(obs, env)
            np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)
            bundle_agent.record(a.action)
            obs, *_ = env.step(a.action)
        assert obs["manip_rgb"].std() > 10
    finally:
        env.close()

    # jobs say the env must draw the wrist camera, and an env that does not is refused
    jobs = [
        Job(spec, e, i, max_steps=3, nav_hw=(32, 32), manip=True) for i, e in enumerate(episodes)
    ]
    records = run_batched(lambda slots: BatchedTorchAgent(model, slots), jobs, batch=2)
    assert len(records) == 2 and all(1 <= r.length <= 3 for r in records)
    plain = make_env(3, (32, 32))
    try:
        with pytest.raises(
            ValueError, match="renders the wrist camera: False; the jobs need True"
        ):
            run_batched(lambda slots: BatchedTorchAgent(model, slots), jobs, envs=[plain])
    finally:
        plain.close()


def test_end_needs_holding_refuses_end_with_an_empty_gripper_in_the_exported_graph(tmp_path):
    from safevla_core.actions import END
    from safevla_core.policy_runtime import PolicyRuntime

    torch.manual_seed(0)
    gated = VLAPolicy(ModelConfig(**{**SMALL, "end_needs_holding": True})).eval()
    with torch.no_grad():
        gated.actor.bias[END] = 6.0  # a policy that wants to end
    plain = VLAPolicy(ModelConfig(**SMALL)).eval()
    plain.load_state_dict(gated.state_dict())
    for model, name in ((gated, "gated"), (plain, "plain")):
        export_bundle(model, tmp_path / name, name)
    frame = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)

    def end_prob(name: str, holding: bool) -> float:
        return float(
            PolicyRuntime(tmp_path / name).step(frame, "pick up the apple", holding).probs[END]
        )

    assert end_prob("plain", False) > 0.5 and end_prob("plain", True) > 0.5
    assert end_prob("gated", False) < 1e-6  # refused with the gripper empty
    assert end_prob("gated", True) == pytest.approx(end_prob("plain", True), abs=1e-5)
    with pytest.raises(ValueError, match="end_needs_holding"):
        BCConfig(model=ModelConfig(**{**SMALL, "end_needs_holding": True}))  # ObjectNav envs


def test_ppo_trains_and_evaluates_a_wrist_camera_policy_and_refuses_envs_without_it(tmp_path):
    import dataclasses

    from tiny_model import tiny_ppo_config

    from safevla_train.train_ppo import run_ppo

    env = EnvSettings(
        tasks=("pickup",), num_envs=2, nav_size=(32, 32), render_manip=True, max_steps=12
    )
    cfg = tiny_ppo_config(32, env=env, eval_every=2, eval_episodes=1)
    logs = run_ppo(cfg, tmp_path / "a", model_cfg=WRIST, progress=False, tensorboard=False)
    assert np.isfinite(logs["losses/policy"]) and (tmp_path / "a" / "checkpoint.pt").is_file()
    assert 0.0 <= logs["eval/success_rate"] <= 1.0  # the in-run evaluation rendered it too
    blind = dataclasses.replace(env, render_manip=False)
    with pytest.raises(ValueError, match=r"set env\.render_manip=true"):
        run_ppo(tiny_ppo_config(16, env=blind), tmp_path / "b", model_cfg=WRIST, progress=False)
