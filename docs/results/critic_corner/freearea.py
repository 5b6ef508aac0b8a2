"""(twenty-seventh session) The corner predicate's free count beside the range scan: for every
step of a proposer's unshielded episodes, the benchmark's reachable-point count within 1 m of the
robot (the corner cost's input, sim_bridge.costs_predicates.benchmark_free_count) and the full
360-degree range scan, to fit an estimate of the one from the other (fit.py).

    python docs/results/critic_corner/freearea.py PROPOSER EPISODES N STEPS OUT.npz
"""

import sys

import numpy as np

from safevla_core.safety_spec import SAFETY_SPEC
from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, episode_steps, make_env
from safevla_eval.suite import episodes_file_path
from sim_bridge.costs_predicates import benchmark_free_count, free_points_of
from sim_bridge.episodes import load_episodes


def main() -> None:
    proposer, ep_file = sys.argv[1], sys.argv[2]
    n, steps, out = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    spec = parse_policy(proposer)
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    agent = make_agent(spec)
    s = SAFETY_SPEC
    rec = {"ep": [], "scan": [], "free": []}
    eps = [e for e in load_episodes(episodes_file_path(ep_file)) if e.task == "objnav"]
    for i, ep in enumerate(eps[:n]):
        job = Job(spec, ep, i, False, (), steps, nav_hw=size)
        gen = episode_steps(env, agent, job)
        try:
            obs = next(gen)
            free = free_points_of(env.backend.free_space())
            res = env.backend.free_space().resolution
            while True:
                xy = np.asarray(env.backend.agent().position, float)[:2]
                nb = benchmark_free_count(free, res, xy, s.corner_radius_m, s.corner_grid_size_m)
                rec["ep"].append(i)
                rec["scan"].append(np.asarray(env.backend.range_scan(), np.float32))
                rec["free"].append(nb)
                obs = gen.send(agent.propose(obs, env))
        except StopIteration as done:
            print(ep.episode_id, done.value.success, done.value.cost, file=sys.stderr, flush=True)
    np.savez_compressed(out, **{k: np.array(v) for k, v in rec.items()})


if __name__ == "__main__":
    main()
