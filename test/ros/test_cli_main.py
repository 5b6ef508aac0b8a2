"""The `safevla` entry point: help everywhere, one-line user errors, real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from safevla_ros.cli.main import build_parser

SAFEVLA = [sys.executable, "-m", "safevla_ros.cli.main"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SAFEVLA, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def subcommand_paths() -> list[list[str]]:
    """Every registered subcommand, nested ones included, as argv prefixes."""
    paths: list[list[str]] = []

    def walk(parser, prefix):
        for action in parser._actions:
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, sub in choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return paths


@pytest.mark.cli
def test_top_level_help_lists_subcommands():
    result = run("--help")
    assert result.returncode == 0
    for path in subcommand_paths():
        if len(path) == 1:
            assert path[0] in result.stdout


@pytest.mark.cli
@pytest.mark.parametrize("path", subcommand_paths(), ids=" ".join)
def test_every_subcommand_has_help(path):
    result = run(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: safevla" in result.stdout


@pytest.mark.cli
def test_info_json_reports_parts_and_spec():
    result = run("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["ros_interfaces"] == "built"
    assert len(info["actions"]) == 20 and info["actions"][4] == "end"
    assert "CPUExecutionProvider" in info["onnxruntime_providers"]


@pytest.mark.cli
def test_unknown_subcommand_is_a_user_error_without_traceback():
    result = run("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr
