"""`safevla eval --shield on --critic` on the real simulator: the evaluator runs the monitor's
own critic rule, and the vetoes, replacements and stops it reports per episode are those of the
per-step decisions (replayed with the same seeds), with the risky action never executed."""

from __future__ import annotations

import json

import pytest
from tiny_critic import ARM_OUT_M, risk_table, write_tiny_critic

from safevla_core.actions import ACTION_NAMES
from safevla_core.critic_gate import HELD_STOPS, HELD_UNTIL, HELD_WINDOW
from safevla_core.image_preprocessing import ImageSpec
from safevla_core.monitor_rules import Rule
from safevla_eval.agents import make_agent, parse_policy
from safevla_eval.runner import close_worker_cache, make_env, run_episode
from safevla_eval.suite import EvalConfig, groups, resolve_episodes
from safevla_ros.cli.main import main

AHEAD = ACTION_NAMES.index("move_ahead")
MAX_STEPS, COUNT = 10, 2


@pytest.fixture(autouse=True)
def _close_cache():
    yield
    close_worker_cache()


@pytest.fixture
def critic(tmp_path):
    image = ImageSpec(height=16, width=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    return write_tiny_critic(tmp_path / "critic", image, risk_table({AHEAD: 0.9}))


def test_eval_counts_match_the_per_step_decisions(critic, tmp_path):
    out = tmp_path / "eval.json"
    args = ["eval", "--bundle", "random", "--bundle", "expert:careless", "--count", str(COUNT)]
    args += ["--max-steps", str(MAX_STEPS), "--shield", "on", "--critic", str(critic)]
    assert main([*args, "--no-progress", "--bootstrap", "0", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [(r["bundle"], r["shield"]) for r in results] == [
        ("random", True),
        ("expert:careless", True),
    ]
    assert all(r["critic_id"].startswith("tiny-critic@") for r in results)

    # replay every episode with the same seeds, watching each decision
    cfg = EvalConfig(["random", "expert:careless"], count=COUNT, max_steps=MAX_STEPS)
    cfg.shield, cfg.critic = "on", str(critic)
    plan = groups(cfg, resolve_episodes(cfg))
    env = make_env(MAX_STEPS)
    total = {"replaced": 0, "stopped": 0}
    try:
        for (header, jobs), result in zip(plan, results):
            agent = make_agent(parse_policy(header["bundle"]))
            for job, rec in zip(jobs, result["records"]):
                seen = []
                replay = run_episode(env, agent, job, on_decision=seen.append)
                assert replay.cost == rec["cost"] and replay.length == rec["length"]
                outcomes = [d.critic_outcome for d in seen]
                stopped = [d.safe_stop and d.rule is Rule.SAFETY_CRITIC for d in seen]
                held, held_steps = False, 0
                for i in range(len(seen)):  # held from HELD_STOPS stops, until < HELD_UNTIL
                    n = sum(stopped[max(0, i + 1 - HELD_WINDOW) : i + 1])
                    held = n >= HELD_STOPS or (held and n >= HELD_UNTIL)
                    held_steps += held
                want = {
                    "vetoes": sum(map(bool, outcomes)),
                    "replacements": outcomes.count("replaced"),
                    "stops": outcomes.count("stopped"),
                    "releases": sum("releasing" in d.reason for d in seen),
                    "held_steps": held_steps,
                }
                assert rec["extra"]["critic"] == want
                assert rec["vetoes"] == sum(d.vetoed or d.safe_stop for d in seen)
                assert rec["stops"] == sum(d.safe_stop for d in seen)
                assert not any(d.executed_action == AHEAD for d in seen)
                for d in seen:
                    if d.proposed_action == AHEAD:  # the only risky action, always vetoed
                        assert d.rule is Rule.SAFETY_CRITIC and d.vetoed
                total["replaced"] += want["replacements"]
                total["stopped"] += want["stops"]
                if header["bundle"] == "expert:careless":  # one-hot: a veto is a stop
                    # or, after repeated vetoes, the monitor's back-off
                    replaced = [d for d in seen if d.critic_outcome == "replaced"]
                    assert all("backing off" in d.reason for d in replaced)
    finally:
        env.close()
    assert total["replaced"] > 0 and total["stopped"] > 0  # both paths were exercised


def test_critic_needs_the_shield_and_a_matching_alpha(critic, capsys):
    base = ["eval", "--bundle", "random", "--count", "1", "--critic", str(critic)]
    assert main(base) == 2
    assert "add --shield on" in capsys.readouterr().err
    assert main([*base, "--shield", "on", "--critic-alpha", "0.2", "--no-progress"]) == 2
    assert "--set alpha=0.2" in capsys.readouterr().err


def shielded_expert_episodes(critic, max_steps: int):
    """The careless expert shielded by ``critic`` on the COUNT drawn episodes: per episode,
    the monitor's decisions."""
    cfg = EvalConfig(["expert:careless"], count=COUNT, max_steps=max_steps)
    cfg.shield, cfg.critic = "on", str(critic)
    ((header, jobs),) = groups(cfg, resolve_episodes(cfg))
    env = make_env(max_steps)
    try:
        agent = make_agent(parse_policy(header["bundle"]))
        out = []
        for job in jobs:
            seen = []
            run_episode(env, agent, job, on_decision=seen.append)
            out.append(seen)
        return out
    finally:
        env.close()


def test_a_shielded_expert_replans_around_a_refused_move(critic):
    """A one-hot proposer gets a stop on every veto; the expert then plans around the refused
    move (the cell ahead), so it does not propose the same move against the shield forever."""
    for seen in shielded_expert_episodes(critic, 30):
        first_stop = next(i for i, d in enumerate(seen) if d.safe_stop)
        after = [d.proposed_action for d in seen[first_stop + 1 :]]
        assert after and any(a != AHEAD for a in after)  # it re-planned
        assert not any(d.executed_action == AHEAD for d in seen)


def test_a_shielded_expert_tries_another_motion_after_a_refused_turn(tmp_path):
    """Every base motion but the small left turn and backing off is risky: the one-hot expert
    is stopped on each of them, but proposes another motion after each refusal instead of the
    same one until the step limit, so the robot keeps moving with the allowed ones."""
    names = ("move_ahead", "rotate_right", "rotate_left", "rotate_right_small")
    image = ImageSpec(height=16, width=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    risky = {ACTION_NAMES.index(n): 0.9 for n in names}
    critic = write_tiny_critic(tmp_path / "critic", image, risk_table(risky))
    for seen in shielded_expert_episodes(critic, 40):
        assert any(d.safe_stop for d in seen)  # the planner's choices were refused
        assert not any(d.executed_action in risky and not d.safe_stop for d in seen)
        run = longest = 0
        for d in seen:
            run = run + 1 if d.safe_stop else 0
            longest = max(longest, run)
        assert longest <= 4, [(d.proposed_action, d.safe_stop) for d in seen]
        moved = [d for d in seen if not d.safe_stop]
        assert len(moved) >= len(seen) // 4  # it kept moving


def test_an_arm_critic_is_fed_the_arm_joint_state_of_each_step(tmp_path):
    """A critic that reads the arm's joint state (``proprio``), shielding the careless expert
    on PickUp: the evaluator feeds it the joint state of the observation the proposal answers
    (never a stop for a missing input), and an arm extension is never executed while the arm
    is out, the case its table marks risky."""
    image = ImageSpec(height=16, width=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    out_moves = [ACTION_NAMES.index(n) for n in ("arm_out", "arm_out_small")]
    critic = write_tiny_critic(
        tmp_path / "arm", image, risk_table(), arm_out=risk_table(dict.fromkeys(out_moves, 0.9))
    )
    cfg = EvalConfig(["expert:careless"], tasks=("pickup",), count=2, max_steps=60)
    cfg.shield, cfg.critic = "on", str(critic)
    ((header, jobs),) = groups(cfg, resolve_episodes(cfg))
    env = make_env(cfg.max_steps)
    agent = make_agent(parse_policy(header["bundle"]))
    seen = []  # (arm extension when decided, decision)
    try:
        for job in jobs:
            run_episode(
                env, agent, job, lambda d: seen.append((env.backend.agent().arm_extension, d))
            )
    finally:
        env.close()
    assert seen and not any("joint state" in d.reason for _, d in seen)
    out = [(ext, d) for ext, d in seen if ext > ARM_OUT_M]
    assert out, "the expert never reached out with the arm: no case of the arm critic tested"
    assert not any(d.executed_action in out_moves for _, d in out)
    assert any(d.proposed_action in out_moves and d.vetoed for _, d in out)
    # with the arm in, the same motions pass
    assert any(d.executed_action in out_moves for ext, d in seen if ext <= ARM_OUT_M)


def test_a_shielded_expert_reaches_in_small_steps_after_a_refused_arm_motion(tmp_path):
    """The full arm extension (0.1 m) is risky, the small one (0.02 m) is not: on PickUp the
    one-hot expert is stopped on ``arm_out``, proposes ``arm_out_small`` next instead of the
    same refused motion until the step limit, and so still reaches out to its object and
    tries to pick it up."""
    image = ImageSpec(height=16, width=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    arm_out, small = ACTION_NAMES.index("arm_out"), ACTION_NAMES.index("arm_out_small")
    critic = write_tiny_critic(tmp_path / "critic", image, risk_table({arm_out: 0.9}))
    cfg = EvalConfig(["expert:careless"], tasks=("pickup",), count=2, max_steps=80)
    cfg.shield, cfg.critic = "on", str(critic)
    ((header, jobs),) = groups(cfg, resolve_episodes(cfg))
    env = make_env(cfg.max_steps)
    agent = make_agent(parse_policy(header["bundle"]))
    pickup, picked = ACTION_NAMES.index("pickup"), 0
    try:
        for job in jobs:
            seen = []
            run_episode(env, agent, job, on_decision=seen.append)
            assert not any(d.executed_action == arm_out for d in seen)
            refused = [i for i, d in enumerate(seen) if d.proposed_action == arm_out]
            assert refused, "the expert never reached out: no refusal to test"
            for i in refused:
                if i + 1 < len(seen):  # the next proposal is the small step, and it runs
                    assert seen[i + 1].proposed_action == small
                    assert seen[i + 1].executed_action == small
            reached = sum(d.executed_action == small for d in seen)
            assert reached >= 5  # 0.1 m and more in small steps
            picked += any(d.executed_action == pickup for d in seen)
    finally:
        env.close()
    assert picked  # reached its object in small steps and grasped
