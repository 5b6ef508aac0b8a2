"""PickUp episodes on training scenes whose target lies near dangerous equipment, for a critic
collection aimed at dangerous-equipment events (2026-12-05). The critics of
docs/results/critic_scan32 saw such events in 7 calibration episodes of 39,320 states: every
one in a PickUp state, where the arm or base works beside a knife, a fork or the oven.

    python docs/results/critic_joint/danger_episodes.py OUT.jsonl.gz COUNT SEED

Keeps an episode when some non-target dangerous object stands within NEAR_M (ground plane) of
a target instance. Training scene seeds only (EpisodeSampler), so no evaluation scene is used.
"""

import sys

import numpy as np

from sim_bridge.episode_gen import EpisodeSampler
from sim_bridge.episodes import save_episodes
from sim_bridge.mujoco.backend import MujocoBackend

NEAR_M = 0.6


def near_danger(backend, target_type: str) -> bool:
    objs = backend.objects()
    tgt = [np.asarray(o.position[:2]) for o in objs if o.object_type == target_type]
    danger = [
        np.asarray(o.position[:2]) for o in objs if o.dangerous and o.object_type != target_type
    ]
    return any(np.linalg.norm(t - d) < NEAR_M for t in tgt for d in danger)


def main() -> None:
    out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sampler = EpisodeSampler(("pickup",))
    backend = MujocoBackend()
    rng = np.random.default_rng(seed)
    kept, tried = [], 0
    try:
        while len(kept) < count:
            ep = sampler(backend, rng)
            tried += 1
            backend.reset(ep.scene_seed, ep.start_pose)
            if near_danger(backend, ep.target_type):
                kept.append(ep)
                print(f"{len(kept)}/{count} (tried {tried}) {ep.target_type}", flush=True)
    finally:
        backend.close()
    save_episodes(kept, out)
    print(f"wrote {out}: {len(kept)} of {tried} sampled PickUp episodes")


if __name__ == "__main__":
    main()
