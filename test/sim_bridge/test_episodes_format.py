"""Episode files: round trip, gzip, and errors that name file:line and the bad field."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_bridge.episodes import (
    FIELDS,
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


def _gz(tmp_path, count: int = 20) -> bytes:
    path = save_episodes([_episode(i) for i in range(count)], tmp_path / "all.jsonl.gz")
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "flipped", "not_gzip"])
def test_damaged_gzip_is_a_format_error_naming_the_file(tmp_path, damage):
    data = _gz(tmp_path)
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped":
        middle = bytearray(data)
        for i in range(20, len(middle) - 12, 7):
            middle[i] ^= 0xFF
        data = bytes(middle)
    else:
        data = b"plain text, not gzip\n"
    path = tmp_path / "damaged.jsonl.gz"
    path.write_bytes(data)
    with pytest.raises(EpisodeFormatError, match=r"damaged.jsonl.gz: cannot read episode file"):
        load_episodes(path)


def test_unknown_object_type_is_refused_with_the_episode_and_the_valid_types(tmp_path):
    path = tmp_path / "e.jsonl"
    _write_lines(path, [_episode(0).to_dict(), _episode(1, target_type="Unicorn").to_dict()])
    with pytest.raises(
        EpisodeFormatError,
        match=r"e.jsonl:2: episode 'objnav_t_1': field 'target_type' 'Unicorn' is not a known "
        r"object type; valid types \(\d+\): .*Mug",
    ):
        load_episodes(path)


def test_target_a_grasp_task_cannot_pick_up_is_refused(tmp_path):
    path = tmp_path / "e.jsonl"
    _write_lines(path, [_episode(0, task="pickup", target_type="Sofa").to_dict()])
    with pytest.raises(EpisodeFormatError, match=r"'Sofa' cannot be picked up.*pickupable types"):
        load_episodes(path)


FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@FUZZ
@given(data=st.binary(max_size=300), gz=st.booleans())
def test_any_bytes_load_or_raise_a_format_error(tmp_path, data, gz):
    path = tmp_path / ("f.jsonl.gz" if gz else "f.jsonl")
    path.write_bytes(data)
    try:
        load_episodes(path)
    except EpisodeFormatError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_any_truncation_of_a_gzip_file_loads_a_prefix_or_raises_a_format_error(tmp_path, cut):
    data = _gz(tmp_path)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: cut % len(data)])
    with contextlib.suppress(EpisodeFormatError):
        assert len(load_episodes(path)) <= 20


@FUZZ
@given(field=st.sampled_from([*FIELDS, "extra"]), value=json_values, drop=st.booleans())
def test_a_mutated_record_loads_or_raises_a_format_error(tmp_path, field, value, drop):
    record = _episode(0).to_dict()
    if drop:
        record.pop(field, None)
    else:
        record[field] = value
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(record) + "\n")
    try:
        (ep,) = load_episodes(path)
    except EpisodeFormatError as exc:
        assert field in str(exc) or "not valid JSON" in str(exc)
    else:
        assert Episode.from_dict(ep.to_dict()) == ep
