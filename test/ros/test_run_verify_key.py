"""`safevla run --verify-key`: an unsigned bundle is refused before any node starts, and the
key reaches the perception and policy nodes, which check it again when they load."""

from __future__ import annotations

import shutil

import pytest
from fixed_bundle import KNOWN_BUNDLE

from safevla_core.signing import generate_keypair, sign_manifest
from safevla_ros import runner
from safevla_ros.cli.main import build_parser, main
from safevla_ros.params import PERCEPTION_PARAMS, POLICY_PARAMS


def test_unsigned_bundle_is_refused_before_the_stack_starts(tmp_path, capsys):
    _, public = generate_keypair(tmp_path / "fleet")
    bundle = tmp_path / "bundle"
    shutil.copytree(KNOWN_BUNDLE, bundle)
    status = main(["run", "--sim", "--bundle", str(bundle), "--verify-key", str(public)])
    err = capsys.readouterr().err
    assert status == 2
    assert "--bundle" in err and "sign" in err.lower()
    assert "Traceback" not in err


def test_the_key_is_a_read_only_node_parameter_set_by_the_runner(tmp_path):
    private, public = generate_keypair(tmp_path / "fleet")
    bundle = tmp_path / "bundle"
    shutil.copytree(KNOWN_BUNDLE, bundle)
    sign_manifest(bundle, private)
    args = build_parser().parse_args(
        ["run", "--sim", "--bundle", str(bundle), "--verify-key", str(public)]
    )
    params = runner.overrides(args, bundle)
    for node in ("perception_node", "policy_node"):
        assert params[node]["ros__parameters"]["verify_key"] == str(public.resolve())
    for specs in (PERCEPTION_PARAMS, POLICY_PARAMS):
        spec = next(s for s in specs if s.name == "verify_key")
        assert spec.read_only and spec.default == ""


@pytest.mark.parametrize("flag", [[], ["--verify-key", ""]])
def test_without_a_key_nothing_is_required(flag):
    args = build_parser().parse_args(["run", "--sim", *flag])
    params = runner.overrides(args, KNOWN_BUNDLE)
    assert "verify_key" not in params["policy_node"]["ros__parameters"]
