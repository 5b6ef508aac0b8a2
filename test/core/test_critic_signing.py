"""Safety-critic bundles carry an Ed25519 signature like policy bundles: with a verify key, the
critic that decides what is safe must come from the trusted trainer too. Real critic bundles
(a fixed risk table as an ONNX graph, ``tiny_critic``), real keys, real loaders: the bundle
loader, the runtime critic, the monitor's gate, the monitor node's loader, the evaluator's
pre-flight check and ``safevla run``'s pre-flight check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fixed_bundle import KNOWN_BUNDLE
from tiny_critic import risk_table, write_tiny_critic

from safevla_core.actions import ACTION_NAMES
from safevla_core.bundle import load_bundle
from safevla_core.critic_bundle import (
    CRITIC_MANIFEST,
    CRITIC_SIGNATURE_FILE,
    CriticBundleError,
    CriticManifest,
    load_critic_bundle,
    sign_critic_bundle,
    write_critic_bundle,
)
from safevla_core.critic_gate import CriticGate, PolicyFacts
from safevla_core.image_preprocessing import ImageSpec
from safevla_core.safety_critic import SafetyCritic
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_core.signing import generate_keypair, sign_manifest

IMAGE = ImageSpec(height=16, width=16, mean=(0.5,) * 3, std=(0.25,) * 3)
POLICY = PolicyFacts(ACTION_NAMES, SAFETY_SPEC.categories, IMAGE, SAFETY_SPEC.version)
AHEAD = ACTION_NAMES.index("move_ahead")


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: generate_keypair(folder / name) for name in ("fleet", "other")}


@pytest.fixture
def critic(tmp_path) -> Path:
    return write_tiny_critic(tmp_path / "critic", IMAGE, risk_table({AHEAD: 0.9}))


def _edit(folder: Path, change) -> None:
    m = folder / CRITIC_MANIFEST
    data = json.loads(m.read_text())
    change(data)
    m.write_text(json.dumps(data, indent=2) + "\n")


def test_a_signed_critic_loads_with_its_key_and_without_one(critic, keys):
    private, public = keys["fleet"]
    sig = sign_critic_bundle(critic, private)
    assert sig == critic / CRITIC_SIGNATURE_FILE == critic / "critic.json.sig"
    assert sig.stat().st_size == 64
    _, m, bundle_id = load_critic_bundle(critic, verify_key=public)
    assert CRITIC_SIGNATURE_FILE not in m.files  # made after critic.json, never listed
    assert load_critic_bundle(critic)[2] == bundle_id  # no key: the signature is ignored
    assert SafetyCritic(critic, verify_key=public).bundle_id == bundle_id
    assert CriticGate.load(critic, POLICY, verify_key=public).bundle_id == bundle_id


def test_rewriting_the_manifest_never_hashes_the_signature(critic, keys):
    sign_critic_bundle(critic, keys["fleet"][0])
    _, m, _ = load_critic_bundle(critic)
    write_critic_bundle(critic, CriticManifest.from_dict(m.to_dict(), "test"))
    assert CRITIC_SIGNATURE_FILE not in load_critic_bundle(critic)[1].files


def test_an_unsigned_critic_is_refused_when_a_key_is_configured(critic, keys):
    public = keys["fleet"][1]
    assert load_critic_bundle(critic)[1].name == "tiny-critic"  # no key: origin unchecked
    missing = (
        r"not signed \(.*critic\.json\.sig is missing\).*"
        r"`safevla train critic --out RUN --sign-key KEY`"
    )
    with pytest.raises(CriticBundleError, match=missing):
        load_critic_bundle(critic, verify_key=public)
    with pytest.raises(CriticBundleError, match=r"critic\.json\.sig is missing"):
        SafetyCritic(critic, verify_key=public)
    with pytest.raises(CriticBundleError, match=r"critic\.json\.sig is missing"):
        CriticGate.load(critic, POLICY, verify_key=public)


def test_a_critic_signed_by_another_key_is_refused(critic, keys):
    sign_critic_bundle(critic, keys["other"][0])
    with pytest.raises(CriticBundleError, match="does not verify"):
        SafetyCritic(critic, verify_key=keys["fleet"][1])


def test_a_policy_signature_does_not_sign_the_critic(critic, keys):
    # bundle.json.sig in a critic folder (or a policy signing routine run on it) is no
    # signature of critic.json
    private, public = keys["fleet"]
    (critic / "bundle.json").write_bytes((critic / CRITIC_MANIFEST).read_bytes())
    sign_manifest(critic, private)
    with pytest.raises(CriticBundleError, match=r"critic\.json\.sig is missing"):
        load_critic_bundle(critic, verify_key=public)


def test_a_critic_json_edited_after_signing_is_refused(critic, keys):
    # Lowering a threshold inside [0, 1] keeps every sha256 check passing (critic.json lists
    # the graph, not itself); only the signature tells it is no longer the trainer's.
    private, public = keys["fleet"]
    sign_critic_bundle(critic, private)
    _edit(critic, lambda m: m["thresholds"].update(corner=0.99))
    assert load_critic_bundle(critic)[1].thresholds["corner"] == 0.99  # intact, but forged
    changed = r"does not verify .*: critic\.json was changed after signing"
    with pytest.raises(CriticBundleError, match=changed):
        load_critic_bundle(critic, verify_key=public)
    (critic / CRITIC_SIGNATURE_FILE).write_bytes(b"short")
    with pytest.raises(CriticBundleError, match="holds 5 bytes"):
        load_critic_bundle(critic, verify_key=public)


@pytest.fixture
def signed_pair(tmp_path, keys) -> tuple[Path, Path]:
    """(policy bundle, critic matching it), both signed by the fleet key."""
    policy = tmp_path / "policy"
    shutil.copytree(KNOWN_BUNDLE, policy)
    sign_manifest(policy, keys["fleet"][0])
    image = load_bundle(policy).image
    critic = write_tiny_critic(tmp_path / "policy-critic", image, risk_table({AHEAD: 0.9}))
    sign_critic_bundle(critic, keys["fleet"][0])
    return policy, critic


def test_the_monitor_node_checks_the_critic_with_its_verify_key(signed_pair, keys):
    from safevla_ros import params
    from safevla_ros.safety_monitor_node import load_critic

    policy, critic = signed_pair

    def monitor_params(verify_key: Path | str) -> dict:
        values = {"bundle_path": str(policy), "critic_bundle": str(critic)}
        return params.resolve(params.MONITOR_PARAMS, values | {"verify_key": str(verify_key)})

    gate = load_critic(monitor_params(keys["fleet"][1]))
    assert gate.bundle_id == load_critic_bundle(critic)[2]
    assert load_critic(monitor_params("")) is not None  # no key configured: unsigned accepted
    # the policy bundle is signed by the other key too, so only the critic can fail below
    sign_manifest(policy, keys["other"][0])
    with pytest.raises(CriticBundleError, match=r"critic\.json\.sig does not verify"):
        load_critic(monitor_params(keys["other"][1]))
    (critic / CRITIC_SIGNATURE_FILE).unlink()
    with pytest.raises(CriticBundleError, match=r"critic\.json\.sig is missing"):
        load_critic(monitor_params(keys["other"][1]))


def test_safevla_run_refuses_an_unsigned_critic_before_anything_starts(signed_pair, keys, capsys):
    from safevla_ros import runner
    from safevla_ros.cli.main import build_parser, main

    policy, critic = signed_pair
    public = keys["fleet"][1]
    argv = ["run", "--sim", "--bundle", str(policy), "--verify-key", str(public)]
    argv += ["--critic", str(critic)]
    params = runner.overrides(build_parser().parse_args(argv), policy)
    monitor = params["safety_monitor_node"]["ros__parameters"]
    assert monitor["verify_key"] == str(public.resolve())  # the node checks the critic again
    (critic / CRITIC_SIGNATURE_FILE).unlink()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--critic" in err and "critic.json.sig is missing" in err
    assert "Traceback" not in err


def test_eval_refuses_an_unsigned_critic_before_any_episode(critic, keys):
    from safevla_eval.runner import close_worker_cache
    from safevla_eval.suite import EvalConfig, groups

    private, public = keys["fleet"]
    cfg = EvalConfig(["random"], shield="on", critic=str(critic), verify_key=str(public))
    try:
        with pytest.raises(ValueError, match=r"critic\.json\.sig is missing"):
            groups(cfg, {})
        sign_critic_bundle(critic, private)
        assert groups(cfg, {}) == []  # no episodes asked for: only the pre-flight checks ran
        cfg.verify_key = str(keys["other"][1])
        with pytest.raises(ValueError, match="does not verify"):
            groups(cfg, {})
    finally:
        close_worker_cache()


def test_train_critic_checks_the_signing_key_before_any_work(tmp_path, keys, capsys):
    from safevla_ros.cli.main import main

    out = tmp_path / "run"
    for bad in (tmp_path / "missing.key", keys["fleet"][1]):  # no file; a public key
        assert main(["train", "critic", "--out", str(out), "--sign-key", str(bad)]) == 2
        err = capsys.readouterr().err
        assert "signing key" in err and str(bad) in err and "Traceback" not in err
    assert not out.exists()  # refused before the run folder, collection or training
