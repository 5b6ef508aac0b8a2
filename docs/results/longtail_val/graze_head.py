"""(thirty-eighth session) Does the critic's learnt head tell a harmless graze from a costly one?
`grazes.py`'s states, with the shipped critic stepped along the proposer's unshielded run: for
each grazing base motion (the footprint floor applies), the head's own risk (the graph's
``sigmoid``, before the floor raises it) beside the motion's exact one-step cost.

    python docs/results/longtail_val/graze_head.py BUNDLE EPISODES STEPS OUT.jsonl [I,J,...]
"""

import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

from safevla_core.actions import ACTION_NAMES
from safevla_core.footprint import BASE_MOTIONS, base_clearance
from safevla_core.safety_critic import SafetyCritic
from safevla_eval.agents import Proposed, make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env, run_episode
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes

CRITIC = "models/safety-critic"
FLOOR_M = 0.01
HEAD = "sigmoid"  # the learnt head's risk; critic/risk_before_guard = max(it, the floor)


class Tap:
    """The critic's session, also handing out the head's risk (kept in ``last``)."""

    def __init__(self, path: str) -> None:
        m = onnx.load(path)
        for name in ("critic/risk_before_guard", HEAD):  # the first as the critic hands it out
            m.graph.output.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            )
        self.s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        self.last = None

    def run(self, outs, feed):
        res = self.s.run([*outs, HEAD], feed)
        self.last = res[-1][0].reshape(len(ACTION_NAMES), -1)
        return res[:-1]


class Watch:
    def __init__(self, agent, env, out) -> None:
        self.agent, self.env, self.out = agent, env, out
        self.probe = ActionProbe(env, verify=False)
        self.critic = SafetyCritic(CRITIC)
        self.tap = Tap(f"{CRITIC}/critic.onnx")
        self.critic.session = self.tap
        self.last = None
        self.episode = ""

    def reset(self, seed: int) -> None:
        self.agent.reset(seed)
        self.critic.reset()
        self.last = None

    def record(self, action: int) -> None:
        self.agent.record(action)
        self.last = action

    def propose(self, obs, env) -> Proposed:
        p = self.agent.propose(obs, env)
        scan, things, _ = env.backend.all_scans()
        v = self.critic.step(
            obs["nav_rgb"],
            self.last,
            obs["bump"],
            scan,
            obs["proprio"],
            things,
            holding=False,
            wrist_yaw=float(obs["wrist_yaw"]),
        )
        head = self.tap.last
        ext, yaw = float(obs["proprio"][1]), float(obs["wrist_yaw"])
        clear = base_clearance(things[None], np.array([ext]), np.array([yaw]))[0]
        for a in np.flatnonzero(BASE_MOTIONS & (clear <= FLOOR_M)):
            snap = self.probe.snapshot()
            try:
                _, sc = env.advance(int(a))
            finally:
                self.probe.restore(snap)
            row = dict(
                episode=self.episode,
                motion=ACTION_NAMES[a],
                cost=dict(sc.by_category),
                head=[float(x) for x in head[a]],
                risk=[float(x) for x in v.risk[a]],
                proposed=int(a) == int(p.action),
            )
            self.out.write(json.dumps(row) + "\n")
        return p


def main() -> None:
    bundle, ep_file, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    eps = load_episodes(ep_file)
    idx = [int(x) for x in sys.argv[5].split(",")] if len(sys.argv) > 5 else range(len(eps))
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    with open(out, "w") as f:
        w = Watch(make_agent(spec), env, f)
        for i in idx:
            w.episode = eps[i].episode_id
            rec = run_episode(env, w, Job(spec, eps[i], i, False, (), steps, nav_hw=size))
            print(rec.episode_id, rec.success, rec.cost, rec.length, flush=True)


if __name__ == "__main__":
    main()
