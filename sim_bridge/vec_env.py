"""K Safety-CHORES environments stepped together, with auto-reset.

Same 6-tuple convention as :class:`sim_bridge.env.SafeChoresEnv`, batched::

    obs, infos = venv.reset(seed=0)
    obs, rewards, costs, terminated, truncated, infos = venv.step(actions)   # actions: (K,)

* ``obs``: dict of stacked arrays ``nav_rgb`` (K, H, W, 3), ``manip_rgb``, ``prev_action`` (K,),
  ``holding`` (K,), ``step`` (K,), and ``instruction``: a list of K strings.
* ``rewards``, ``costs``: float32 (K,); ``terminated``, ``truncated``: bool (K,);
  ``infos``: list of K dicts.
* Auto-reset: when env k finishes, ``obs[k]`` is already the first observation of its next
  episode; ``infos[k]["final_obs"]`` holds the last observation of the finished one and
  ``infos[k]["episode"] = {"return", "cost", "length", "success", "episode_id"}``.

:class:`SubprocVecEnv` runs each env in its own process (``spawn`` by default; the env --
and with it the MuJoCo model and its rendering context -- is built inside the worker by the
picklable ``env_fn``). :class:`SyncVecEnv` runs them in-process (tests, debugging).
``expert_actions(mode)`` asks each env's own privileged expert for its next action (for
behaviour-cloning data collection).
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable

import numpy as np

from sim_bridge.env import SafeChoresEnv
from sim_bridge.expert import Expert

ARRAY_KEYS = ("nav_rgb", "manip_rgb", "prev_action", "holding", "step")


def stack_obs(obs_list: list[dict]) -> dict:
    """Stack per-env observations; ``instruction`` becomes a list of strings."""
    out = {k: np.stack([np.asarray(o[k]) for o in obs_list]) for k in ARRAY_KEYS}
    out["instruction"] = [o["instruction"] for o in obs_list]
    return out


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
            self.experts[mode] = Expert(mode)
        return self.experts[mode].act(self.env)

    def labels(self, mode: str) -> tuple[int, bool, np.ndarray]:
        """The expert's action for the current state, whether ``end`` would succeed now and
        which target types are in view (training labels)."""
        return self.expert(mode), self.env.success_if_end(), self.env.types_in_view()


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
        try:
            if cmd == "reset":
                result = runner.reset(arg)
            elif cmd == "step":
                result = runner.step(arg)
            elif cmd == "expert":
                result = runner.expert(arg)
            elif cmd == "labels":
                result = runner.labels(arg)
            elif cmd == "close":
                runner.env.close()
                remote.send(("ok", None))
                break
            else:
                raise ValueError(f"unknown command {cmd!r}")
            remote.send(("ok", result))
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


def _labels(results: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    actions, goal, seen = zip(*results)
    return np.asarray(actions, np.int64), np.asarray(goal, bool), np.stack(seen).astype(bool)


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

    def expert_labels(self, mode: str = "careful") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(expert actions [K] int64, ``end`` would succeed now [K] bool) for every env."""
        return _labels([r.labels(mode) for r in self.runners])

    def request_labels(self, mode: str = "careful") -> None:
        """Start :meth:`expert_labels` (here: computed at once); :meth:`receive_labels` ends it."""
        self._pending = self.expert_labels(mode)

    def receive_labels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._pending

    def close(self) -> None:
        for r in self.runners:
            r.env.close()


def _check_actions(actions, k: int) -> np.ndarray:
    actions = np.asarray(actions).reshape(-1)
    if actions.shape != (k,):
        raise ValueError(f"expected {k} actions, got shape {actions.shape}")
    return actions


class SubprocVecEnv:
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

    def _gather(self) -> list:
        out = []
        errors = []
        for k, remote in enumerate(self.remotes):
            status, payload = remote.recv()
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

    def reset(self, seed: int | None = None):
        obs, infos = zip(*self._call("reset", _seeds(seed, self.num_envs)))
        return stack_obs(list(obs)), list(infos)

    def step(self, actions):
        actions = _check_actions(actions, self.num_envs)
        return _batch(self._call("step", [int(a) for a in actions]))

    def expert_actions(self, mode: str = "careful") -> np.ndarray:
        return np.array(self._call("expert", [mode] * self.num_envs), np.int64)

    def expert_labels(self, mode: str = "careful") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(expert actions [K] int64, ``end`` would succeed now [K] bool) for every env."""
        return _labels(self._call("labels", [mode] * self.num_envs))

    def request_labels(self, mode: str = "careful") -> None:
        """Start :meth:`expert_labels` in the workers; the caller works meanwhile (e.g. runs
        the learner) and collects them with :meth:`receive_labels`."""
        for remote in self.remotes:
            remote.send(("labels", mode))

    def receive_labels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _labels(self._gather())

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
):
    """K envs over an episode list (env k gets ``episodes[k::K]``) or, with ``episodes=None``,
    over on-the-fly training episodes of ``tasks`` (:class:`sim_bridge.episode_gen.
    EpisodeSampler`, one per env; seed them with ``reset(seed=...)``). ``backend``: a
    simulator by name (:data:`sim_bridge.backends.BACKENDS`), None = ``config.backend``.

    Returns a :class:`SubprocVecEnv` (``subprocess=True``) or a :class:`SyncVecEnv`.
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
    return SubprocVecEnv(fns) if subprocess else SyncVecEnv(fns)
