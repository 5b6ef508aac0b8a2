"""The safety critic's data: states visited by a mix of proposers, each labelled with the exact
cost of all 20 actions by the action probe (:mod:`sim_bridge.action_probe`).

Proposers take turns per episode (:attr:`CriticConfig.proposers`): the careless expert (cuts
corners, sweeps through clutter), the careful expert (stays clear), uniformly random moving
actions, and optionally a policy bundle; experts and bundles take a random moving action with
probability ``random_action_prob``. Costly states are rare under a careful driver and common
under a careless or random one; the mix covers both what a shield sees on a good policy and the
states next to mistakes.

Every visited navigation frame is resized once to the critic's input size with
:func:`safevla_core.image_preprocessing.resize_rgb` and the spec's filter (the first half of the
runtime's :func:`~safevla_core.image_preprocessing.preprocess_rgb`; the second half, scaling and
normalising, runs in training on these uint8 frames exactly as at run time). Each probed state
stores the indices of its ``history_length`` frames and the actions executed before them, built
by the runtime's own :class:`safevla_core.safety_critic.CriticHistory`.

File (``np.savez_compressed``, no pickles; read with ``allow_pickle=False``):

* ``frames`` (F, H, W, 3) uint8;  ``history`` (N, T) int32 frame indices, newest last;
* ``frame_bump`` (F, 2) uint8: the motion feedback (``obs["bump"]``: blocked, collided) of the
  action executed just before each frame (zeros at an episode's first frame); data sets written
  before it existed lack it and cannot train a critic with ``bump_input``;
* ``frame_scan`` (F, SCAN_BEAMS) float16: the range scan (metres, :func:`safevla_core.actions.
  check_scan`'s layout) at each frame; data sets written before it existed lack it and cannot
  train a critic with ``scan_input``;
* ``frame_scan_objects`` (F, SCAN_BEAMS) float16: the same scan with the building's static
  structure removed (``obs["scan_objects"]``: walls and floor return nothing, as in a scan
  filtered against a static map); data sets written before it existed (2026-12-05, twenty-sixth
  session) lack it and cannot train a critic with ``object_scan``;
* ``frame_scan_arm`` (F, SCAN_BEAMS) float16: the arm scan (``obs["scan_arm"]``: the range
  scan over the heights the arm occupies), which the clear pass's telescoping-arm part
  (``critic.clear_pass_arm``) is calibrated with; data sets written before it existed
  (2026-12-07, forty-third session) lack it, and their calibration leaves that part out;
* ``frame_proprio`` (F, 2) float32: the arm's joint state (``obs["proprio"]``: lift height, arm
  extension in metres, :data:`safevla_core.actions.PROPRIO_FIELDS`) at each frame; data sets
  written before it existed (2026-12-05) lack it and cannot train a critic with
  ``proprio_input``;
* ``prev_actions`` (N, T) int64;  ``labels`` (N, A, C) uint8, 1 = cost event;
* ``episode`` (N,) int32;  ``split`` (N,) int8 (0 train, 1 calibration, 2 test, by episode);
* ``task``, ``proposer`` (N,) int8 indices into ``meta``'s lists;  ``step`` (N,) int32;
* ``meta``: one JSON string (the config's data key, names, label rate, categories).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import numpy as np

from safevla_core.actions import ACTIONS, NUM_ACTIONS, PROPRIO_FIELDS, SCAN_BEAMS
from safevla_core.errors import UserError
from safevla_core.image_preprocessing import resize_rgb
from safevla_core.safety_critic import CriticHistory
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.critic_config import CriticConfig
from sim_bridge.action_probe import ActionProbe
from sim_bridge.env import EnvConfig, make_env
from sim_bridge.episode_gen import EpisodeSampler
from sim_bridge.episodes import load_episodes
from sim_bridge.policies import make_policy

SPLITS = ("train", "calibration", "test")
DATA_FILE = "critic_data.npz"
# optional inputs
PER_FRAME = ("frame_bump", "frame_scan", "frame_scan_objects", "frame_scan_arm", "frame_proprio")
MOVING = np.array([a.index for a in ACTIONS if a.moves_robot])


class _BundleProposer:
    """A policy bundle as a proposer: samples its action distribution each step. A bundle
    that reads the explored map or the arm's proprioception gets them from the env, as
    ``safevla eval`` gives them (the probe's trial steps do not grow the map)."""

    def __init__(self, folder: str, seed: int) -> None:
        from safevla_core.policy_runtime import PolicyRuntime

        self.runtime = PolicyRuntime(folder)
        self.rng = np.random.default_rng(seed)
        self.episode = None

    def __call__(self, env, obs) -> int:
        if env.episode_count != self.episode:
            self.runtime.reset()
            self.episode = env.episode_count
        step = self.runtime.step(
            obs["nav_rgb"],
            obs["instruction"],
            bool(obs["holding"]),
            bump=obs.get("bump"),
            proprio=obs.get("proprio"),
            explored=env.explored() if self.runtime.takes_explored else None,
        )
        p = step.probs.astype(np.float64)
        action = int(self.rng.choice(len(p), p=p / p.sum()))
        self.runtime.record_action(action)
        return action


class _Shield:
    """``critic.shield_critic``: the collection's actions through a critic, as the monitor
    would judge them; a vetoed action becomes a random allowed one (none: the motion with the
    lowest risk relative to its threshold)."""

    def __init__(self, folder: str, seed: int) -> None:
        from safevla_core.critic_bundle import CriticBundleError
        from safevla_core.safety_critic import SafetyCritic

        try:
            self.critic = SafetyCritic(folder)
        except (OSError, ValueError, CriticBundleError) as exc:
            raise UserError(f"critic.shield_critic={folder!r}: {exc}") from None
        self.rng = np.random.default_rng(seed)
        self.vetoes = 0

    def reset(self) -> None:
        self.critic.reset()

    def __call__(self, obs, action: int) -> int:
        v = self.critic.step(
            obs["nav_rgb"],
            obs["prev_action"],
            obs["bump"],
            obs["scan"],
            obs["proprio"],
            obs["scan_objects"],
        )
        if v.allowed[action]:
            return action
        self.vetoes += 1
        free = MOVING[v.allowed[MOVING]]
        if free.size:
            return int(self.rng.choice(free))
        ratio = (v.risk[MOVING] / np.maximum(v.thresholds, 1e-12)).max(axis=1)
        return int(MOVING[np.argmin(ratio)])


def _proposer(name: str, cfg: CriticConfig, seed: int):
    if name == "bundle":
        return _BundleProposer(cfg.policy_bundle, seed)
    if name == "random":
        rng = np.random.default_rng(seed)
        return lambda env, obs: int(rng.choice(MOVING))  # `end` would only cut episodes short
    return make_policy(name, seed)


def assign_splits(n_episodes: int, fractions, seed: int) -> np.ndarray:
    """(n_episodes,) int8 split per episode: a seeded shuffle cut by ``fractions``, each split
    getting at least one episode when there are three or more."""
    order = np.random.default_rng([seed, 11]).permutation(n_episodes)
    cuts = np.floor(np.cumsum(fractions)[:2] * n_episodes).astype(int)
    if n_episodes >= 3:
        cuts = np.clip(cuts, [1, 2], [n_episodes - 2, n_episodes - 1])
        cuts[1] = max(cuts[1], cuts[0] + 1)
    out = np.zeros(n_episodes, np.int8)
    out[order[cuts[0] : cuts[1]]] = 1
    out[order[cuts[1] :]] = 2
    return out


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _episodes_to_visit(cfg: CriticConfig) -> list | None:
    """The episodes of ``cfg.episodes_file`` in order (None without one).

    Raises:
        UserError: the file cannot be read, is empty, or holds a task not in ``cfg.tasks``.
    """
    if not cfg.episodes_file:
        return None
    try:
        episodes = load_episodes(cfg.episodes_file)
    except (OSError, ValueError) as exc:
        raise UserError(f"critic.episodes_file={cfg.episodes_file!r}: {exc}") from None
    if not episodes:
        raise UserError(f"critic.episodes_file={cfg.episodes_file!r} holds no episodes")
    other = sorted({ep.task for ep in episodes} - set(cfg.tasks))
    if other:
        raise UserError(
            f"critic.episodes_file={cfg.episodes_file!r} holds tasks {other} not in "
            f"critic.tasks={list(cfg.tasks)}"
        )
    return episodes


def collect(cfg: CriticConfig, log=print) -> dict[str, np.ndarray]:
    """Visit episodes until ``cfg.states`` states are probed; returns the arrays of the file.

    Ctrl-C or SIGTERM (a ``timeout``) ends the collection early and keeps the states probed so
    far (``meta["interrupted_at_states"]``; the stored config's ``states`` is that count, so a
    rerun with ``--set states=N`` reuses them); with none probed yet the interrupt goes on.
    Running out of ``cfg.episodes_file``'s episodes ends it the same way."""
    visit = _episodes_to_visit(cfg)  # (checked before the simulator starts)
    shield = _Shield(cfg.shield_critic, cfg.seed) if cfg.shield_critic else None
    env = make_env(
        EpisodeSampler(cfg.tasks),
        EnvConfig(
            nav_size=cfg.nav_size,
            render_manip=False,
            max_steps=cfg.episode_max_steps,
            range_scan=True,
        ),
    )
    probe = ActionProbe(env, horizon=cfg.horizon)
    proposers = {n: _proposer(n, cfg, cfg.seed + i) for i, n in enumerate(cfg.proposers)}
    rng = np.random.default_rng([cfg.seed, 5])
    spec = cfg.image_spec()
    frames, bumps, scans, arms, things, arm_scans = [], [], [], [], [], []
    rows = {k: [] for k in ("history", "prev_actions", "labels", "episode")}
    rows.update(task=[], proposer=[], step=[])
    history: CriticHistory[int] = CriticHistory(cfg.history_length)
    t0, last_log, episode, interrupted = time.perf_counter(), 0, 0, False
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():  # a `timeout` is Ctrl-C here
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while len(rows["labels"]) < cfg.states:
            if visit is None:
                obs, _ = env.reset(seed=cfg.seed * 100_003 + episode)
            elif episode < len(visit):
                obs, _ = env.reset(options={"episode": visit[episode]})
            else:  # every episode visited: keep what was probed, as an interrupt does
                log(
                    f"collect: all {len(visit)} episodes of {cfg.episodes_file} visited at "
                    f"{len(rows['labels'])}/{cfg.states} states; keeping them"
                )
                interrupted = True
                break
            name = cfg.proposers[episode % len(cfg.proposers)]
            drive = proposers[name]
            history.reset()
            if shield is not None:
                shield.reset()
            for t in range(cfg.episode_max_steps):
                frames.append(resize_rgb(obs["nav_rgb"], spec.width, spec.height, spec.resize))
                bumps.append(np.asarray(obs["bump"]) > 0.5)
                scans.append(obs["scan"])
                things.append(obs["scan_objects"])
                arm_scans.append(obs["scan_arm"])
                arms.append(obs["proprio"])
                history.push(len(frames) - 1, obs["prev_action"])
                if t % cfg.probe_every == 0 and len(rows["labels"]) < cfg.states:
                    rows["labels"].append((probe.label() > 0).astype(np.uint8))
                    rows["history"].append(history.items)
                    rows["prev_actions"].append(history.actions)
                    rows["episode"].append(episode)
                    rows["task"].append(cfg.tasks.index(env.episode.task))
                    rows["proposer"].append(cfg.proposers.index(name))
                    rows["step"].append(t)
                action = drive(env, obs)
                if name != "random" and rng.random() < cfg.random_action_prob:
                    action = int(rng.choice(MOVING))
                if shield is not None:
                    action = shield(obs, action)
                obs, _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated or len(rows["labels"]) >= cfg.states:
                    break
            episode += 1
            if len(rows["labels"]) - last_log >= 200 or len(rows["labels"]) >= cfg.states:
                last_log = len(rows["labels"])
                log(
                    f"collect: {last_log}/{cfg.states} states, {episode} episodes, label rate "
                    f"{probe.rate:.1f} states/s, wall {time.perf_counter() - t0:.0f} s"
                )
    except KeyboardInterrupt:
        interrupted = True
        # a state's row is complete only once its label is in; cut back to whole states
        n = min(len(v) for v in rows.values())
        rows = {k: v[:n] for k, v in rows.items()}
        if n == 0:
            raise
        log(f"collect: interrupted at {n}/{cfg.states} states; keeping them")
        episode = rows["episode"][-1] + 1
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)
        env.close()
    per_frame = (frames, bumps, scans, arms, things, arm_scans)
    n_frames = min(map(len, per_frame))  # an interrupt may split
    frames, bumps, scans, arms, things, arm_scans = (v[:n_frames] for v in per_frame)
    ep = np.asarray(rows["episode"], np.int32)
    labels = np.stack(rows["labels"])
    key = cfg.data_key()
    if interrupted:  # what it holds: a rerun with --set states=N reuses it
        key["states"] = len(labels)
    meta = {
        "config": key,
        "interrupted_at_states": len(labels) if interrupted else None,
        "categories": list(SAFETY_SPEC.categories),
        "tasks": list(cfg.tasks),
        "proposers": list(cfg.proposers),
        "episodes": episode,
        "label_rate_states_per_s": probe.rate,
        "wall_s": time.perf_counter() - t0,
        "events_per_category": labels.sum(axis=(0, 1)).tolist(),
        "shield_vetoes": None if shield is None else shield.vetoes,
    }
    return {
        "frames": np.stack(frames),
        "frame_bump": np.asarray(bumps, np.uint8).reshape(len(frames), 2),
        "frame_scan": np.asarray(scans, np.float16).reshape(len(frames), SCAN_BEAMS),
        "frame_scan_objects": np.asarray(things, np.float16).reshape(len(frames), SCAN_BEAMS),
        "frame_scan_arm": np.asarray(arm_scans, np.float16).reshape(len(frames), SCAN_BEAMS),
        "frame_proprio": np.asarray(arms, np.float32).reshape(len(frames), len(PROPRIO_FIELDS)),
        "history": np.asarray(rows["history"], np.int32),
        "prev_actions": np.asarray(rows["prev_actions"], np.int64),
        "labels": labels,
        "episode": ep,
        "split": assign_splits(episode, cfg.split, cfg.seed)[ep],
        "task": np.asarray(rows["task"], np.int8),
        "proposer": np.asarray(rows["proposer"], np.int8),
        "step": np.asarray(rows["step"], np.int32),
        "meta": np.array(json.dumps(meta)),
    }


def save_data(data: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write the data set atomically (a half-written file is never mistaken for data)."""
    path = Path(path)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **data)
    tmp.replace(path)
    return path


def load_data(path: str | Path) -> dict[str, np.ndarray]:
    """Read a data set written by :func:`save_data` (no pickles)."""
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    if data["labels"].shape[1:] != (NUM_ACTIONS, len(SAFETY_SPEC.categories)):
        raise ValueError(
            f"{path}: labels {data['labels'].shape[1:]} are not (actions, categories) = "
            f"({NUM_ACTIONS}, {len(SAFETY_SPEC.categories)}); collect the data again"
        )
    return data


def data_meta(data: dict[str, np.ndarray]) -> dict:
    return json.loads(str(data["meta"]))


def merge_data(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One data set from several (e.g. collection runs with other seeds): frames concatenated,
    history indices and episode ids offset so that nothing of one part refers to another, each
    part's split kept as assigned (by episode). Histories are cut to the shortest part's.

    Raises:
        ValueError: the parts' frames differ in size (collected for another image spec).
    """
    if len(parts) == 1:
        return parts[0]
    sizes = {p["frames"].shape[1:] for p in parts}
    if len(sizes) != 1:
        raise ValueError(
            f"critic data sets with different frame sizes {sorted(sizes)} cannot be merged; "
            "collect them at the same critic image size"
        )
    length = min(p["history"].shape[1] for p in parts)
    out: dict[str, list] = {k: [] for k in ("frames", "history", "prev_actions", "episode")}
    rest = ("labels", "split", "task", "proposer", "step")
    per_frame = [k for k in PER_FRAME if all(k in p for p in parts)]
    out.update({k: [] for k in per_frame})  # others dropped: their critics cannot use the merge
    out.update({k: [] for k in rest})
    frames = episodes = 0
    for p in parts:
        out["frames"].append(p["frames"])
        for k in per_frame:
            out[k].append(p[k])
        out["history"].append(p["history"][:, -length:] + frames)
        out["prev_actions"].append(p["prev_actions"][:, -length:])
        out["episode"].append(p["episode"] + episodes)
        for k in rest:
            out[k].append(p[k])
        frames += len(p["frames"])
        episodes += int(p["episode"].max()) + 1
    merged = {k: np.concatenate(v) for k, v in out.items()}
    metas = [data_meta(p) for p in parts]
    merged["meta"] = np.array(json.dumps({**metas[0], "merged": metas[1:]}))
    return merged
