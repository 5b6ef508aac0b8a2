"""Property-based fuzzing of bundle.json: any content is loaded or refused with BundleError.

Bounded for CI (``max_examples`` below, no deadline). Inputs: arbitrary JSON documents and
bytes, and a real trained bundle's manifest with one entry replaced by arbitrary JSON or removed.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from fixed_bundle import KNOWN_BUNDLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safevla_core.bundle import BundleError, load_bundle
from safevla_core.bundle_manifest import BundleManifest, ManifestError

GOOD = json.loads((KNOWN_BUNDLE / "bundle.json").read_text())

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every path (tuple of keys/indices) into a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(GOOD) if p]


def _mutate(doc, path, new, delete: bool):
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        parent.pop(path[-1])
    else:
        parent[path[-1]] = new
    return doc


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("fuzz") / "bundle"
    shutil.copytree(KNOWN_BUNDLE, dst)
    return dst


def _load_or_refuse(bundle: Path, data: bytes) -> None:
    (bundle / "bundle.json").write_bytes(data)
    try:
        load_bundle(bundle)
    except BundleError as exc:
        assert "\n" not in str(exc)  # one line


@FUZZ
@given(doc=json_values)
def test_any_json_document_is_refused_cleanly(bundle, doc):
    _load_or_refuse(bundle, json.dumps(doc).encode())
    with pytest.raises(ManifestError):
        BundleManifest.from_dict(doc)


@FUZZ
@given(data=st.binary(max_size=300))
def test_any_bytes_are_refused_cleanly(bundle, data):
    _load_or_refuse(bundle, data)


@FUZZ
@given(path=st.sampled_from(PATHS), new=json_values, delete=st.booleans())
def test_a_mutated_manifest_loads_or_is_refused_with_bundle_error(bundle, path, new, delete):
    doc = _mutate(json.loads(json.dumps(GOOD)), path, new, delete)
    with contextlib.suppress(ManifestError):  # the typed parser alone: only ManifestError
        BundleManifest.from_dict(doc)
    _load_or_refuse(bundle, json.dumps(doc).encode())
