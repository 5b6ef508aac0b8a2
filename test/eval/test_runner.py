"""The episode runner and shield on the real simulator, experts and an exported bundle."""

import itertools
import json
import shutil

import numpy as np
import pytest

from safevla_core.actions import ACTION_NAMES, END, NUM_ACTIONS
from safevla_eval.agents import DEFAULT_RENDER_HW, ExpertAgent, Proposed, RandomAgent
from safevla_eval.metrics import episode_outcome, summarize
from safevla_eval.runner import close_worker_cache, make_env, run_agent, run_jobs
from safevla_eval.suite import EvalConfig, evaluate, groups, resolve_episodes


@pytest.fixture(autouse=True)
def _close_cache():
    yield
    close_worker_cache()


def test_careful_expert_replays_its_reference_episodes():
    doc = evaluate(EvalConfig(["expert:careful"], count=2, seed=3, bootstrap_samples=0))
    (r,) = doc["results"]
    for rec in r["records"]:
        assert rec["success"] and rec["length"] == rec["expert_length"]
        assert rec["truncated"] is False
        assert rec["reference_path"] is not None and rec["path_length"] > 0
    m = r["metrics"]
    assert m["success_rate"] == 1.0 and m["sel"] == 1.0
    assert 0.0 < m["spl"] <= 1.0


def test_step_limit_truncates():
    doc = evaluate(
        EvalConfig(["expert:careful"], count=2, seed=3, max_steps=5, bootstrap_samples=0)
    )
    for rec in doc["results"][0]["records"]:
        assert (rec["length"], rec["success"], rec["truncated"]) == (5, False, True)
    assert doc["results"][0]["metrics"]["sel"] == 0.0


def test_shield_with_infinite_threshold_changes_nothing(tiny_bundle):
    cfg = EvalConfig(
        [str(tiny_bundle)],
        count=2,
        max_steps=12,
        shield="both",
        cost_threshold=1e9,
        bootstrap_samples=0,
    )
    off, on = evaluate(cfg)["results"]
    assert (off["shield"], on["shield"]) == (False, True)
    assert on["metrics"]["veto_rate"] == 0.0 and off["metrics"]["veto_rate"] is None
    keys = ("success", "cost", "length", "path_length", "collisions", "cost_by_category")
    for a, b in zip(off["records"], on["records"]):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_shield_with_zero_threshold_vetoes_every_costly_motion(tiny_bundle):
    cfg = EvalConfig(
        [str(tiny_bundle), "random"],
        count=1,
        max_steps=12,
        shield="on",
        cost_threshold=0.0,
        bootstrap_samples=0,
    )
    bundle, rand = evaluate(cfg)["results"]
    assert bundle["shield"] is True and bundle["metrics"]["veto_rate"] > 0.5
    # the random-weight critic predicts a positive cost for every motion: all vetoes are stops
    (rec,) = bundle["records"]
    assert rec["vetoes"] == rec["stops"] > 0
    assert rec["path_length"] < 1e-3
    # pseudo-bundles have no critic: they run unshielded, and the result says so
    assert rand["shield"] is False and "no cost critic" in rand["note"]


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match="'sometimes'"):
        EvalConfig(["random"], shield="sometimes")
    with pytest.raises(ValueError, match="'kitchen'"):
        EvalConfig(["random"], tasks=("kitchen",))
    with pytest.raises(ValueError, match="twice"):
        EvalConfig(["random", "random"])
    assert EvalConfig(["random"], tasks=("all",)).tasks == ("objnav", "pickup", "fetch")


def test_parallel_workers_give_the_same_records():
    cfg = EvalConfig(["random", "expert:careless"], count=2, max_steps=15, perturb=("color",))
    jobs = [j for _, js in groups(cfg, resolve_episodes(cfg)) for j in js]
    assert len(jobs) == 4
    assert run_jobs(jobs, workers=2) == run_jobs(jobs, workers=1)


def test_a_bundle_is_evaluated_at_the_render_size_its_manifest_records(tiny_bundle, tmp_path):
    sized = tmp_path / "sized"
    shutil.copytree(tiny_bundle, sized)
    manifest = json.loads((sized / "bundle.json").read_text())
    manifest["render"] = {"camera": "nav_rgb", "height": 40, "width": 48}
    (sized / "bundle.json").write_text(json.dumps(manifest))
    assert DEFAULT_RENDER_HW != (40, 48)
    cfg = EvalConfig([str(sized), str(tiny_bundle)], count=1, max_steps=2, bootstrap_samples=0)
    (_, sized_jobs), (_, plain_jobs) = groups(cfg, resolve_episodes(cfg))
    assert [j.nav_hw for j in sized_jobs] == [(40, 48)]
    assert [j.nav_hw for j in plain_jobs] == [DEFAULT_RENDER_HW]  # records no size of its own
    env = make_env(2, sized_jobs[0].nav_hw)
    try:
        obs, _ = env.reset(options={"episode": sized_jobs[0].episode})
        assert obs["nav_rgb"].shape == (40, 48, 3)
    finally:
        env.close()
    (rec,) = run_jobs(sized_jobs)
    assert rec.length == 2


def test_in_process_agent_runs_the_same_loop_as_a_named_policy():
    cfg = EvalConfig(["expert:careless"], count=2, max_steps=30, bootstrap_samples=0)
    episodes = resolve_episodes(cfg)
    ((_, jobs),) = groups(cfg, episodes)
    by_name = run_jobs(jobs)
    direct = run_agent(ExpertAgent("careless"), episodes["objnav"], max_steps=30)
    assert direct == by_name and len(direct) == 2
    env = make_env(10)
    try:
        with pytest.raises(ValueError, match="step limit"):
            run_agent(ExpertAgent("careless"), episodes["objnav"], max_steps=30, env=env)
    finally:
        env.close()


class _NeverEnds(ExpertAgent):
    """The careful expert with every `end` replaced by a left turn: it reaches the target and
    looks at it without ever stopping."""

    def propose(self, obs, env):
        p = super().propose(obs, env)
        if p.action != END:
            return p
        turn = ACTION_NAMES.index("rotate_left")
        return Proposed(turn, np.eye(NUM_ACTIONS, dtype=np.float32)[turn])


class _EndsAtOnce(RandomAgent):
    def propose(self, obs, env):
        return Proposed(END, np.eye(NUM_ACTIONS, dtype=np.float32)[END])


def test_each_episode_says_how_it_ended():
    cfg = EvalConfig(["expert:careful"], count=4, seed=3, bootstrap_samples=0)
    episodes = resolve_episodes(cfg)["objnav"]
    solved = run_agent(ExpertAgent("careful"), episodes, max_steps=200)
    for r in solved:
        assert episode_outcome(r) == "success"
        # the expert ends in a goal state (it may pass through some on its way)
        assert 1 <= r.goal_states <= r.length and r.first_goal_step <= r.length - 1
    missed = run_agent(_NeverEnds("careful"), episodes, max_steps=200)
    for r, s in zip(missed, solved, strict=True):
        assert episode_outcome(r) == "missed_end" and r.first_goal_step == s.first_goal_step
    # ending at once fails wherever the target is not in view at the start
    early = run_agent(_EndsAtOnce(), episodes, max_steps=200)
    for r, s in zip(early, solved, strict=True):
        assert r.length == 1 and r.goal_states == int(s.first_goal_step == 0)
        assert episode_outcome(r) == ("success" if s.first_goal_step == 0 else "false_end")
    short = run_agent(ExpertAgent("careful"), episodes, max_steps=3)
    for r, s in zip(short, solved, strict=True):
        if s.first_goal_step >= 3:
            assert (episode_outcome(r), r.goal_states, r.first_goal_step) == ("not_found", 0, None)
    shares = summarize(missed + early + solved, samples=0)["outcomes"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["missed_end"] == pytest.approx(1 / 3)
    assert shares["success"] >= 1 / 3


class _Straight(RandomAgent):
    """Drives straight ahead forever: into the first wall, then against it."""

    def propose(self, obs, env):
        ahead = ACTION_NAMES.index("move_ahead")
        return Proposed(ahead, np.eye(NUM_ACTIONS, dtype=np.float32)[ahead])


def test_a_robot_pinned_against_a_wall_shows_in_its_blocked_motions():
    cfg = EvalConfig(["expert:careful"], count=2, seed=3, bootstrap_samples=0)
    episodes = resolve_episodes(cfg)["objnav"]
    pinned = run_agent(_Straight(), episodes, max_steps=120)
    for r in pinned:
        # once the base meets a wall the further move_aheads are blocked, in long runs
        assert 20 <= r.longest_blocked_run <= r.blocked
        assert r.collisions >= r.blocked
    assert summarize(pinned, samples=0)["blocked_rate"] > 0.15
    careful = run_agent(ExpertAgent("careful"), episodes, max_steps=120)
    assert all(r.longest_blocked_run <= 2 for r in careful)


def test_skip_blocked_keeps_a_policy_from_pushing_into_a_wall(ahead_bundle):
    """A bundle that always prefers move_ahead pushes into the first wall until the step limit;
    with ``skip_blocked`` (``safevla eval --skip-blocked``) a move_ahead that was blocked or
    touched something is not tried again before a clean turn."""
    runs = {}
    for skip in (False, True):
        cfg = EvalConfig(
            [ahead_bundle], count=2, seed=3, max_steps=120, bootstrap_samples=0, skip_blocked=skip
        )
        doc = evaluate(cfg)
        assert doc["config"]["skip_blocked"] is skip  # recorded with the results
        runs[skip] = doc["results"][0]["records"]
    assert all(r["longest_blocked_run"] >= 20 for r in runs[False])
    assert all(r["blocked"] >= 1 and r["longest_blocked_run"] <= 4 for r in runs[True])
    # measured 79 and 80 collisions in 120 steps against 118 and 115
    assert sum(r["collisions"] for r in runs[True]) < 0.8 * sum(
        r["collisions"] for r in runs[False]
    )


def test_break_dither_lets_a_shipped_policy_out_of_its_left_right_cycle():
    """The shipped `objnav-ppo-penalty` on long-tail episode 0020, greedy: alone it falls into
    turning left, right, left, right... on the spot from about step 305 (to the 600-step limit,
    measured); with ``break_dither`` (``safevla eval --break-dither 6``) the undo of its last
    turn is masked once six turns alternated, it turns on to a new heading and finds the
    target (step 320)."""
    from safevla_eval.agents import make_agent, parse_policy, render_settings
    from safevla_eval.runner import Job, run_episode
    from sim_bridge.episodes import load_episodes

    ep = load_episodes("sim_bridge/data/episodes/longtail_objnav.jsonl.gz")[4]
    assert ep.episode_id == "longtail_objnav_0020"
    spec = parse_policy("models/objnav-ppo-penalty")
    size, manip = render_settings(spec)
    runs = {}
    for d in (0, 6):
        env, executed = make_env(330, size, manip), []
        step = env.step
        env.step = lambda a, step=step, seen=executed: (seen.append(ACTION_NAMES[a]), step(a))[1]
        job = Job(spec, ep, 4, max_steps=330, nav_hw=size, manip=manip, break_dither=d)
        runs[d] = (run_episode(env, make_agent(spec, break_dither=d), job), executed)
        env.close()
    alone, executed = runs[0]
    assert not alone.success and alone.length == 330
    last = executed[-20:]  # the cycle: every step a turn, each the other way from the one before
    assert set(last) == {"rotate_left", "rotate_right"}
    assert all(a != b for a, b in itertools.pairwise(last))
    broken, _ = runs[6]
    assert broken.success and broken.length < 330
    with pytest.raises(ValueError, match="break_dither=1"):
        EvalConfig(["models/objnav-ppo-penalty"], break_dither=1)
    assert EvalConfig(["models/objnav-ppo-penalty"], break_dither=6).to_dict()["break_dither"] == 6
