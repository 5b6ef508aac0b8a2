"""Simulator workers as subprocesses vs Ray actors (``--ray``), and what one learner can feed
(the figures of docs/scaling.md). Prints measured figures side by side; asserts nothing.

1. Env steps/s of the trainer's vectorised env (``safevla_train.risk.make_envs``: training
   episodes, 96x96 navigation camera, risk samplers in the workers) with 1 and 2 workers on
   each backend, random non-terminal actions, resets included, after a warm-up, the median of
   alternating timed windows; "sync" (the default: every env in the learner's process) for
   reference.
2. The round trip of one call to one worker (a sampler counter read), the bytes one worker
   sends per step (its observation and info, pickled) and per episode end, and what Ray adds
   to one lockstep step of N actors that do no work (N idle actors answering with a
   step-sized observation).
3. The learner alone: PPO-Lagrangian rollout inference + update per env step for K envs whose
   observations cost nothing (a stub env), i.e. the most env steps/s one learner process takes.

Usage: MUJOCO_GL=egl .venv/bin/python benchmarks/fleet_steps.py [--steps N] [--workers 1 2]
       [--repeats R] [--ray ADDRESS] [--fanout 1 2 4 8] [--learner-envs 4 16 64] [--threads T]
"""

from __future__ import annotations

import argparse
import os
import pickle
import time

import numpy as np
import torch

import sim_bridge.mujoco  # noqa: F401  (sets MUJOCO_GL before mujoco is imported)
from safevla_train.config import EnvSettings, ModelConfig, PPOConfig, RiskConfig
from safevla_train.risk import make_envs

# Random policy without the terminal actions, so episodes run to the step limit.
MOVES = np.array([i for i in range(20) if i not in (4, 5)])
WARMUP_ROUNDS = 10
# Ray starts its workers 15 nice levels below the driver unless told otherwise; 0 gives the
# actors the priority the subprocess workers have, so the two are compared alike.
NICENESS = "RAY_worker_niceness"  # Ray's own spelling
os.environ.setdefault(NICENESS, "0")


def _round(venv, rng, k: int) -> None:
    venv.step(rng.choice(MOVES, size=k))


def env_rates(kinds: list[tuple[str, int]], steps: int, repeats: int, address: str) -> dict:
    """Median env steps/s and ms per one-worker round trip of each (backend, workers): every
    vec env is built first, then their timed windows alternate ``repeats`` times, so a change
    in the machine's load hits all of them alike."""
    built = {}
    try:
        for kind, k in kinds:
            settings = EnvSettings(num_envs=k, vec_backend=kind, ray_address=address)
            venv, samplers = make_envs(settings, RiskConfig())
            built[kind, k] = (venv, samplers, np.random.default_rng(0))
            venv.reset(seed=0)
            for _ in range(WARMUP_ROUNDS):
                _round(venv, built[kind, k][2], k)
        rates: dict = {key: [] for key in built}
        for _ in range(repeats):
            for (kind, k), (venv, _, rng) in built.items():
                rounds = max(1, steps // k)
                t0 = time.perf_counter()
                for _ in range(rounds):
                    _round(venv, rng, k)
                rates[kind, k].append(rounds * k / (time.perf_counter() - t0))
        out = {}
        for key, (_, samplers, _) in built.items():
            calls = 100
            t0 = time.perf_counter()
            for _ in range(calls):
                _ = samplers[0].fresh
            out[key] = (float(np.median(rates[key])), (time.perf_counter() - t0) / calls * 1e3)
        return out
    finally:
        for venv, _, _ in built.values():
            venv.close()


def payload_bytes() -> tuple[int, int]:
    """(bytes of one env's step result, bytes of a step that ends an episode), pickled as the
    workers send them."""
    venv, _ = make_envs(EnvSettings(num_envs=1, max_steps=3), RiskConfig())
    try:
        runner = venv.runners[0]
        runner.reset(0)
        plain = len(pickle.dumps(runner.step(int(MOVES[0])), protocol=5))
        runner.step(int(MOVES[0]))
        last = len(pickle.dumps(runner.step(int(MOVES[0])), protocol=5))  # final_obs + episode
    finally:
        venv.close()
    return plain, last


class StubVecEnv:
    """K envs whose steps cost nothing: random 96x96 frames, no reward, no cost, no ends."""

    def __init__(self, k: int) -> None:
        self.num_envs = k
        self.rng = np.random.default_rng(0)

    def _obs(self) -> dict:
        k = self.num_envs
        return {
            "nav_rgb": self.rng.integers(0, 256, (k, 96, 96, 3), np.uint8),
            "instruction": ["find the apple"] * k,
            "prev_action": np.zeros(k, np.int64),
            "holding": np.zeros(k, np.int64),
        }

    def reset(self, seed=None):
        return self._obs(), [{} for _ in range(self.num_envs)]

    def step(self, actions):
        k = self.num_envs
        zeros = np.zeros(k, np.float32)
        infos = [{"cost_by_category": {}} for _ in range(k)]
        return self._obs(), zeros, zeros, np.zeros(k, bool), np.zeros(k, bool), infos


class _NoFeedback:
    def record(self, episode_id: str, cost: float) -> None:
        pass

    def forget_running(self) -> None:
        pass


def learner_rate(k: int, rollout_steps: int, repeats: int) -> tuple[float, float, float]:
    """(env steps/s one learner takes, inference ms per batched step, update s per rollout)
    for ``k`` envs with the default model and PPO-Lagrangian settings; medians over
    ``repeats`` rollouts."""
    from safevla_train.model import VLAPolicy
    from safevla_train.ppo import make_algo
    from safevla_train.rollout import Collector

    torch.manual_seed(0)
    cfg = PPOConfig(env=EnvSettings(num_envs=k), rollout_steps=rollout_steps)
    model = VLAPolicy(ModelConfig()).eval()
    algo = make_algo(model, cfg)
    col = Collector(StubVecEnv(k), [_NoFeedback()] * k, model, rollout_steps, seed=0)
    col.sync_reset(0)
    col.collect()  # warm-up (instruction embedding, allocations)
    rng = np.random.default_rng(0)
    infer, update = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ro = col.collect()
        t1 = time.perf_counter()
        algo.after_rollout(0.0)
        algo.update(ro, False, rng)
        infer.append(t1 - t0)
        update.append(time.perf_counter() - t1)
    t_inf, t_upd = float(np.median(infer)), float(np.median(update))
    return k * rollout_steps / (t_inf + t_upd), t_inf / rollout_steps * 1e3, t_upd


class _Echo:
    """A Ray actor that answers each call with a step-sized observation and does no work."""

    def __init__(self) -> None:
        self.obs = {"nav_rgb": np.zeros((96, 96, 3), np.uint8), "step": 0}

    def step(self, action: int) -> tuple:
        return self.obs, 0.0, 0.0, False, False, {"cost_by_category": {}}


def fanout_ms(ray, n: int, rounds: int = 200) -> float:
    """ms per lockstep round (one call to each of ``n`` idle actors, all answers gathered):
    what Ray itself adds to a vectorised step of ``n`` envs."""
    actors = [ray.remote(_Echo).options(num_cpus=0).remote() for _ in range(n)]
    try:
        ray.get([a.step.remote(0) for a in actors])
        t0 = time.perf_counter()
        for _ in range(rounds):
            ray.get([a.step.remote(0) for a in actors])
        return (time.perf_counter() - t0) / rounds * 1e3
    finally:
        for a in actors:
            ray.kill(a)


def env_part(args) -> None:
    """Part 1 and the round trips of part 2, printed."""
    if args.ray in ("", "local"):  # every configuration is alive at once: a CPU per actor
        import ray

        ray.init(num_cpus=sum(args.workers), include_dashboard=False, logging_level="WARNING")
    kinds = [("sync", 1)] + [(b, k) for k in args.workers for b in ("subprocess", "ray")]
    rates = env_rates(kinds, args.steps, args.repeats, args.ray)
    print(f"sync (in the learner's process), 1 env: {rates['sync', 1][0]:7.1f} steps/s")
    print("workers | subprocess steps/s | ray steps/s | subprocess call ms | ray call ms")
    for k in args.workers:
        (sub, sub_rtt), (on_ray, ray_rtt) = rates["subprocess", k], rates["ray", k]
        print(f"{k:7d} | {sub:18.1f} | {on_ray:11.1f} | {sub_rtt:18.2f} | {ray_rtt:11.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=600, help="env steps per timed window")
    p.add_argument(
        "--repeats", type=int, default=3, help="timed windows (rollouts) per configuration"
    )
    p.add_argument(
        "--workers", type=int, nargs="*", default=[1, 2], help="worker counts (none: skip)"
    )
    p.add_argument("--ray", default="", metavar="ADDRESS", help="Ray cluster ('' = local)")
    p.add_argument(
        "--learner-envs", type=int, nargs="*", default=[4, 16, 64], help="K of the learner part"
    )
    p.add_argument(
        "--fanout", type=int, nargs="*", default=[1, 2, 4, 8], help="idle actor counts (part 2)"
    )
    p.add_argument("--rollout-steps", type=int, default=128, help="learner part: T per rollout")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (learner)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load}; ObjectNav training envs, nav 96x96")
    print(f"{NICENESS}={os.environ[NICENESS]}; medians of {args.repeats} windows")
    if args.workers:
        env_part(args)
    if args.fanout:
        from sim_bridge.ray_cluster import connect

        ray = connect(args.ray)
        rounds = ", ".join(f"{n}: {fanout_ms(ray, n):.2f}" for n in args.fanout)
        print(f"ray, ms per lockstep round of N idle actors (N: ms): {rounds}")
    plain, last = payload_bytes()
    print(f"per worker and step: {plain} bytes to the learner ({last} when an episode ends)")
    for k in args.learner_envs:
        rate, infer_ms, upd_s = learner_rate(k, args.rollout_steps, args.repeats)
        print(
            f"learner, {k} envs x {args.rollout_steps} steps: {rate:7.1f} env steps/s "
            f"(inference {infer_ms:.1f} ms per batched step, update {upd_s:.2f} s per rollout)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
