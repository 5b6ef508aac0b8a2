"""Structural checks of the launch files, parameter files and ros_scripts (no ROS launch here).

``launch``/``launch_ros`` are not installable from PyPI, so the launch files cannot run here;
these tests check what a real ``ros2 launch`` would rely on.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from safevla_ros import params

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
SPECS = {
    "perception_node": params.PERCEPTION_PARAMS,
    "policy_node": params.POLICY_PARAMS,
    "safety_monitor_node": params.MONITOR_PARAMS,
    "action_adapter_node": params.ADAPTER_PARAMS,
    "sim_bridge_node": params.SIM_BRIDGE_PARAMS,
}


def console_scripts() -> set[str]:
    text = (REPO / "setup.py").read_text()
    return set(re.findall(r'"(\w+) = [\w.]+:main"', text))


def keyword_strings(tree: ast.AST, key: str) -> list[str]:
    return [
        kw.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == key and isinstance(kw.value, ast.Constant)
    ]


def yaml_names(tree: ast.AST) -> list[str]:
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.endswith(".yaml")
    ]


def test_both_launch_files_exist():
    assert {p.name for p in LAUNCH_FILES} == {"robot.launch.py", "sim.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_real_executables_and_param_files(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    assert any(
        isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
        for n in tree.body
    )
    robot = ast.parse((REPO / "launch" / "robot.launch.py").read_text())
    executables = set(keyword_strings(tree, "executable")) | (
        set(keyword_strings(robot, "executable")) if path.name == "sim.launch.py" else set()
    )
    expected = {"perception_node", "policy_node", "safety_monitor_node", "action_adapter_node"}
    if path.name == "sim.launch.py":
        expected.add("sim_bridge_node")
    assert executables == expected
    assert executables <= console_scripts()
    cmake = (REPO / "CMakeLists.txt").read_text()
    for exe in executables:
        assert (
            f"ros_scripts/{exe}" in cmake and (REPO / "ros_scripts" / exe).stat().st_mode & 0o111
        )
    assert set(keyword_strings(tree, "name")) <= set(SPECS)
    files = yaml_names(tree)
    assert files and all((REPO / "config" / f).is_file() for f in files)


@pytest.mark.parametrize("name", ["robot.yaml", "sim.yaml"])
def test_param_files_are_valid_ros_params_within_the_specs(name):
    data = yaml.safe_load((REPO / "config" / name).read_text())
    assert isinstance(data, dict) and data
    shared = data.get("/**", {}).get("ros__parameters", {})
    for node, section in data.items():
        assert set(section) == {"ros__parameters"}, f"{name}: {node} needs ros__parameters"
        if node == "/**":
            continue
        assert node in SPECS, f"{name}: unknown node {node!r}"
        known = {s.name for s in SPECS[node]}
        values = {k: v for k, v in {**shared, **section["ros__parameters"]}.items() if k in known}
        unknown = set(section["ros__parameters"]) - known
        assert not unknown, f"{name}: {node} has unknown parameters {unknown}"
        params.resolve(SPECS[node], values)  # raises naming the parameter if out of range


def test_ros_scripts_import_their_entry_points():
    for script in sorted((REPO / "ros_scripts").iterdir()):
        tree = ast.parse(script.read_text())
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert any(i.names[0].name == "main" for i in imports), script.name
