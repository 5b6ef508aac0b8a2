"""Bundles: Ed25519 signatures prove origin; file names cannot reach outside the bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fixed_bundle import KNOWN_BUNDLE

from safevla_core.bundle import SIGNATURE_FILE, BundleError, load_bundle
from safevla_core.policy_runtime import PolicyRuntime
from safevla_core.signing import (
    SigningError,
    generate_keypair,
    load_private_key,
    load_public_key,
    sign_manifest,
)


@pytest.fixture()
def bundle(tmp_path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(KNOWN_BUNDLE, dst)
    return dst


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: generate_keypair(folder / name) for name in ("fleet", "other")}


def _edit(folder: Path, change) -> None:
    m = folder / "bundle.json"
    data = json.loads(m.read_text())
    change(data)
    m.write_text(json.dumps(data, indent=2) + "\n")


def test_signed_bundle_loads_with_its_key_and_unsigned_ones_without_a_key(bundle, keys):
    private, public = keys["fleet"]
    assert load_bundle(bundle).name == "objnav-ppo-lag"  # no key configured: origin unchecked
    sign_manifest(bundle, private)
    assert (bundle / SIGNATURE_FILE).stat().st_size == 64
    assert load_bundle(bundle, verify_key=public).name == "objnav-ppo-lag"


def test_unsigned_bundle_is_refused_when_a_key_is_configured(bundle, keys):
    with pytest.raises(BundleError, match=r"not signed .*bundle\.json\.sig is missing"):
        load_bundle(bundle, verify_key=keys["fleet"][1])
    with pytest.raises(BundleError, match="not signed"):
        PolicyRuntime(bundle, providers=["cpu"], verify_key=keys["fleet"][1])


def test_bundle_signed_by_another_key_is_refused(bundle, keys):
    sign_manifest(bundle, keys["other"][0])
    with pytest.raises(BundleError, match="does not verify"):
        load_bundle(bundle, verify_key=keys["fleet"][1])


def test_manifest_changed_after_signing_is_refused(bundle, keys):
    # Re-hashing a swapped graph into bundle.json passes the sha256 checks; only the
    # signature tells that bundle.json is no longer the one the trainer signed.
    private, public = keys["fleet"]
    sign_manifest(bundle, private)
    _edit(bundle, lambda m: m["cost"]["cost_q"].update(gamma=0.5))
    assert load_bundle(bundle).manifest.cost.cost_q.gamma == 0.5  # intact, but forged
    with pytest.raises(BundleError, match="does not verify"):
        load_bundle(bundle, verify_key=public)
    (bundle / SIGNATURE_FILE).write_bytes(b"short")
    with pytest.raises(BundleError, match="holds 5 bytes"):
        load_bundle(bundle, verify_key=public)


def test_key_files_are_checked_and_never_overwritten(tmp_path, keys):
    private, public = keys["fleet"]
    assert private.stat().st_mode & 0o077 == 0  # the private key is readable by its owner only
    load_private_key(private)
    load_public_key(public)
    with pytest.raises(SigningError, match="exists"):
        generate_keypair(private.with_suffix(""))
    with pytest.raises(SigningError, match="not a PEM public key"):
        load_public_key(private.parent / "fleet.key")
    junk = tmp_path / "junk.pub"
    junk.write_text("hello")
    with pytest.raises(SigningError, match="not a PEM public key"):
        load_public_key(junk)
    with pytest.raises(SigningError, match="does not exist"):
        load_public_key(tmp_path / "missing.pub")


@pytest.mark.parametrize("name", ["../outside.onnx", "/etc/passwd", "sub/../../x", ""])
def test_file_names_outside_the_folder_are_refused(bundle, name):
    def add(m):
        m["files"][name] = {"sha256": "0" * 64, "bytes": 1}

    _edit(bundle, add)
    with pytest.raises(BundleError, match="not a relative path inside the bundle folder"):
        load_bundle(bundle)


def test_graph_named_outside_the_folder_is_refused(bundle, tmp_path):
    # The real graph, moved out of the folder with its hash still matching.
    outside = tmp_path / "elsewhere.onnx"
    shutil.move(bundle / "policy.onnx", outside)

    def point_out(m):
        m["graph"]["file"] = "../elsewhere.onnx"
        m["files"]["../elsewhere.onnx"] = m["files"].pop("policy.onnx")

    _edit(bundle, point_out)
    with pytest.raises(BundleError, match="not a relative path inside"):
        load_bundle(bundle)


def test_symlink_out_of_the_folder_is_refused(bundle, tmp_path):
    outside = tmp_path / "elsewhere.onnx"
    shutil.move(bundle / "policy.onnx", outside)
    (bundle / "policy.onnx").symlink_to(outside)  # same bytes, same sha256
    with pytest.raises(BundleError, match="resolves outside the bundle folder"):
        load_bundle(bundle)
    # a symlink that stays inside the folder is fine
    (bundle / "policy.onnx").unlink()
    shutil.move(outside, bundle / "real.onnx")
    (bundle / "policy.onnx").symlink_to("real.onnx")
    _edit(bundle, lambda m: m["files"].update({"real.onnx": m["files"]["policy.onnx"]}))
    assert load_bundle(bundle).policy_path.name == "policy.onnx"
