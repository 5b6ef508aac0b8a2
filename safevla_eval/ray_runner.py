"""``safevla eval --ray``: the evaluation jobs on a pool of Ray actors, on this machine or a
cluster (addresses: :mod:`sim_bridge.ray_cluster`).

Each actor is one worker of :func:`safevla_eval.runner.run_jobs`: it keeps one simulator env
and one agent per policy for all the jobs it runs (a bundle loads once per actor). Jobs go to
whichever actor is free, two in flight per actor so none waits for its next job; the records
come back in job order, and since every random draw is seeded by ``(seed, episode index)`` they
equal those of ``--workers K`` and of one process. On a cluster, the bundles, the critic and
the episode files named by path must exist at the same paths on every node.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from safevla_eval.metrics import EpisodeRecord
from safevla_eval.runner import Job, close_worker_cache, worker_run

IN_FLIGHT_PER_ACTOR = 2


class _EvalActor:
    """One evaluation worker in a Ray actor (wrapped with ``ray.remote`` on first use)."""

    def ready(self) -> bool:
        return True

    def run(self, job: Job) -> EpisodeRecord:
        return worker_run(job)

    def close(self) -> None:
        close_worker_cache()


_ACTOR_CLASSES: dict = {}


def pool_size(ray, workers: int, jobs: int) -> int:
    """Actors to start: ``workers``, or with 0 one per CPU of the cluster; never more than
    there are jobs. Raises RayClusterError when the cluster has fewer CPUs than asked for."""
    from sim_bridge.ray_cluster import RayClusterError, cluster_cpus

    cpus = int(cluster_cpus(ray))
    if workers > cpus:
        raise RayClusterError(
            f"--workers {workers} Ray actors need {workers} CPUs but the Ray cluster has "
            f"{cpus}; use fewer workers or a larger cluster"
        )
    return max(1, min(workers or cpus, jobs))


def run_jobs_ray(
    jobs: Sequence[Job],
    address: str = "",
    workers: int = 0,
    progress: Callable[[int], None] | None = None,
    on_record: Callable[[int, EpisodeRecord], None] | None = None,
) -> list[EpisodeRecord]:
    """Run every job on Ray actors; records come back in job order.

    Args:
        jobs: the episodes to run.
        address: the Ray cluster ("" = a local instance started here).
        workers: actors (one CPU each); 0 = one per CPU of the cluster.
        progress: called with 1 after each finished episode.
        on_record: called with (job index, record) as each episode finishes.

    Raises:
        ValueError: ``workers < 0``.
        sim_bridge.ray_cluster.RayClusterError: more workers than the cluster has CPUs, or
            the actors did not get their CPUs in time.
    """
    from sim_bridge.ray_cluster import RayClusterError, connect, wait_started

    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    out: list[EpisodeRecord | None] = [None] * len(jobs)
    if not jobs:
        return out
    ray = connect(address, min_cpus=max(1, workers))
    n = pool_size(ray, workers, len(jobs))
    if "eval" not in _ACTOR_CLASSES:
        _ACTOR_CLASSES["eval"] = ray.remote(_EvalActor)
    cls = _ACTOR_CLASSES["eval"].options(num_cpus=1, scheduling_strategy="SPREAD")
    actors = [cls.remote() for _ in range(n)]
    try:
        wait_started(ray, [a.ready.remote() for a in actors], 1)
    except RayClusterError:
        _stop(ray, actors)
        raise
    todo = iter(enumerate(jobs))
    pending: dict = {}  # object ref -> (job index, actor)

    def submit(actor) -> None:
        nxt = next(todo, None)
        if nxt is not None:
            pending[actor.run.remote(nxt[1])] = (nxt[0], actor)

    try:
        for _ in range(IN_FLIGHT_PER_ACTOR):
            for actor in actors:
                submit(actor)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            i, actor = pending.pop(ref)
            out[i] = ray.get(ref)  # a failed job raises here, with its worker's traceback
            if on_record:
                on_record(i, out[i])
            if progress:
                progress(1)
            submit(actor)
    finally:
        _stop(ray, actors)
    return out


def _stop(ray, actors: list) -> None:
    """Close the actors' envs (bounded wait), then end them."""
    from ray.exceptions import RayError

    with contextlib.suppress(RayError):  # a dead or stuck actor is ended all the same
        ray.get([a.close.remote() for a in actors], timeout=10)
    for a in actors:
        ray.kill(a)
