"""(thirty-eighth session) What a base motion that grazes something costs: the states where the
shipped critic's footprint floor applies to a base motion (its swept clearance on the object
scan is 1 cm or less: the floor gives it the training split's event rate, e.g. blind spot 0.28
for `move_ahead`), labelled with that motion's exact one-step cost per category, with what the
monitor could know then.

A proposer runs unshielded; at every step, for each base motion the floor applies to, the motion
is tried from a snapshot of the simulator (`sim_bridge.action_probe`: the step's own physics and
cost model, then restored). One JSON line per (state, motion):
``motion, cost (per category), clearance_m, bump (the last action's blocked, collided),
same_as_last (the motion was the last executed action), bearing_deg (of the object-scan return
nearest the footprint over the motion's poses), proposed (the proposer's own choice)``.

    python docs/results/longtail_val/grazes.py BUNDLE EPISODES STEPS OUT.jsonl [I,J,...]
"""

import json
import math
import sys

import numpy as np

from safevla_core.actions import ACTION_NAMES, SCAN_ANGLE_MIN
from safevla_core.footprint import (
    _COS,
    _DX,
    _SIN,
    BASE_MOTIONS,
    _footprint_distance,
    base_clearance,
)
from safevla_eval.agents import Proposed, make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env, run_episode
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes

FLOOR_M = 0.01  # models/safety-critic: critic.floor_clearance_m


class Grazes:
    """Wraps an agent: records the floor's states (see above), proposes what the agent does."""

    def __init__(self, agent, env, out) -> None:
        self.agent, self.env, self.out = agent, env, out
        self.probe = ActionProbe(env, verify=False)
        self.last = None
        self.episode = ""

    def reset(self, seed: int) -> None:
        self.agent.reset(seed)
        self.last = None

    def observe(self, obs, scan, things) -> None:
        """Each step's observation and scans, before any motion is tried (for subclasses)."""

    def fields(self, a: int) -> dict:
        """More fields of motion ``a``'s row at this step (for subclasses)."""
        return {}

    def record(self, action: int) -> None:
        self.agent.record(action)
        self.last = action

    def propose(self, obs, env) -> Proposed:
        p = self.agent.propose(obs, env)
        scan, things, _ = env.backend.all_scans()
        self.observe(obs, scan, things)
        ext = float(obs["proprio"][1])
        yaw = float(obs["wrist_yaw"])
        clear = base_clearance(things[None], np.array([ext]), np.array([yaw]))[0]
        grazing = np.flatnonzero(BASE_MOTIONS & (clear <= FLOOR_M))
        if grazing.size:
            r = np.asarray(things, np.float64)
            b = SCAN_ANGLE_MIN + 2 * math.pi / r.size * np.arange(r.size)
            seen = np.isfinite(r) & (r < 8.0)
            px, py = r[seen] * np.cos(b[seen]), r[seen] * np.sin(b[seen])
            # per base motion: the return nearest the footprint over the motion's poses
            qx = _COS * (px - _DX) + _SIN * py
            qy = -_SIN * px + _COS * py
            d = _footprint_distance(qx, qy, ext, yaw)  # [motions, samples, returns]
            nearest = np.degrees(b[seen][d.min(axis=1).argmin(axis=1)])
            order = {int(a): i for i, a in enumerate(np.flatnonzero(BASE_MOTIONS))}
            for a in grazing:
                bearing = float(nearest[order[int(a)]])
                snap = self.probe.snapshot()
                try:
                    _, sc = env.advance(int(a))
                finally:
                    self.probe.restore(snap)
                row = dict(
                    episode=self.episode,
                    step=env.steps,
                    motion=ACTION_NAMES[a],
                    cost=dict(sc.by_category),
                    clearance_m=float(clear[a]),
                    bump=[float(x) for x in obs["bump"]],
                    same_as_last=self.last == int(a),
                    bearing_deg=bearing,
                    proposed=int(a) == int(p.action),
                    **self.fields(int(a)),
                )
                self.out.write(json.dumps(row) + "\n")
        return p


def main(watch=Grazes) -> None:
    """The command line (module docstring), each state recorded by ``watch``."""
    bundle, ep_file, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    eps = load_episodes(ep_file)
    idx = [int(x) for x in sys.argv[5].split(",")] if len(sys.argv) > 5 else range(len(eps))
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    with open(out, "w") as f:
        g = watch(make_agent(spec), env, f)
        for i in idx:
            g.episode = eps[i].episode_id
            rec = run_episode(env, g, Job(spec, eps[i], i, False, (), steps, nav_hw=size))
            print(rec.episode_id, rec.success, rec.cost, rec.length, flush=True)


if __name__ == "__main__":
    main()
