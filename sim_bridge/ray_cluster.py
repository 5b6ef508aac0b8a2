"""Ray, on demand: the simulator workers of training (:class:`sim_bridge.vec_env.RayVecEnv`)
and of evaluation (:mod:`safevla_eval.ray_runner`) as Ray actors, on this machine or a cluster.

Ray is optional: nothing imports it at module level, and :func:`require_ray` names the install
command when it is missing (``scripts/setup.sh`` installs it; by hand:
``pip install -e '.[fleet]'``).

Addresses (``--ray [ADDRESS]``, ``env.ray_address``):

* ``""`` or ``"local"``: start a Ray instance inside this process (one CPU per core, at least
  as many as the workers asked for), shut down when the process exits. Its actors run at this
  process's priority, as subprocess workers do (Ray's default starts workers 15 nice levels
  lower, which starves them on a busy machine; ``RAY_worker_niceness`` set by the user wins);
* ``"auto"``: the cluster already running on this machine (``ray start --head``);
* ``"HOST:6379"`` (a cluster's GCS) or ``"ray://HOST:10001"`` (Ray Client): a remote cluster.
  Its nodes need this package installed (the same version) and, for bundles or episode files
  given by path, the same paths.

A process that has already joined Ray (e.g. a test's ``ray.init``) keeps that instance whatever
the address says.
"""

from __future__ import annotations

import logging
import os

from safevla_core.errors import UserError

RAY_INSTALL = "pip install -e '.[fleet]'  (or: pip install 'ray>=2.9')"
LOCAL_ADDRESSES = ("", "local")
NICENESS = "RAY_worker_niceness"  # Ray's name: worker priority below the driver's
# How long new actors may take to get their CPUs and build their envs before giving up.
START_TIMEOUT_S = 300.0


class RayMissingError(UserError):
    """Ray was asked for but is not installed; the message names the install command."""


class RayClusterError(UserError):
    """The Ray cluster cannot run what was asked (unreachable, too few CPUs, CPUs taken); the
    message says which and what to change."""


def require_ray():
    """The ``ray`` module, or :class:`RayMissingError` naming the install command."""
    try:
        import ray
    except ImportError as exc:
        raise RayMissingError(
            f"Ray is not installed in this Python ({exc}); install it with {RAY_INSTALL}, "
            "or run without --ray"
        ) from None
    return ray


def connect(address: str = "", min_cpus: int = 1):
    """Join Ray and return the ``ray`` module.

    Args:
        address: see the module docstring.
        min_cpus: a local instance started here gets at least this many CPUs (one actor per
            CPU), so it never waits for CPUs it cannot get.
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    if address in LOCAL_ADDRESSES:
        before = os.environ.get(NICENESS)
        os.environ.setdefault(NICENESS, "0")  # read once, by the raylet ray.init starts
        try:
            ray.init(
                num_cpus=max(os.cpu_count() or 1, int(min_cpus)),
                include_dashboard=False,
                logging_level=logging.WARNING,
            )
        finally:
            if before is None:
                os.environ.pop(NICENESS, None)
    else:
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise RayClusterError(
                f"cannot reach the Ray cluster at {address!r} ({exc}); start it with "
                "`ray start --head` or give its address (HOST:6379 or ray://HOST:10001)"
            ) from None
    return ray


def cluster_cpus(ray) -> float:
    """CPUs of the joined cluster (all nodes)."""
    return float(ray.cluster_resources().get("CPU", 0.0))


def wait_started(ray, refs: list, cpus_each: float, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until every actor answered its first call (``refs``). An actor whose CPUs are
    taken (another job, or other actors of this process) would wait for them forever; after
    ``timeout_s`` this raises :class:`RayClusterError` saying how many CPUs are free. A failed
    construction counts as an answer: ``ray.get`` on ``refs`` raises it."""
    _, waiting = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
    if waiting:
        free = float(ray.available_resources().get("CPU", 0.0))
        raise RayClusterError(
            f"{len(waiting)} of {len(refs)} Ray actors did not start within {timeout_s:g} s: "
            f"the cluster has {free:g} of {cluster_cpus(ray):g} CPUs free and each actor takes "
            f"{cpus_each:g}; end other Ray work or use fewer workers"
        )
