"""Throughput of the embedded MuJoCo backend: env steps per second and reset time.

A step here is what an environment step costs the simulator: one random action through
physics plus the camera frames the task needs (nav only for ObjectNav; nav + manip for
manipulation tasks). Figures are printed, not asserted.

    python benchmarks/sim_steps.py [--steps 600] [--episode-len 100] [--workers 2]

Wall-clock figures drop when other jobs share the CPUs; the "by CPU time" figure (this
process's CPU seconds, all threads) is what one free core would give.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from sim_bridge.mujoco import MujocoBackend, MujocoConfig


def run_steps(
    cameras: tuple[str, ...], steps: int, episode_len: int, seed: int, include_reset: bool
) -> tuple[float, int, float]:
    """Wall seconds for ``steps`` env steps (random actions), the number of resets, and the
    CPU seconds of this process (all its threads) -- robust to other load on the machine."""
    env = MujocoBackend(MujocoConfig())
    rng = np.random.default_rng(seed)
    scene = seed * 1000
    env.reset(scene)
    for cam in cameras:
        env.render(cam)  # create the renderers outside the timing
    resets = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps):
        if include_reset and k and k % episode_len == 0:
            scene += 1
            env.reset(scene)
            resets += 1
        env.step(int(rng.integers(20)))
        for cam in cameras:
            env.render(cam)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    env.close()
    return elapsed, resets, cpu


def _worker(args) -> tuple[float, int, float]:
    return run_steps(*args)


def reset_times(n: int) -> tuple[float, float]:
    """Mean seconds of a reset to a new scene and to the same scene again."""
    env = MujocoBackend(MujocoConfig())
    env.reset(0)
    env.render()
    t0 = time.perf_counter()
    for s in range(1, n + 1):
        env.reset(s)
        env.render()  # a new scene needs a new renderer; count it
    new = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        env.reset(n)
        env.render()
    same = (time.perf_counter() - t0) / n
    env.close()
    return new, same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="steps per measurement")
    parser.add_argument("--episode-len", type=int, default=100, help="steps between resets")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--resets", type=int, default=10)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.episode_len < 1 or args.workers < 1 or args.resets < 1:
        parser.error("--steps, --episode-len, --workers and --resets must be >= 1")
    cfg = MujocoConfig()
    print(
        f"MuJoCo backend, images nav {cfg.nav_size} manip {cfg.manip_size}, "
        f"MUJOCO_GL={os.environ['MUJOCO_GL']}, {os.cpu_count()} CPUs"
    )
    new, same = reset_times(args.resets)
    print(
        f"reset: new scene {new * 1e3:.1f} ms (generate + compile + renderer), "
        f"same scene {same * 1e3:.1f} ms"
    )
    for cameras in (("nav",), ("nav", "manip")):
        label = "+".join(cameras)
        for include in (False, True):
            sec, resets, cpu = run_steps(cameras, args.steps, args.episode_len, 1, include)
            tag = f"reset every {args.episode_len} included" if include else "reset excluded"
            print(
                f"1 process, {label:9s}, {tag:28s}: {args.steps / sec:7.1f} steps/s "
                f"(by CPU time {args.steps / cpu:7.1f}/s; {resets} resets)"
            )
        jobs = [(cameras, args.steps, args.episode_len, 1 + w, True) for w in range(args.workers)]
        t0 = time.perf_counter()
        with mp.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(_worker, jobs)
        wall = time.perf_counter() - t0
        per_worker = [args.steps / sec for sec, _, _ in results]
        print(
            f"{args.workers} processes, {label:9s}, resets included: "
            f"{sum(per_worker):7.1f} steps/s summed over workers "
            f"({min(per_worker):.1f}-{max(per_worker):.1f} each; "
            f"{args.steps * args.workers / wall:.1f}/s by wall clock incl. start-up)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
