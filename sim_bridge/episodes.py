"""Episode sets: the JSONL(.gz) file format, its validator, and the shipped validation sets.

One episode per line, a JSON object with exactly these fields::

    {"format_version": 1, "episode_id": "objnav_val_0007", "task": "objnav",
     "scene_seed": 1234, "start_pose": [1.3, -2.1, 90.0], "target_type": "Mug",
     "instruction": "find a cup", "expert_length": 37}

* ``start_pose``: ``[x, y, yaw_deg]`` in the backend's world frame (see ``backend.py``).
* ``expert_length``: number of steps the *careful* expert needed (the reference length for
  SPL/SEL), or ``null`` for episodes sampled on the fly in training.

Files ending in ``.gz`` are gzip-compressed. :func:`load_episodes` validates every field and
raises :class:`EpisodeFormatError` naming ``file:line`` and the bad field; a damaged or
truncated gzip stream, and a ``target_type`` the simulators do not know (not in the THOR object
catalog, ``sim_bridge/data/thor_object_catalog.json``) or that a grasp task cannot pick up, are
refused the same way (such an episode could never be won).
Generation (scene seeds, free start poses, reachable targets, expert lengths) lives in
:mod:`sim_bridge.episode_gen`.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

from sim_bridge.tasks import TASKS, get_task

FORMAT_VERSION = 1
DATA_DIR = Path(__file__).resolve().parent / "data" / "episodes"
FIELDS: tuple[str, ...] = (
    "format_version",
    "episode_id",
    "task",
    "scene_seed",
    "start_pose",
    "target_type",
    "instruction",
    "expert_length",
)


class EpisodeFormatError(ValueError):
    """A malformed episode file; the message names ``file:line`` and the field."""


@dataclass(frozen=True)
class Episode:
    """One benchmark episode (see the module docstring for the field meanings)."""

    episode_id: str
    task: str
    scene_seed: int
    start_pose: tuple[float, float, float]
    target_type: str
    instruction: str
    expert_length: int | None = None

    def __post_init__(self) -> None:
        problem = _field_problem(asdict(self) | {"format_version": FORMAT_VERSION})
        if problem:
            raise ValueError(f"invalid episode {self.episode_id!r}: {problem}")

    def to_dict(self) -> dict:
        """The JSON object written for this episode (format version included)."""
        d = {"format_version": FORMAT_VERSION, **asdict(self)}
        d["start_pose"] = [float(v) for v in self.start_pose]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Episode:
        """Inverse of :meth:`to_dict`. Raises ValueError naming the bad field."""
        problem = _field_problem(d)
        if problem:
            raise ValueError(problem)
        kw = {k: d[k] for k in FIELDS if k != "format_version"}
        kw["start_pose"] = tuple(float(v) for v in d["start_pose"])
        return cls(**kw)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _field_problem(d) -> str | None:
    """Description of the first invalid field of ``d``, or None if ``d`` is valid."""
    if not isinstance(d, dict):
        return f"expected a JSON object, got {type(d).__name__}"
    missing = [k for k in FIELDS if k not in d]
    if missing:
        return f"missing field(s) {missing}"
    unknown = sorted(set(d) - set(FIELDS))
    if unknown:
        return f"unknown field(s) {unknown}; known fields: {list(FIELDS)}"
    checks = (
        (
            "format_version",
            d["format_version"] == FORMAT_VERSION,
            f"must be {FORMAT_VERSION} (this reader's version)",
        ),
        (
            "episode_id",
            isinstance(d["episode_id"], str) and d["episode_id"] != "",
            "must be a non-empty string",
        ),
        (
            "task",
            isinstance(d["task"], str) and d["task"] in TASKS,
            f"must be one of {list(TASKS)}",
        ),
        (
            "scene_seed",
            _is_int(d["scene_seed"]) and d["scene_seed"] >= 0,
            "must be an integer >= 0",
        ),
        (
            "start_pose",
            isinstance(d["start_pose"], (list, tuple))
            and len(d["start_pose"]) == 3
            and all(_is_num(v) for v in d["start_pose"]),
            "must be [x, y, yaw_deg], 3 finite numbers",
        ),
        (
            "target_type",
            isinstance(d["target_type"], str) and d["target_type"] != "",
            "must be a non-empty object type such as 'Mug'",
        ),
        (
            "instruction",
            isinstance(d["instruction"], str) and d["instruction"].strip() != "",
            "must be a non-empty string",
        ),
        (
            "expert_length",
            d["expert_length"] is None
            or (_is_int(d["expert_length"]) and d["expert_length"] >= 1),
            "must be an integer >= 1 or null",
        ),
    )
    for name, ok, rule in checks:
        if not ok:
            return f"field {name!r} {rule}, got {d[name]!r}"
    return None


def _target_problem(task: str, target_type: str) -> str | None:
    """Why ``target_type`` cannot be the target of a ``task`` episode, or None."""
    from sim_bridge.mujoco.catalog import load_catalog

    catalog = load_catalog()
    kind = catalog.get(target_type)
    if kind is None:
        return (
            f"field 'target_type' {target_type[:80]!r} is not a known object type; valid types "
            f"({len(catalog)}): {', '.join(sorted(catalog))}"
        )
    if get_task(task).needs_pickup and not kind.pickupable:
        valid = sorted(n for n, t in catalog.items() if t.pickupable)
        return (
            f"field 'target_type' {target_type!r} cannot be picked up, so task {task!r} can "
            f"never succeed; pickupable types: {', '.join(valid)}"
        )
    return None


def _open_text(path: Path, mode: str):
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def save_episodes(episodes: list[Episode], path: str | Path) -> Path:
    """Write ``episodes`` as JSONL (gzip if ``path`` ends in ``.gz``); returns the path."""
    path = Path(path)
    ids = [e.episode_id for e in episodes]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate episode_id(s) {dup[:5]}; episode ids must be unique")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_text(path, "w") as f:
        for e in episodes:
            f.write(json.dumps(e.to_dict(), sort_keys=False) + "\n")
    return path


def load_episodes(path: str | Path) -> list[Episode]:
    """Read and validate an episode file.

    Blank lines are skipped. Every line must be a valid episode; ids must be unique.

    Raises:
        FileNotFoundError: the file does not exist.
        EpisodeFormatError: ``"<file>:<line>: field 'x' ..."`` for the first bad line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"episode file {str(path)!r} does not exist")
    episodes: list[Episode] = []
    seen: dict[str, int] = {}
    try:
        with _open_text(path, "r") as f:
            lines = list(f)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        # gzip reports a truncated stream as EOFError and damaged data as zlib.error.
        raise EpisodeFormatError(
            f"{path}: cannot read episode file ({type(exc).__name__}: {exc}); it is damaged or "
            "truncated - restore it or regenerate it with `safevla sim episodes`"
        ) from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EpisodeFormatError(f"{where}: not valid JSON ({exc.msg})") from None
        problem = _field_problem(d)
        if problem:
            raise EpisodeFormatError(f"{where}: {problem}")
        if d["episode_id"] in seen:
            raise EpisodeFormatError(
                f"{where}: field 'episode_id' {d['episode_id']!r} repeats line "
                f"{seen[d['episode_id']]}; ids must be unique"
            )
        problem = _target_problem(d["task"], d["target_type"])
        if problem:
            raise EpisodeFormatError(f"{where}: episode {d['episode_id']!r}: {problem}")
        seen[d["episode_id"]] = lineno
        episodes.append(Episode.from_dict(d))
    if not episodes:
        raise EpisodeFormatError(f"{path}: no episodes in file")
    return episodes


def parse_episode_ref(ref: str) -> tuple[Path, int]:
    """Split ``"FILE[:index]"`` into a path and a 0-based index (default 0)."""
    head, sep, tail = ref.rpartition(":")
    if sep and tail.isdigit() and head:
        return Path(head), int(tail)
    return Path(ref), 0


def shipped_path(task: str, split: str = "val") -> Path:
    """Path of a shipped episode set, e.g. ``data/episodes/objnav_val.jsonl.gz``."""
    get_task(task)
    return DATA_DIR / f"{task}_{split}.jsonl.gz"
