"""The shielded careless expert's episodes that `trace.py` and `vetoes.py` replay: from the
command line EPISODES CRITIC STEPS [FIRST] [COUNT]."""

import sys

from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env
from sim_bridge.episodes import load_episodes


def setup():
    """(env, jobs): the evaluation env and, per episode asked for, its shielded job."""
    ep_file, critic, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    spec = parse_policy("expert:careless")
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    eps = load_episodes(ep_file)
    jobs = [
        Job(spec, eps[i], i, True, (), steps, critic=critic, nav_hw=size)
        for i in range(first, min(first + count, len(eps)))
    ]
    return env, make_agent(spec), jobs
