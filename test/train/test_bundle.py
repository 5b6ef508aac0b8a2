"""Bundle format: export writes a verifiable folder; every kind of damage is detected."""

from __future__ import annotations

import json
import shutil

import pytest

from safevla_core.actions import ACTION_NAMES
from safevla_core.bundle import BundleError, load_bundle
from safevla_core.safety_spec import SAFETY_SPEC


@pytest.fixture()
def bundle_copy(small_bundle, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(small_bundle[0], dst)
    return dst


def test_export_parity_and_manifest(small_bundle):
    path, parity = small_bundle
    assert max(parity.values()) < 1e-4
    b = load_bundle(path)
    assert b.action_names == ACTION_NAMES
    assert b.cost_categories == SAFETY_SPEC.categories
    assert b.safety_spec == SAFETY_SPEC
    assert (b.image.height, b.image.width, b.context_length) == (32, 32, 4)
    assert b.bundle_id.startswith("small-test@")
    assert b.instruction_encoder["dim"] == 384
    assert set(b.manifest["files"]) == {"policy.onnx"}


def test_tampered_graph_is_rejected(bundle_copy):
    p = bundle_copy / "policy.onnx"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"policy\.onnx fails its sha256"):
        load_bundle(bundle_copy)


def test_truncated_graph_is_rejected(bundle_copy):
    p = bundle_copy / "policy.onnx"
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(BundleError, match="truncated or replaced"):
        load_bundle(bundle_copy)


def test_missing_files_are_named(bundle_copy, tmp_path):
    (bundle_copy / "policy.onnx").unlink()
    with pytest.raises(BundleError, match=r"policy\.onnx is missing"):
        load_bundle(bundle_copy)
    (bundle_copy / "bundle.json").unlink()
    with pytest.raises(BundleError, match=r"bundle\.json is missing"):
        load_bundle(bundle_copy)
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")


def test_bad_json_and_unknown_version(bundle_copy):
    m = bundle_copy / "bundle.json"
    good = json.loads(m.read_text())
    m.write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(bundle_copy)
    m.write_text(json.dumps(dict(good, format_version=99)))
    with pytest.raises(BundleError, match="format_version 99 is not supported"):
        load_bundle(bundle_copy)
    bad = dict(good)
    del bad["history"]
    m.write_text(json.dumps(bad))
    with pytest.raises(BundleError, match=r"lacks required keys.*history"):
        load_bundle(bundle_copy)


def test_foreign_action_space_is_rejected(bundle_copy):
    m = bundle_copy / "bundle.json"
    good = json.loads(m.read_text())
    good["actions"][0]["name"] = "jump"
    m.write_text(json.dumps(good))
    with pytest.raises(BundleError, match="action space"):
        load_bundle(bundle_copy)
