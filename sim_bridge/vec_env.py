"""K Safety-CHORES environments stepped together, with auto-reset.

Same 6-tuple convention as :class:`sim_bridge.env.SafeChoresEnv`, batched::

    obs, infos = venv.reset(seed=0)
    obs, rewards, costs, terminated, truncated, infos = venv.step(actions)   # actions: (K,)

* ``obs``: dict of stacked arrays ``nav_rgb`` (K, H, W, 3), ``manip_rgb``, ``prev_action`` (K,),
  ``holding`` (K,), ``bump`` (K, 2), ``step`` (K,), and ``instruction``: a list of K strings.
* ``rewards``, ``costs``: float32 (K,); ``terminated``, ``truncated``: bool (K,);
  ``infos``: list of K dicts.
* Auto-reset: when env k finishes, ``obs[k]`` is already the first observation of its next
  episode; ``infos[k]["final_obs"]`` holds the last observation of the finished one and
  ``infos[k]["episode"] = {"return", "cost", "length", "success", "episode_id"}``.

:class:`SubprocVecEnv` runs each env in its own process (``spawn`` by default; the env --
and with it the MuJoCo model and its rendering context -- is built inside the worker by the
picklable ``env_fn``). :class:`SyncVecEnv` runs them in-process (tests, debugging).
:class:`RayVecEnv` runs each env in a Ray actor, on this machine or a cluster (same API and,
for the same seeds, the same arrays; Ray is imported only there, see
:mod:`sim_bridge.ray_cluster`). :func:`vec_env_of` picks one of the three by name
(:data:`VEC_BACKENDS`). ``expert_actions(mode)`` asks each env's own privileged expert for its
next action (for behaviour-cloning data collection). ``source_call(k, name, args)`` reaches env
k's episode source wherever it lives (the trainer's risk-replay feedback and checkpoints,
:mod:`safevla_train.risk`).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from safevla_core.actions import NUM_ACTIONS
from sim_bridge.robot import SCAN_KEYS

if TYPE_CHECKING:  # imported where used: the trainer's config reads VEC_BACKENDS cheaply
    from sim_bridge.env import SafeChoresEnv
    from sim_bridge.expert import Expert

ARRAY_KEYS = ("nav_rgb", "manip_rgb", "prev_action", "holding", "bump", "proprio", "explored")
ARRAY_KEYS += ("wrist_yaw", "step")
# reported only by envs that cast them (``EnvConfig.range_scan``), stacked when present
OPTIONAL_ARRAY_KEYS = SCAN_KEYS
# Where the envs of a vectorised env run: this process, one worker process each, one Ray actor
# each (this machine or a cluster).
VEC_BACKENDS = ("sync", "subprocess", "ray")


def stack_obs(obs_list: list[dict]) -> dict:
    """Stack per-env observations; ``instruction`` becomes a list of strings."""
    out = {k: np.stack([np.asarray(o[k]) for o in obs_list]) for k in ARRAY_KEYS}
    for k in OPTIONAL_ARRAY_KEYS:
        if k in obs_list[0]:
            out[k] = np.stack([np.asarray(o[k]) for o in obs_list])
    out["instruction"] = [o["instruction"] for o in obs_list]
    return out


class Labels(NamedTuple):
    """The teacher's labels of every env's current state ([K] leading axis)."""

    actions: np.ndarray  # the expert's action, int64
    goal: np.ndarray  # ``end`` would succeed now, bool
    seen: np.ndarray  # target types in view [K, SEEN_DIM], bool
    options: np.ndarray  # actions as good as the expert's [K, NUM_ACTIONS], bool


class _AutoReset:
    """One env plus its running episode totals and experts (lives in the worker)."""

    def __init__(self, env: SafeChoresEnv) -> None:
        self.env = env
        self.experts: dict[str, Expert] = {}
        self._ret = self._cost = 0.0

    def reset(self, seed: int | None):
        self._ret = self._cost = 0.0
        obs, info = self.env.reset(seed=seed)
        return obs, info

    def step(self, action: int):
        obs, r, c, term, trunc, info = self.env.step(action)
        self._ret += r
        self._cost += c
        if term or trunc:
            info["final_obs"] = obs
            info["episode"] = {
                "return": self._ret,
                "cost": self._cost,
                "length": self.env.steps,
                "success": bool(info["success"]),
                "episode_id": info["episode_id"],
            }
            obs, _ = self.reset(None)
        return obs, r, c, term, trunc, info

    def expert(self, mode: str) -> int:
        if mode not in self.experts:
            from sim_bridge.expert import Expert

            self.experts[mode] = Expert(mode)
        return self.experts[mode].act(self.env)

    def labels(self, mode: str) -> tuple[int, bool, np.ndarray, np.ndarray]:
        """The expert's action for the current state, whether ``end`` would succeed now,
        which target types are in view (training labels) and the expert's options (a mask
        over the actions, :attr:`sim_bridge.expert.Expert.options`)."""
        action = self.expert(mode)
        options = np.zeros(NUM_ACTIONS, bool)
        options[list(self.experts[mode].options)] = True
        return action, self.env.success_if_end(), self.env.types_in_view(), options

    def source(self, name: str, args: tuple | None):
        """Call method ``name`` of the env's episode source with ``args``, or read attribute
        ``name`` when ``args`` is None."""
        value = getattr(self.env.source, name)
        return value if args is None else value(*args)


def run_command(runner: _AutoReset, cmd: str, arg):
    """One worker command on ``runner`` (the subprocess and Ray workers share these)."""
    if cmd == "reset":
        return runner.reset(arg)
    if cmd == "step":
        return runner.step(arg)
    if cmd == "expert":
        return runner.expert(arg)
    if cmd == "labels":
        return runner.labels(arg)
    if cmd == "source":
        return runner.source(*arg)
    raise ValueError(f"unknown command {cmd!r}")


def _worker(remote, parent_remote, env_fn: Callable[[], SafeChoresEnv]) -> None:
    parent_remote.close()
    try:
        runner = _AutoReset(env_fn())
    except Exception:  # report construction errors to the parent instead of hanging it
        remote.send(("error", traceback.format_exc()))
        remote.close()
        return
    remote.send(("ok", None))
    while True:
        try:
            cmd, arg = remote.recv()
        except EOFError:
            break
        if cmd == "close":
            runner.env.close()
            remote.send(("ok", None))
            break
        try:
            remote.send(("ok", run_command(runner, cmd, arg)))
        except Exception:
            remote.send(("error", traceback.format_exc()))
    remote.close()


def _batch(results) -> tuple:
    obs, r, c, term, trunc, infos = zip(*results)
    return (
        stack_obs(list(obs)),
        np.asarray(r, np.float32),
        np.asarray(c, np.float32),
        np.asarray(term, bool),
        np.asarray(trunc, bool),
        list(infos),
    )


def _labels(results: list[tuple]) -> Labels:
    actions, goal, seen, options = zip(*results)
    return Labels(
        np.asarray(actions, np.int64),
        np.asarray(goal, bool),
        np.stack(seen).astype(bool),
        np.stack(options).astype(bool),
    )


def _seeds(seed: int | None, k: int) -> list[int | None]:
    return [None] * k if seed is None else [int(seed) + i for i in range(k)]


class SyncVecEnv:
    """K envs stepped one after another in this process (same API as SubprocVecEnv)."""

    def __init__(self, env_fns: list[Callable[[], SafeChoresEnv]]) -> None:
        if not env_fns:
            raise ValueError("SyncVecEnv needs at least one env_fn")
        self.runners = [_AutoReset(fn()) for fn in env_fns]
        self.num_envs = len(self.runners)
        self.envs = [r.env for r in self.runners]

    def reset(self, seed: int | None = None):
        results = [r.reset(s) for r, s in zip(self.runners, _seeds(seed, self.num_envs))]
        obs, infos = zip(*results)
        return stack_obs(list(obs)), list(infos)

    def step(self, actions):
        actions = _check_actions(actions, self.num_envs)
        return _batch([r.step(int(a)) for r, a in zip(self.runners, actions)])

    def expert_actions(self, mode: str = "careful") -> np.ndarray:
        return np.array([r.expert(mode) for r in self.runners], np.int64)

    def expert_labels(self, mode: str = "careful") -> Labels:
        """The expert's :class:`Labels` of every env's current state."""
        return _labels([r.labels(mode) for r in self.runners])

    def request_labels(self, mode: str = "careful") -> None:
        """Start :meth:`expert_labels` (here: computed at once); :meth:`receive_labels` ends it."""
        self._pending = self.expert_labels(mode)

    def receive_labels(self) -> Labels:
        return self._pending

    def source_call(self, k: int, name: str, args: tuple | None = ()):
        """Method ``name`` of env k's episode source called with ``args`` (attribute ``name``
        read when ``args`` is None)."""
        return self.runners[k].source(name, None if args is None else tuple(args))

    def close(self) -> None:
        for r in self.runners:
            r.env.close()


def _check_actions(actions, k: int) -> np.ndarray:
    actions = np.asarray(actions).reshape(-1)
    if actions.shape != (k,):
        raise ValueError(f"expected {k} actions, got shape {actions.shape}")
    return actions


class _CommandVecEnv:
    """The batched calls of the worker-backed vec envs (:class:`SubprocVecEnv`,
    :class:`RayVecEnv`): each sends one :func:`run_command` per env through ``_call``."""

    num_envs: int

    def _call(self, cmd: str, args: list) -> list:
        raise NotImplementedError

    def reset(self, seed: int | None = None):
        obs, infos = zip(*self._call("reset", _seeds(seed, self.num_envs)))
        return stack_obs(list(obs)), list(infos)

    def step(self, actions):
        actions = _check_actions(actions, self.num_envs)
        return _batch(self._call("step", [int(a) for a in actions]))

    def expert_actions(self, mode: str = "careful") -> np.ndarray:
        return np.array(self._call("expert", [mode] * self.num_envs), np.int64)

    def expert_labels(self, mode: str = "careful") -> Labels:
        """The expert's :class:`Labels` of every env's current state."""
        return _labels(self._call("labels", [mode] * self.num_envs))


class SubprocVecEnv(_CommandVecEnv):
    """K envs, each in its own worker process.

    Args:
        env_fns: picklable zero-argument callables building a SafeChoresEnv (e.g.
            ``functools.partial(make_env, ...)`` of a module-level function).
        start_method: multiprocessing start method; "spawn" (default) or "forkserver" --
            never fork a process that already holds a rendering context.
    """

    def __init__(
        self, env_fns: list[Callable[[], SafeChoresEnv]], start_method: str = "spawn"
    ) -> None:
        if not env_fns:
            raise ValueError("SubprocVecEnv needs at least one env_fn")
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start_method must be 'spawn' or 'forkserver', got {start_method!r}")
        ctx = mp.get_context(start_method)
        self.num_envs = len(env_fns)
        self.remotes, self.procs = [], []
        for fn in env_fns:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, parent, fn), daemon=True)
            proc.start()
            child.close()
            self.remotes.append(parent)
            self.procs.append(proc)
        self._closed = False
        self._gather()  # construction acknowledgements (raises on a worker error)

    def _gather(self, ks: list[int] | None = None) -> list:
        out = []
        errors = []
        for k in range(self.num_envs) if ks is None else ks:
            status, payload = self.remotes[k].recv()
            if status == "error":
                errors.append(f"env {k}:\n{payload}")
            out.append(payload)
        if errors:
            self.close()
            raise RuntimeError("vec env worker failed:\n" + "\n".join(errors))
        return out

    def _call(self, cmd: str, args: list) -> list:
        for remote, arg in zip(self.remotes, args):
            remote.send((cmd, arg))
        return self._gather()

    def request_labels(self, mode: str = "careful") -> None:
        """Start :meth:`expert_labels` in the workers; the caller works meanwhile (e.g. runs
        the learner) and collects them with :meth:`receive_labels`."""
        for remote in self.remotes:
            remote.send(("labels", mode))

    def receive_labels(self) -> Labels:
        return _labels(self._gather())

    def source_call(self, k: int, name: str, args: tuple | None = ()):
        """Method ``name`` of env k's episode source (in its worker) called with ``args``
        (attribute ``name`` read when ``args`` is None)."""
        self.remotes[k].send(("source", (name, None if args is None else tuple(args))))
        return self._gather([k])[0]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for remote in self.remotes:
            try:
                remote.send(("close", None))
                remote.recv()
            except (EOFError, OSError, BrokenPipeError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


class _EnvActor:
    """One env in a Ray actor (the class :class:`RayVecEnv` wraps with ``ray.remote``)."""

    def __init__(self, env_fn: Callable[[], SafeChoresEnv]) -> None:
        self.runner = _AutoReset(env_fn())

    def ready(self) -> bool:
        return True

    def call(self, cmd: str, arg):
        return run_command(self.runner, cmd, arg)

    def close(self) -> None:
        self.runner.env.close()


_ACTOR_CLASSES: dict = {}


class RayVecEnv(_CommandVecEnv):
    """K envs, each in its own Ray actor (same API as SubprocVecEnv, same results for the
    same seeds: env k is built by ``env_fns[k]`` and reset with seed ``seed + k``).

    Args:
        env_fns: picklable zero-argument callables building a SafeChoresEnv; they are
            shipped to the actors (on a cluster: to other machines, which need this package).
        address: the Ray cluster (:mod:`sim_bridge.ray_cluster`; "" = a local instance).
        cpus_per_env: CPUs each actor reserves; actors are spread over the cluster's nodes.

    Raises:
        sim_bridge.ray_cluster.RayClusterError: the cluster has fewer CPUs than the actors
            reserve, or they did not get them in time (a one-line user error in the CLI).
        RuntimeError: an env failed to build.
    """

    def __init__(
        self,
        env_fns: list[Callable[[], SafeChoresEnv]],
        address: str = "",
        cpus_per_env: float = 1.0,
    ) -> None:
        from sim_bridge.ray_cluster import RayClusterError, cluster_cpus, connect, wait_started

        if not env_fns:
            raise ValueError("RayVecEnv needs at least one env_fn")
        self.num_envs = len(env_fns)
        self.ray = ray = connect(address, min_cpus=math.ceil(self.num_envs * cpus_per_env))
        need, have = self.num_envs * cpus_per_env, cluster_cpus(ray)
        if need > have:
            raise RayClusterError(
                f"{self.num_envs} envs x {cpus_per_env} CPU need {need:g} CPUs but the Ray "
                f"cluster has {have:g}; use fewer envs (env.num_envs) or a larger cluster"
            )
        if "env" not in _ACTOR_CLASSES:
            _ACTOR_CLASSES["env"] = ray.remote(_EnvActor)
        actor = _ACTOR_CLASSES["env"].options(num_cpus=cpus_per_env, scheduling_strategy="SPREAD")
        self.actors = [actor.remote(fn) for fn in env_fns]
        self._closed = False
        self._pending: list = []
        ready = [a.ready.remote() for a in self.actors]
        try:
            wait_started(ray, ready, cpus_per_env)
        except RayClusterError:
            self.close()
            raise
        self._get(ready)  # raises on a construction error

    def _get(self, refs: list) -> list:
        from ray.exceptions import RayError

        try:
            return self.ray.get(refs)
        except RayError:
            errors = []
            for k, ref in enumerate(refs):
                try:
                    self.ray.get(ref)
                except RayError as exc:
                    errors.append(f"env {k}:\n{exc}")
            self.close()
            raise RuntimeError("vec env worker failed:\n" + "\n".join(errors)) from None

    def _submit(self, cmd: str, args: list) -> list:
        return [a.call.remote(cmd, arg) for a, arg in zip(self.actors, args)]

    def _call(self, cmd: str, args: list) -> list:
        return self._get(self._submit(cmd, args))

    def request_labels(self, mode: str = "careful") -> None:
        """Start :meth:`expert_labels` in the actors; :meth:`receive_labels` collects them."""
        self._pending = self._submit("labels", [mode] * self.num_envs)

    def receive_labels(self) -> Labels:
        return _labels(self._get(self._pending))

    def source_call(self, k: int, name: str, args: tuple | None = ()):
        """Method ``name`` of env k's episode source (in its actor) called with ``args``
        (attribute ``name`` read when ``args`` is None)."""
        ref = self.actors[k].call.remote("source", (name, None if args is None else tuple(args)))
        return self._get([ref])[0]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        from ray.exceptions import GetTimeoutError, RayError

        with contextlib.suppress(RayError, GetTimeoutError):  # a dead actor is closed too
            self.ray.get([a.close.remote() for a in self.actors], timeout=10)
        for a in self.actors:
            self.ray.kill(a)


def vec_env_of(
    env_fns: list[Callable[[], SafeChoresEnv]], kind: str = "subprocess", ray_address: str = ""
):
    """The vectorised env of ``env_fns`` on backend ``kind`` (:data:`VEC_BACKENDS`):
    :class:`SyncVecEnv`, :class:`SubprocVecEnv` or :class:`RayVecEnv` (at ``ray_address``)."""
    if kind == "sync":
        return SyncVecEnv(env_fns)
    if kind == "subprocess":
        return SubprocVecEnv(env_fns)
    if kind == "ray":
        return RayVecEnv(env_fns, ray_address)
    raise ValueError(f"vec env backend {kind!r}: use one of {VEC_BACKENDS}")


def _env_from(episodes, config, backend: str | None) -> SafeChoresEnv:
    from sim_bridge.env import make_env

    return make_env(episodes, config, backend)


def make_vec_env(
    num_envs: int,
    episodes=None,
    config=None,
    subprocess: bool = True,
    tasks: tuple[str, ...] = ("objnav",),
    backend: str | None = None,
    vec_backend: str | None = None,
    ray_address: str = "",
):
    """K envs over an episode list (env k gets ``episodes[k::K]``) or, with ``episodes=None``,
    over on-the-fly training episodes of ``tasks`` (:class:`sim_bridge.episode_gen.
    EpisodeSampler`, one per env; seed them with ``reset(seed=...)``). ``backend``: a
    simulator by name (:data:`sim_bridge.backends.BACKENDS`), None = ``config.backend``.

    Returns a :class:`SubprocVecEnv` (``subprocess=True``) or a :class:`SyncVecEnv`, or with
    ``vec_backend`` the one it names (:func:`vec_env_of`; "ray" at ``ray_address``).
    """
    import functools

    from sim_bridge.episode_gen import EpisodeSampler

    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if episodes is not None and len(episodes) < num_envs:
        raise ValueError(
            f"{len(episodes)} episodes cannot feed {num_envs} envs; pass more "
            "episodes or fewer envs"
        )
    fns = []
    for k in range(num_envs):
        source = list(episodes[k::num_envs]) if episodes is not None else EpisodeSampler(tasks)
        fns.append(functools.partial(_env_from, source, config, backend))
    kind = vec_backend or ("subprocess" if subprocess else "sync")
    return vec_env_of(fns, kind, ray_address)
