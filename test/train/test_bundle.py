"""Bundle format: export writes a verifiable, typed folder; every kind of damage is detected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from safevla_core.actions import ACTION_NAMES
from safevla_core.bundle import BundleError, load_bundle
from safevla_core.bundle_manifest import (
    GRAPH_INPUTS,
    GRAPH_OUTPUTS,
    BundleManifest,
    ManifestError,
    RenderSpec,
)
from safevla_core.instruction_encoder import ENCODER_DIM, ENCODER_NAME
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.export import build_manifest
from safevla_train.rollout import image_spec_of

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "models").glob("*/bundle.json"))


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
    assert (b.instruction_encoder.name, b.instruction_encoder.dim) == (ENCODER_NAME, ENCODER_DIM)
    assert set(b.manifest.files) == {"policy.onnx"}
    assert (b.graph.input_names, b.graph.output_names) == (GRAPH_INPUTS, GRAPH_OUTPUTS)
    assert b.render_size is None  # no training config, no explicit size: nothing recorded


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_bundles_load_and_round_trip_unchanged(path):
    raw = json.loads(path.read_text())
    manifest = BundleManifest.from_dict(raw)
    assert manifest.to_dict() == raw  # lossless: the typed schema covers every field
    b = load_bundle(path.parent)
    assert b.render_size == (96, 96)  # recorded by their training config (no render entry)
    assert (b.image.height, b.image.width, b.image.resize) == (64, 64, "area")


def test_export_writes_the_image_spec_and_render_size_of_one_home(small_model):
    env = {"config": {"env": {"nav_size": [40, 48]}}}
    m = build_manifest(small_model, "x", training=env)
    assert m.image == image_spec_of(small_model)
    assert m.render == RenderSpec("nav_rgb", 40, 48) and m.render_size == (40, 48)
    assert m.to_dict()["render"] == {"camera": "nav_rgb", "height": 40, "width": 48}
    explicit = build_manifest(small_model, "x", training=env, render_size=(24, 32))
    assert explicit.render_size == (24, 32)
    assert BundleManifest.from_dict(explicit.to_dict()) == explicit


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda m: m["image"].update(height="64"), r"'image\.height' must be int, got str"),
        (lambda m: m["image"].update(mean=[0.5, 0.5]), r"image\.mean"),
        (lambda m: m["history"].update(context_length=True), r"'history\.context_length'"),
        (lambda m: m["graph"]["inputs"][2].update(name="prev"), r"graph\.inputs .*'prev'"),
        (
            lambda m: m["graph"]["outputs"][0].pop("dtype"),
            r"'graph\.outputs\[0\]\.dtype' is missing",
        ),
        (lambda m: m["instruction_encoder"].update(extra=1), r"unknown keys \['extra'\]"),
        (lambda m: m.update(render={"camera": "nav_rgb", "height": 40}), r"'render\.width'"),
    ],
)
def test_manifest_errors_name_the_bad_field(bundle_copy, edit, field):
    m = bundle_copy / "bundle.json"
    manifest = json.loads(m.read_text())
    edit(manifest)
    with pytest.raises(ManifestError, match=field):
        BundleManifest.from_dict(manifest)
    m.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=field):
        load_bundle(bundle_copy)


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


def test_graph_whose_sizes_differ_from_its_manifest_is_refused_at_load(bundle_copy):
    """A manifest that is self-consistent but describes another graph (48x48 frames for a
    32x32 graph) is refused when the runtime opens the graph, not at the first frame."""
    from safevla_core.policy_runtime import PolicyRuntime

    m = bundle_copy / "bundle.json"
    manifest = json.loads(m.read_text())
    manifest["image"].update(height=48, width=48)
    manifest["graph"]["inputs"][0]["shape"] = ["batch", 3, 48, 48]
    m.write_text(json.dumps(manifest))
    load_bundle(bundle_copy)  # the manifest itself is well formed
    with pytest.raises(
        BundleError, match=r"graph tensor 'image' is float32 \['batch', 3, 32, 32\]"
    ):
        PolicyRuntime(bundle_copy, providers=["cpu"])
    manifest["image"].update(height=32, width=32)
    manifest["graph"]["inputs"][0]["shape"] = ["batch", 3, 32, 32]
    manifest["graph"]["outputs"][4]["dtype"] = "float64"  # cost_q
    m.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"'cost_q' is float32 .* needs float64"):
        PolicyRuntime(bundle_copy, providers=["cpu"])


def test_export_signs_the_bundle_with_the_given_key(small_model, tmp_path):
    from safevla_core.signing import generate_keypair
    from safevla_train.export import export_bundle

    private, public = generate_keypair(tmp_path / "keys" / "fleet")
    out = tmp_path / "signed"
    export_bundle(small_model, out, "signed", sign_key=private)
    assert (out / "bundle.json.sig").is_file()
    assert "bundle.json.sig" not in load_bundle(out).manifest.files
    assert load_bundle(out, verify_key=public).name == "signed"
