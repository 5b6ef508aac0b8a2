"""The teacher's way out of contact (expert modes with ``+escape``) and imitation of it: the
search leaves the simulator where it was, gets a pinned robot free, the mode parses, imitation
records the motion feedback and a resumed DAgger run can add the input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import SMALL, demo_fields

from safevla_core.actions import ACTION_INDEX, BUMP_FIELDS
from safevla_train.config import BCConfig, DAggerConfig, ModelConfig
from sim_bridge.escape import ESCAPE_MOTIONS, in_contact, safe_action
from sim_bridge.expert import Expert
from sim_bridge.expert_config import ExpertConfig
from sim_bridge.expert_modes import has_escape, split_mode

MOVE_AHEAD = ACTION_INDEX["move_ahead"]


def _pinned_env():
    """An ObjectNav env whose robot has just driven into something (blocked move_ahead)."""
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episode_gen import EpisodeSampler

    env = make_env(EpisodeSampler(("objnav",)), EnvConfig(nav_size=(32, 32), max_steps=400))
    env.reset(seed=0)
    for _ in range(300):
        _, _, _, _, _, info = env.step(MOVE_AHEAD)
        if not info["action_succeeded"]:
            return env
    env.close()
    raise AssertionError("move_ahead was never blocked")


def _state(env):
    """What the search must leave as it was: the step count, the motion feedback, the
    simulator's joint state and the cost model's memory."""
    return (
        env.steps,
        env._bump.tolist(),
        env.backend._sim.data.qpos.tobytes(),
        repr(env.cost_model.state()),
    )


def test_the_mode_suffix_parses_and_switches_the_search_on():
    assert has_escape("explorer-reactive+escape") and not has_escape("explorer-reactive")
    assert split_mode("explorer-reactive+escape") == ("explorer-reactive", None)
    assert split_mode("explorer-recent:64+escape") == ("explorer-recent", 64)
    cfg = ExpertConfig.for_mode("explorer-reactive+escape")
    assert cfg.escape and cfg.reactive_search and cfg.mode == "explorer-reactive"
    assert not ExpertConfig.for_mode("explorer-reactive").escape
    assert BCConfig(expert_mode="careful+escape").expert_mode == "careful+escape"
    with pytest.raises(ValueError, match=r"\+escape"):
        split_mode("wanderer+escape")
    with pytest.raises(ValueError, match="escape_depth"):
        ExpertConfig(escape_depth=0)


def test_the_search_leaves_the_simulator_where_it_was_and_frees_a_pinned_robot():
    env = _pinned_env()
    try:
        assert in_contact(env)
        before = _state(env)
        a = safe_action(env, MOVE_AHEAD, depth=2)
        assert _state(env) == before  # every tried sequence was undone
        assert a in ESCAPE_MOTIONS
        # the plain plan (drive on into it) stays blocked; following the search gets free
        for _ in range(6):
            _, _, _, _, _, info = env.step(safe_action(env, MOVE_AHEAD, depth=2))
            if not in_contact(env):
                break
        assert not in_contact(env) and info["action_succeeded"]
        # out of contact, a plan that costs nothing stands
        free = [b for b in ESCAPE_MOTIONS if b != MOVE_AHEAD]
        costs = {}
        for b in free:
            before = _state(env)
            costs[b] = safe_action(env, b, depth=1)
            assert _state(env) == before
        assert any(costs[b] == b for b in free)
    finally:
        env.close()


def test_an_escape_teacher_labels_the_way_out_where_the_plain_one_drives_on():
    env = _pinned_env()
    try:
        plain = Expert("careful").act(env)
        escape = Expert("careful+escape").act(env)
        assert escape in ESCAPE_MOTIONS
        # the escape label is what the search picks for the plain plan
        assert escape == safe_action(env, plain, depth=ExpertConfig().escape_depth)
        with pytest.raises(ValueError, match="pass the SafeChoresEnv"):
            Expert("careful+escape").act(env.backend, env.task_spec)
    finally:
        env.close()


def _cfg(**kw) -> BCConfig:
    return BCConfig(model=ModelConfig(**{**SMALL, **kw}), batch_chunks=2, chunk_len=8)


def test_imitation_feeds_the_recorded_feedback_to_a_policy_that_reads_it():
    from safevla_train.bc import Demo, bc_loss, label_accuracy, sample_batch
    from safevla_train.model import VLAPolicy

    rng = np.random.default_rng(0)
    n = 10
    bump = np.zeros((n, len(BUMP_FIELDS)), np.float32)
    bump[0] = bump[4:7] = 1.0  # every chunk starts at step 0 (chunk_len = n)
    frames = rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)
    demo = Demo(frames=frames, bump=bump, **demo_fields(rng, n))
    assert Demo(**{**demo.__dict__, "bump": None}).bump.shape == (n, len(BUMP_FIELDS))
    torch.manual_seed(0)
    cfg = _cfg(bump_input=True)
    cfg.chunk_len = n
    model = VLAPolicy(cfg.model)
    batch = sample_batch([demo], cfg, np.random.default_rng(1))
    assert batch["bump"].shape == (2, n, len(BUMP_FIELDS)) and batch["bump"].sum() > 0
    loss, _ = bc_loss(model, batch, cfg)
    loss.backward()
    assert float(model.bump_proj.weight.grad.abs().sum()) > 0  # it learns from the feedback
    assert 0.0 <= label_accuracy(model, [demo]) <= 1.0
    without = VLAPolicy(_cfg().model)
    bc_loss(without, batch, _cfg())  # a policy without the input ignores it


@pytest.mark.slow
def test_a_resumed_dagger_run_adds_the_input_records_it_and_keeps_its_policy(tmp_path):
    """Round 0 without the input; resumed with ``bc.model.bump_input`` and the escape teacher,
    the policy gains a zero projection (same actions as before on the same states), the
    optimiser continues and the new round records the feedback the learner met."""
    from safevla_train.checkpoint import load_checkpoint
    from safevla_train.dagger import load_demos, run_dagger
    from safevla_train.model import VLAPolicy

    def cfg(rounds: int, **model) -> DAggerConfig:
        bc = _cfg(**model)
        bc.demo_steps, bc.demo_max_steps, bc.updates = 48, 40, 2
        bc.expert_mode = "explorer-reactive+escape"
        bc.env.num_envs, bc.env.nav_size = 2, (32, 32)
        return DAggerConfig(bc=bc, rounds=rounds, beta0=0.0, eval_episodes=0, subprocess=False)

    torch.manual_seed(0)
    out = tmp_path / "run"
    run_dagger(cfg(1), out, progress=False)
    state = load_checkpoint(out / "checkpoint.pt")
    assert not any(k.startswith("bump_proj") for k in state["model"])
    with pytest.raises(ValueError, match="own model settings"):
        run_dagger(cfg(2, bump_input=True, num_layers=3), out, state, progress=False)
    run_dagger(cfg(2, bump_input=True), out, state, progress=False)
    after = load_checkpoint(out / "checkpoint.pt")
    assert len(after["history"]) == 2 and len(after["optimizer"]["param_groups"]) == 2
    assert any(k.startswith("bump_proj") for k in after["model"])
    demos = load_demos(out / "data" / "round_001.npz")
    bump = np.concatenate([d.bump for d in demos])
    assert bump.shape[1] == len(BUMP_FIELDS) and set(np.unique(bump)) <= {0.0, 1.0}
    # the feedback was recorded as the env reported it: the step after a blocked motion
    taken = np.concatenate([d.taken for d in demos])
    assert len(bump) == len(taken)
    model = VLAPolicy(cfg(2, bump_input=True).bc.model)
    model.load_state_dict(after["model"])
    assert model.bump_proj.weight.shape[1] == len(BUMP_FIELDS)
    # and the run goes on from there like any other (its optimiser keeps the two groups)
    run_dagger(cfg(3, bump_input=True), out, after, progress=False)
    last = load_checkpoint(out / "checkpoint.pt")
    assert len(last["history"]) == 3 and len(last["optimizer"]["param_groups"]) == 2
    group = last["optimizer"]["param_groups"][1]["params"]  # the projection is being trained
    assert group and all(i in last["optimizer"]["state"] for i in group)
