"""What `ptrace.py` and `strikes.py` share: the shielded jobs of BUNDLE EPISODES CRITIC STEPS
I[,I...] from the command line, with their env and agent; the environment variable JOB (a JSON
object) sets more Job fields, e.g. ``JOB='{"critic_escape_after": 3}'``."""

import json
import os
import sys

from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, episode_steps, make_env, run_episode
from sim_bridge.episodes import load_episodes


def shielded_jobs():
    """(env, agent, jobs): one shielded job per episode index asked for."""
    bundle, episodes, critic, steps = sys.argv[1:5]
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    env = make_env(int(steps), size, manip)
    eps = load_episodes(episodes)
    # JOB='{"critic_escape_after": 3}': more Job settings (the options of safevla eval)
    extra = json.loads(os.environ.get("JOB", "{}"))
    jobs = [
        Job(spec, eps[i], i, True, (), int(steps), critic=critic, nav_hw=size, **extra)
        for i in (int(x) for x in sys.argv[5].split(","))
    ]
    # (forty-seventh session) the agent runs the Job's proposer settings too
    agent = make_agent(
        spec,
        skip_blocked=extra.get("skip_blocked", False),
        break_dither=extra.get("break_dither", 0),
    )
    return env, agent, jobs


def write_records(out: str, change=None) -> None:
    """Run the shielded jobs of the command line (each through ``change(job)`` first, if
    given) and write their records to ``out``, one JSON object per line, each as it ends."""
    env, agent, jobs = shielded_jobs()
    with open(out, "w") as f:
        for job in jobs:
            job = job if change is None else change(job)
            f.write(json.dumps(run_episode(env, agent, job).to_dict()) + "\n")
            f.flush()


def for_each_job(fn) -> None:
    """``fn(env, agent, job)`` for each shielded job of the command line."""
    env, agent, jobs = shielded_jobs()
    for job in jobs:
        fn(env, agent, job)


class EpisodeDoneError(Exception):
    """Raised by an ``on_decision`` callback of :func:`drive`: this episode is done."""


def drive(env, agent, job, on_decision, started=None) -> None:
    """Step ``job``'s episode, ``on_decision(decision)`` on each monitor decision, until it
    ends or the callback raises :class:`EpisodeDoneError`; ``started()`` once it has begun."""
    gen = episode_steps(env, agent, job, on_decision)
    try:
        obs = next(gen)
        if started is not None:
            started()
        while True:
            obs = gen.send(agent.propose(obs, env))
    except (StopIteration, EpisodeDoneError):
        pass


def run_watched(env, agent, job, watch):
    """Run ``job`` with ``watch(action, step)`` in place of ``env.step`` (``step`` the real
    one, whose result it returns); returns (the record, the monitor's decisions)."""
    decisions = []
    inner = env.step
    env.step = lambda a: watch(a, inner)
    try:
        return run_episode(env, agent, job, decisions.append), decisions
    finally:
        env.step = inner
