"""Episode files: round trip, gzip, and errors that name file:line and the bad field."""

from __future__ import annotations

import json

import pytest

from sim_bridge.episodes import (
    FORMAT_VERSION,
    Episode,
    EpisodeFormatError,
    load_episodes,
    parse_episode_ref,
    save_episodes,
)


def _episode(i: int = 0, **kw) -> Episode:
    base = dict(
        episode_id=f"objnav_t_{i}",
        task="objnav",
        scene_seed=1000 + i,
        start_pose=(1.0, -2.5, 90.0),
        target_type="Mug",
        instruction="find a cup",
        expert_length=37,
    )
    return Episode(**(base | kw))


@pytest.mark.parametrize("name", ["eps.jsonl", "eps.jsonl.gz"])
def test_round_trip(tmp_path, name):
    eps = [_episode(0), _episode(1, task="pickup", target_type="Apple", expert_length=None)]
    path = save_episodes(eps, tmp_path / name)
    assert load_episodes(path) == eps


def _write_lines(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"task": "dance"}, "task"),
        ({"scene_seed": -1}, "scene_seed"),
        ({"scene_seed": 1.5}, "scene_seed"),
        ({"start_pose": [1.0, 2.0]}, "start_pose"),
        ({"start_pose": [1.0, "a", 3.0]}, "start_pose"),
        ({"target_type": ""}, "target_type"),
        ({"instruction": "   "}, "instruction"),
        ({"expert_length": 0}, "expert_length"),
        ({"format_version": FORMAT_VERSION + 1}, "format_version"),
    ],
)
def test_bad_field_names_line_and_field(tmp_path, change, field):
    good = _episode(0).to_dict()
    bad = _episode(1).to_dict() | change
    path = tmp_path / "bad.jsonl"
    _write_lines(path, [good, bad])
    with pytest.raises(EpisodeFormatError, match=rf"bad.jsonl:2: field '{field}'"):
        load_episodes(path)


def test_missing_unknown_duplicate_and_json_errors(tmp_path):
    good = _episode(0).to_dict()
    path = tmp_path / "e.jsonl"
    missing = dict(good, episode_id="x")
    del missing["instruction"]
    _write_lines(path, [good, missing])
    with pytest.raises(
        EpisodeFormatError, match=r"e.jsonl:2: missing field\(s\) \['instruction'\]"
    ):
        load_episodes(path)
    _write_lines(path, [good, dict(good, episode_id="y", colour="red")])
    with pytest.raises(EpisodeFormatError, match=r"e.jsonl:2: unknown field\(s\) \['colour'\]"):
        load_episodes(path)
    _write_lines(path, [good, "", good])
    with pytest.raises(EpisodeFormatError, match=r"e.jsonl:3: field 'episode_id'.*repeats line 1"):
        load_episodes(path)
    _write_lines(path, [good, "{not json"])
    with pytest.raises(EpisodeFormatError, match=r"e.jsonl:2: not valid JSON"):
        load_episodes(path)
    path.write_text("\n\n")
    with pytest.raises(EpisodeFormatError, match="no episodes"):
        load_episodes(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_episodes(tmp_path / "nope.jsonl")


def test_episode_constructor_validates():
    with pytest.raises(ValueError, match="start_pose"):
        _episode(start_pose=(0.0, float("nan"), 0.0))
    with pytest.raises(ValueError, match="duplicate episode_id"):
        save_episodes([_episode(0), _episode(0)], "/tmp/never_written.jsonl")


def test_parse_episode_ref():
    assert parse_episode_ref("a/b.jsonl.gz:7") == (parse_episode_ref("a/b.jsonl.gz")[0], 7)
    assert parse_episode_ref("a/b.jsonl")[1] == 0
