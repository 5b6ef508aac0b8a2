"""Training and evaluation on a local two-CPU Ray cluster: the same seeds give the same
rollouts, updates, episode statistics and evaluation records as the in-process vectorised env
and the process pool (``--ray``, docs/scaling.md)."""

from __future__ import annotations

import sys
from typing import ClassVar

import numpy as np
import pytest
import ray  # scripts/setup.sh installs it (the fleet extra): a missing Ray fails, not skips
import torch
from tiny_model import SMALL as TINY

from safevla_train import train_ppo
from safevla_train.checkpoint import load_checkpoint
from safevla_train.config import EnvSettings, ModelConfig, PPOConfig, RiskConfig
from safevla_train.risk import WorkerSampler, make_envs
from safevla_train.rollout import Collector

SMALL = ModelConfig(**TINY)


def _env(vec_backend: str) -> EnvSettings:
    return EnvSettings(num_envs=2, nav_size=(32, 32), max_steps=6, vec_backend=vec_backend)


@pytest.fixture(scope="module")
def local_ray():
    """Two CPUs, no dashboard, small object store, actors at the test's priority (as
    ``sim_bridge.ray_cluster.connect`` starts a local one); the Ray code under test joins it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_worker_niceness", "0")
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=100 * 1024**2,
            logging_level="WARNING",
        )
    yield
    ray.shutdown()


class _Recording(Collector):
    """The trainer's collector, keeping every rollout it hands to the learner."""

    rollouts: ClassVar[list] = []
    venvs: ClassVar[list] = []

    def collect(self):
        ro = super().collect()
        _Recording.rollouts.append(ro)
        _Recording.venvs.append(type(self.venv).__name__)
        return ro


def _train(vec_backend: str, out, monkeypatch) -> tuple[dict, list, dict]:
    cfg = PPOConfig(
        algo="ppo-lag",
        env=_env(vec_backend),
        total_steps=3 * 2 * 8,
        rollout_steps=8,
        sync_every=2,
        value_warmup_steps=8,
        lagrange_init=0.5,
        lr=1e-3,
        risk=RiskConfig(replay_prob=0.5, min_cost=0.01),
    )
    _Recording.rollouts, _Recording.venvs = [], []
    monkeypatch.setattr(train_ppo, "Collector", _Recording)
    logs = train_ppo.run_ppo(cfg, out, model_cfg=SMALL, progress=False, tensorboard=False)
    assert set(_Recording.venvs) == {"RayVecEnv" if vec_backend == "ray" else "SyncVecEnv"}
    return logs, list(_Recording.rollouts), load_checkpoint(out / "checkpoint.pt")


@pytest.mark.slow
def test_ppo_on_two_ray_workers_matches_the_vectorised_env(local_ray, tmp_path, monkeypatch):
    ref_logs, ref_ros, ref_ckpt = _train("sync", tmp_path / "sync", monkeypatch)
    logs, ros, ckpt = _train("ray", tmp_path / "ray", monkeypatch)
    # the envs ran as two actors of the cluster the test started
    assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
    assert len(ros) == len(ref_ros) == 3
    episodes = 0
    for a, b in zip(ros, ref_ros):
        for name, value in vars(b).items():
            if name == "episodes":
                assert a.episodes == value  # return, cost, length, success, id, categories
                episodes += len(value)
            elif value is None:  # an input these policies do not read
                assert getattr(a, name) is None, name
            else:
                assert getattr(a, name).shape == value.shape, name
                torch.testing.assert_close(getattr(a, name), value, rtol=0, atol=0)
    assert episodes >= 4, "max_steps=6 over 24 steps per env must end episodes"
    assert ros[0].actions.shape == (2, 8)
    skip = {"charts/env_steps_per_s", "counters/wall_s"}  # timings
    assert {k: v for k, v in logs.items() if k not in skip} == {
        k: v for k, v in ref_logs.items() if k not in skip
    }
    for k, v in ref_ckpt["model"].items():
        assert torch.equal(v, ckpt["model"][k]), k
    # the risk samplers lived in the actors; the checkpoint holds their state all the same
    assert ckpt["samplers"] == ref_ckpt["samplers"]


@pytest.mark.slow
def test_ray_vec_env_steps_like_the_sync_one(local_ray):
    ray_env, ray_samplers = make_envs(_env("ray"), RiskConfig(min_cost=0.01))
    sync_env, _ = make_envs(_env("sync"), RiskConfig(min_cost=0.01))
    try:
        assert all(isinstance(s, WorkerSampler) for s in ray_samplers)
        a, ia = ray_env.reset(seed=5)
        b, ib = sync_env.reset(seed=5)
        assert a["instruction"] == b["instruction"]
        assert [i["episode_id"] for i in ia] == [i["episode_id"] for i in ib]
        rng = np.random.default_rng(0)
        for t in range(7):
            if t % 2:  # DAgger's way: the actors plan while the learner runs
                ray_env.request_labels("careful")
                labels = ray_env.receive_labels()
            else:
                labels = ray_env.expert_labels("careful")
            for x, y in zip(labels, sync_env.expert_labels("careful")):
                np.testing.assert_array_equal(x, y)
            actions = rng.integers(0, 20, size=2)
            ra, rb = ray_env.step(actions), sync_env.step(actions)
            for x, y in zip(ra[:5], rb[:5]):
                if isinstance(x, dict):
                    for key in ("nav_rgb", "manip_rgb", "prev_action", "holding", "step"):
                        np.testing.assert_array_equal(x[key], y[key])
                else:
                    np.testing.assert_array_equal(x, y)
            assert [i.get("episode") for i in ra[5]] == [i.get("episode") for i in rb[5]]
        assert ray_samplers[0].fresh >= 2  # read from the actor: a reset and an auto-reset
    finally:
        ray_env.close()
        sync_env.close()


@pytest.mark.slow
def test_eval_on_ray_actors_gives_the_same_records(local_ray):
    from safevla_eval.runner import close_worker_cache
    from safevla_eval.suite import EvalConfig, evaluate

    common = dict(count=2, max_steps=15, perturb=("color",), bootstrap_samples=0)
    policies = ["random", "expert:careless"]
    try:
        local = evaluate(EvalConfig(policies, **common))
    finally:
        close_worker_cache()
    on_ray = evaluate(EvalConfig(policies, workers=2, ray_address="local", **common))
    assert [r["records"] for r in on_ray["results"]] == [r["records"] for r in local["results"]]
    assert on_ray["config"]["ray_address"] == "local"


def test_more_envs_than_cluster_cpus_is_refused_at_once(local_ray):
    from sim_bridge.ray_cluster import RayClusterError

    with pytest.raises(RayClusterError, match="need 3 CPUs but the Ray cluster has 2"):
        make_envs(EnvSettings(num_envs=3, vec_backend="ray"), RiskConfig())


def test_missing_ray_names_the_install_command(monkeypatch):
    from safevla_core.errors import UserError
    from sim_bridge.ray_cluster import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    with pytest.raises(UserError, match=r"pip install -e '\.\[fleet\]'"):
        require_ray()


def test_ray_option_sets_the_env_backend():
    import argparse

    from safevla_ros.cli.train import add_parser, resolve_config
    from safevla_train.config import DAggerConfig

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["train", "ppo-lag", "--out", "x", "--ray"])
    env = resolve_config(PPOConfig(), args).env
    assert (env.vec_backend, env.ray_address) == ("ray", "local")
    args = parser.parse_args(["train", "dagger", "--out", "x", "--ray", "10.0.0.5:6379"])
    env = resolve_config(DAggerConfig(), args).bc.env
    assert (env.vec_backend, env.ray_address) == ("ray", "10.0.0.5:6379")
    args = parser.parse_args(["train", "bc", "--out", "x"])
    assert resolve_config(PPOConfig(), args).env.vec_backend == "sync"
    with pytest.raises(ValueError, match="vec_backend"):
        EnvSettings(vec_backend="threads")
