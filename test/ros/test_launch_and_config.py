"""The node table (safevla_ros/nodes.py) against everything that lists nodes, and config/*.yaml
against the parameter specs.

``launch``/``launch_ros`` are not installable from PyPI, so the launch files run here against
recording stand-ins of the few launch classes they use: the test sees which ``Node`` actions a
real ``ros2 launch`` would get, with which parameter files and overrides.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from safevla_ros import params, runner
from safevla_ros.nodes import (
    CONFIG_FILES,
    EXECUTABLES,
    NODES,
    launch_file,
    node,
    nodes_of,
    ros_script,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


# --- the table against setup.py, ros_scripts/, CMakeLists.txt, the node modules, the runner ----
def test_setup_py_console_scripts_are_the_table(tmp_path):
    subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (info,) = tmp_path.glob("*.egg-info")
    entry_points = configparser.ConfigParser()
    entry_points.optionxform = str  # keep names as written
    entry_points.read(info / "entry_points.txt")
    scripts = {f"{k} = {v}" for k, v in entry_points["console_scripts"].items()}
    assert scripts == {exe.entry_point for exe in EXECUTABLES}


def test_ros_scripts_are_the_table_exactly():
    folder = REPO / "ros_scripts"
    assert {p.name for p in folder.iterdir()} == {exe.name for exe in EXECUTABLES}
    for exe in EXECUTABLES:
        path = folder / exe.name
        assert path.read_text() == ros_script(exe), "regenerate: python -m safevla_ros.nodes"
        assert path.stat().st_mode & 0o111, f"{path} is not executable"


def test_cmake_installs_every_ros_script_by_glob():
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert 'file(GLOB SAFEVLA_ROS_SCRIPTS "${CMAKE_CURRENT_SOURCE_DIR}/ros_scripts/*")' in cmake
    assert "install(PROGRAMS ${SAFEVLA_ROS_SCRIPTS} DESTINATION lib/${PROJECT_NAME})" in cmake


@pytest.mark.parametrize("exe", NODES, ids=lambda e: e.name)
def test_each_node_module_declares_the_spec_of_its_row(exe):
    """The node's main() exists and the module declares and reads the row's spec."""
    path = REPO / Path(*exe.module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)
    calls = {
        c.func.id: c.args[1].id
        for c in ast.walk(tree)
        if isinstance(c, ast.Call)
        and isinstance(c.func, ast.Name)
        and c.func.id in ("declare_params", "read_params")
    }
    assert calls == {"declare_params": exe.params, "read_params": exe.params}
    assert exe.specs() is getattr(params, exe.params) and exe.specs()


def test_the_runner_starts_the_sim_bringup():
    assert nodes_of("sim") == runner.NODES
    assert {n.name for n in nodes_of("robot")} < {n.name for n in nodes_of("sim")}
    with pytest.raises(KeyError, match="nodes:"):
        node("planner_node")


# --- launch files, run against recording stand-ins -----------------------------------------
class _Recorded:
    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


_LAUNCH_API = {
    "launch": ("LaunchDescription",),
    "launch.actions": ("DeclareLaunchArgument", "GroupAction"),
    "launch.substitutions": ("LaunchConfiguration", "PathJoinSubstitution", "PythonExpression"),
    "launch_ros.actions": ("Node", "PushRosNamespace"),
    "launch_ros.substitutions": ("FindPackageShare",),
}


def _kind(obj) -> str:
    return type(obj).__name__


def run_launch_file(bringup: str, monkeypatch) -> tuple[dict, list]:
    """The launch arguments (name -> DeclareLaunchArgument) and the Node actions of a file."""
    for module, names in _LAUNCH_API.items():
        stub = types.ModuleType(module)
        for name in names:
            setattr(stub, name, type(name, (_Recorded,), {}))
        monkeypatch.setitem(sys.modules, module, stub)
    monkeypatch.setitem(sys.modules, "launch_ros", types.ModuleType("launch_ros"))
    path = REPO / "launch" / launch_file(bringup)
    spec = importlib.util.spec_from_file_location(f"launch_file_{bringup}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (actions,) = module.generate_launch_description().args
    args = {a.args[0]: a for a in actions if _kind(a) == "DeclareLaunchArgument"}
    (group,) = [a for a in actions if _kind(a) == "GroupAction"]
    push, *nodes = group.args[0]
    assert _kind(push) == "PushRosNamespace" and push.args[0].args == ("namespace",)
    assert all(_kind(n) == "Node" for n in nodes)
    return args, nodes


def _config_file(item, args: dict) -> str:
    """The config/ file name a parameter entry points at (a launch argument's default too)."""
    if _kind(item) == "LaunchConfiguration":
        item = args[item.args[0]].kwargs["default_value"]
    assert _kind(item) == "PathJoinSubstitution", item
    share, folder, name = item.args[0]
    assert _kind(share) == "FindPackageShare" and share.args == ("safevla_ros",)
    assert folder == "config"
    return name


def test_both_launch_files_exist():
    assert {p.name for p in (REPO / "launch").glob("*.launch.py")} == {
        launch_file(b) for b in CONFIG_FILES
    }


@pytest.mark.parametrize("bringup", sorted(CONFIG_FILES))
def test_launch_file_starts_the_table_nodes_with_the_bringup_files(bringup, monkeypatch):
    args, nodes = run_launch_file(bringup, monkeypatch)
    assert [n.kwargs["executable"] for n in nodes] == [n.name for n in nodes_of(bringup)]
    for n in nodes:
        kw = n.kwargs
        assert kw["package"] == "safevla_ros" and kw["name"] == kw["executable"]
        files = [p for p in kw["parameters"] if not isinstance(p, dict)]
        assert [_config_file(f, args) for f in files] == list(CONFIG_FILES[bringup])
        overrides = [p for p in kw["parameters"] if isinstance(p, dict)]
        assert kw["parameters"][len(files) :] == overrides  # launch arguments win over files
        known = {s.name for s in node(kw["name"]).specs()}
        for o in overrides:
            assert set(o) <= known, f"{kw['name']}: unknown overrides {set(o) - known}"
            for v in o.values():  # each override is made of declared launch arguments
                parts = v.args[0] if _kind(v) == "PythonExpression" else [v]
                used = [p for p in parts if not isinstance(p, str)]
                assert used and all(_kind(p) == "LaunchConfiguration" for p in used)
                assert all(p.args[0] in args for p in used)
    assert all((CONFIG / f).is_file() for f in CONFIG_FILES[bringup])


@pytest.mark.parametrize("bringup", sorted(CONFIG_FILES))
def test_one_verify_key_reaches_every_node_that_loads_a_bundle(bringup, monkeypatch):
    """The ``verify_key`` launch argument is the last word on the key of every node that
    declares it (perception, policy, safety monitor), so the monitor checks the policy bundle
    and the critic with the key the policy runs under; other nodes get none."""
    args, nodes = run_launch_file(bringup, monkeypatch)
    assert args["verify_key"].kwargs["default_value"] == ""
    keyed = set()
    for n in nodes:
        overrides = [p for p in n.kwargs["parameters"] if isinstance(p, dict)]
        declares = any(s.name == "verify_key" for s in node(n.kwargs["name"]).specs())
        if declares:
            (last,) = overrides
            assert last["verify_key"].args == ("verify_key",)
            keyed.add(n.kwargs["name"])
        else:
            assert all("verify_key" not in o for o in overrides)
    assert {"perception_node", "policy_node", "safety_monitor_node"} <= keyed


def _perform(expression, values: dict):
    """What ``ros2 launch`` makes of a ``PythonExpression`` given these launch argument values:
    the parts joined, each argument replaced by its value, then evaluated; the node parameter
    is the result as launch_ros reads it (YAML)."""
    assert _kind(expression) == "PythonExpression"
    text = "".join(p if isinstance(p, str) else values[p.args[0]] for p in expression.args[0])
    return yaml.safe_load(str(eval(text)))


@pytest.mark.parametrize("bringup", sorted(CONFIG_FILES))
def test_the_dither_breaker_is_on_by_default_only_with_a_critic(bringup, monkeypatch):
    """``break_dither:=auto`` (the default) gives the policy node the shielded count with a
    critic and 0 without, as ``safevla run --sim`` does; a number is passed as given, for
    the node to check; a critic path with quotes in it stays a path."""
    from safevla_core.action_choice import SHIELDED_BREAK_DITHER

    args, nodes = run_launch_file(bringup, monkeypatch)
    assert args["break_dither"].kwargs["default_value"] == "auto"
    (policy,) = [n for n in nodes if n.kwargs["name"] == "policy_node"]
    (over,) = [p for p in policy.kwargs["parameters"] if isinstance(p, dict)]
    dither = over["break_dither"]
    cases = [
        ("", "auto", 0),
        ("/opt/models/safety-critic", "auto", SHIELDED_BREAK_DITHER),
        ("/data/o'neil's critic", "auto", SHIELDED_BREAK_DITHER),
        ("/opt/models/safety-critic", "0", 0),
        ("", "4", 4),
    ]
    spec = next(s for s in node("policy_node").specs() if s.name == "break_dither")
    for critic, value, want in cases:
        got = _perform(dither, {"critic": critic, "break_dither": value})
        assert got == want and type(got) is int, (critic, value, got)
        assert spec.validate(got) == want  # the node's own spec judges the value it gets


# --- config/*.yaml: only names of the specs, only values that differ ------------------------
def override_problems(files: list[Path]) -> list[str]:
    """Problems of a bringup's parameter files, loaded in order: a section that is no node, an
    unknown parameter, a value out of range, or a value equal to the one already in effect (the
    spec default, or an earlier file's value), which belongs nowhere but the spec."""
    effective = {n.name: {s.name: s.default for s in n.specs()} for n in NODES}
    problems = []
    for path in files:
        data = yaml.safe_load(path.read_text())
        for section, body in data.items():
            if set(body) != {"ros__parameters"}:
                problems.append(f"{path.name}: {section} needs exactly ros__parameters")
                continue
            name_ = section.removeprefix("/**/")
            if section != "/**" and name_ == section:
                problems.append(
                    f"{path.name}: {section!r} reaches the node only in the root namespace: "
                    f"key it '/**/{section}'"
                )
                continue
            targets = list(effective) if section == "/**" else [name_]
            if section != "/**" and name_ not in effective:
                problems.append(f"{path.name}: {section!r} is not a node of the node table")
                continue
            for name, value in (body["ros__parameters"] or {}).items():
                owners = [t for t in targets if name in effective[t]]
                if not owners:
                    problems.append(f"{path.name}: {section} has no parameter {name!r}")
                for t in owners:
                    spec = next(s for s in node(t).specs() if s.name == name)
                    try:
                        value = spec.validate(value)
                    except params.ParameterError as exc:
                        problems.append(f"{path.name}: {t}: {exc}")
                        continue
                    if value == effective[t][name]:
                        problems.append(
                            f"{path.name}: {t}.{name} = {value!r} is already in effect"
                        )
                    effective[t][name] = value
    return problems


@pytest.mark.parametrize("bringup", sorted(CONFIG_FILES))
def test_param_files_hold_only_overrides_of_the_specs(bringup):
    assert override_problems([CONFIG / f for f in CONFIG_FILES[bringup]]) == []


def test_override_check_catches_defaults_unknown_names_and_bad_values(tmp_path):
    planted = {
        "/**": {"ros__parameters": {"linear_speed": 0.25, "no_such_param": 1}},
        "/**/safety_monitor_node": {"ros__parameters": {"frame_timeout_s": 99.0}},
        "/**/planner_node": {"ros__parameters": {}},
        "policy_node": {"ros__parameters": {"seed": 3}},
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(planted))
    later = tmp_path / "later.yaml"  # sets back a value the earlier file changed: allowed
    later.write_text("/**/policy_node:\n  ros__parameters:\n    seed: 0\n")
    earlier = tmp_path / "earlier.yaml"
    earlier.write_text("/**/policy_node:\n  ros__parameters:\n    seed: 7\n")
    problems = override_problems([bad])
    assert any("linear_speed = 0.25 is already in effect" in p for p in problems)
    assert any("no parameter 'no_such_param'" in p for p in problems)
    assert any("'frame_timeout_s' = 99.0 is outside" in p for p in problems)
    assert any("'/**/planner_node' is not a node" in p for p in problems)
    assert any("'policy_node' reaches the node only in the root namespace" in p for p in problems)
    assert override_problems([earlier, later]) == []
    assert override_problems([earlier, earlier])  # the second one changes nothing
