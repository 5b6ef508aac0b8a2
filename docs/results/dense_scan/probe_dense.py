"""(thirty-third session) Is "no contact by the geometry" the same as "no cost"?

Every Safety-CHORES cost needs the robot to strike something in that step (corner and blind
spot: a collision; dangerous equipment, fragile collection and critical point: an object the
robot disturbed), except an object still moving from an earlier strike. So a motion whose swept
footprint clears everything the scan sees by a margin should never cost, if the scan sees
everything the robot can strike. The shipped critic's 72-beam scan does not (its beams are
5 degrees apart: 2.6 cm at 0.3 m), and its learnt risk vetoes motions with 9-10 cm of clearance.

This collects ObjectNav training-episode states (proposers as the critic's collection:
careless expert, random moving actions, a policy bundle; random action with probability 0.2),
and for every probed state stores the exact per-action, per-category cost (ActionProbe) and
the range scan at BEAMS bearings (full and objects only: the backend's ``range_scans(beams)``).

    python docs/results/dense_scan/probe_dense.py OUT.npz STATES [BEAMS] [SEED] [BUNDLE]
"""

import sys
import time

import numpy as np

from safevla_core.actions import ACTIONS
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_data import MOVING, _proposer
from sim_bridge.action_probe import ActionProbe
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episode_gen import EpisodeSampler


def main() -> None:
    out, states = sys.argv[1], int(sys.argv[2])
    beams = int(sys.argv[3]) if len(sys.argv) > 3 else 720
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 77
    bundle = sys.argv[5] if len(sys.argv) > 5 else "models/objnav-ppo-lag"
    cfg = CriticConfig(policy_bundle=bundle)
    names = ["expert:careless", "random", "bundle"]
    proposers = {n: _proposer(n, cfg, seed + i) for i, n in enumerate(names)}
    env = make_env(
        EpisodeSampler(["objnav"]),
        EnvConfig(nav_size=(96, 96), render_manip=False, max_steps=80, range_scan=True),
    )
    probe = ActionProbe(env, verify=False)
    rng = np.random.default_rng([seed, 5])
    rows = {k: [] for k in ("labels", "full", "obj", "scan72", "obj72", "proprio", "ep", "prop")}
    t0, ep = time.perf_counter(), 0
    while len(rows["labels"]) < states:
        obs, _ = env.reset(seed=seed * 100_003 + ep)
        name = names[ep % len(names)]
        for t in range(80):
            if t % 3 == 0:
                rows["labels"].append(probe.label().astype(np.uint8))
                full, obj = env.backend.range_scans(beams)
                rows["full"].append(full)
                rows["obj"].append(obj)
                rows["scan72"].append(obs["scan"])
                rows["obj72"].append(obs["scan_objects"])
                rows["proprio"].append(obs["proprio"])
                rows["ep"].append(ep)
                rows["prop"].append(names.index(name))
            action = proposers[name](env, obs)
            if name != "random" and rng.random() < 0.2:
                action = int(rng.choice(MOVING))
            obs, _, _, term, trunc, _ = env.step(action)
            if term or trunc or len(rows["labels"]) >= states:
                break
        ep += 1
        if ep % 10 == 0:
            print(
                f"{len(rows['labels'])}/{states} states, {ep} episodes, "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    np.savez_compressed(
        out,
        beams=beams,
        **{k: np.asarray(v) for k, v in rows.items()},
        actions=np.array([a.name for a in ACTIONS]),
    )
    print("saved", out, len(rows["labels"]), "states", f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
