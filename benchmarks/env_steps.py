"""Throughput of the whole CMDP environment (physics + render + cost model + task), the figure
the trainer and evaluator see: ``SafeChoresEnv.step`` with random actions, single process and
vectorised (SubprocVecEnv, one worker per core), for ObjectNav (nav camera only; and with the
explored map, ``EnvConfig.explored_map``, beside it) and Fetch (nav + manipulation camera).
Prints measured figures; asserts nothing.

Usage: .venv/bin/python benchmarks/env_steps.py [--steps N] [--envs K]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import sim_bridge.mujoco  # noqa: F401  (sets MUJOCO_GL before mujoco is imported)
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episode_gen import EpisodeSampler
from sim_bridge.vec_env import make_vec_env

# Random policy without the terminal actions, so episodes run to the step limit.
MOVES = np.array([i for i in range(20) if i not in (4, 5)])


def _config(manip: bool, explored: bool) -> EnvConfig:
    return EnvConfig(render_manip=manip, max_steps=200, explored_map=explored)


def single(task: str, manip: bool, steps: int, explored: bool = False) -> float:
    env = make_env(EpisodeSampler((task,)), config=_config(manip, explored))
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, _, term, trunc, _ = env.step(int(rng.choice(MOVES)))
        if term or trunc:
            env.reset()
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def vectorised(task: str, manip: bool, steps: int, envs: int, explored: bool = False) -> float:
    vec = make_vec_env(envs, config=_config(manip, explored), tasks=(task,))
    rng = np.random.default_rng(0)
    vec.reset(seed=0)
    rounds = max(1, steps // envs)
    t0 = time.perf_counter()
    for _ in range(rounds):
        vec.step(rng.choice(MOVES, size=envs))
    rate = rounds * envs / (time.perf_counter() - t0)
    vec.close()
    return rate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000, help="steps per measurement")
    p.add_argument("--envs", type=int, default=os.cpu_count() or 2, help="vectorised envs")
    args = p.parse_args(argv)
    print(f"SafeChoresEnv, default 128x128 frames, {os.cpu_count()} CPUs, resets included")
    for task, manip, explored in (
        ("objnav", False, False),
        ("objnav", False, True),
        ("fetch", True, False),
    ):
        what = ("nav+manip" if manip else "nav") + ("+map" if explored else "")
        one = single(task, manip, args.steps, explored)
        many = vectorised(task, manip, args.steps, args.envs, explored)
        print(
            f"{task:<7} {what:<9}: 1 process {one:7.1f} steps/s | "
            f"{args.envs} subprocess envs {many:7.1f} steps/s ({many / one:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
