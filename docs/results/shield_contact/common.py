"""What onset.py and oracle.py share: env, proposer and probe for BUNDLE EPISODES N MAX_STEPS."""

import sys

import numpy as np

from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from sim_bridge.action_probe import ActionProbe
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episodes import load_episodes

MOVES = np.array([a.moves_robot for a in ACTIONS])  # every action but end / sub_done


def open_run():
    """(bundle, n, max_steps, episodes, env, agent, probe) from the command line."""
    bundle, episode_file = sys.argv[1], sys.argv[2]
    n, max_steps = int(sys.argv[3]), int(sys.argv[4])
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    eps = load_episodes(episode_file)[:n]
    env = make_env(
        eps, EnvConfig(backend="mujoco", max_steps=max_steps, nav_size=size, render_manip=manip)
    )
    return bundle, n, max_steps, eps, env, make_agent(spec), ActionProbe(env, verify=False)
