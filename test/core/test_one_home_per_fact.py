"""Facts that must not drift have one home; every consumer reads it from there.

The cost threshold's default lives in the safety spec, the image spec and the graph's input and
output names in the bundle format (safevla_core). The consumers are checked by value, and the
sources are scanned so that a second literal copy cannot creep back in.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from safevla_core.bundle_manifest import GRAPH_INPUTS, GRAPH_OUTPUTS
from safevla_core.image_preprocessing import (
    ImageSpec,
    PreprocessConfig,
    decode_image,
    preprocess,
    preprocess_rgb,
)
from safevla_core.safety_monitor import MonitorConfig
from safevla_core.safety_spec import DEFAULT_COST_THRESHOLD
from safevla_eval.runner import Job
from safevla_eval.suite import EvalConfig
from safevla_ros import params
from safevla_ros.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("safevla_core", "sim_bridge", "safevla_eval", "safevla_train", "safevla_ros")
SPEC_FILE = "safevla_core/safety_spec.py"
FORMAT_FILE = "safevla_core/bundle_manifest.py"
IMAGE_FILE = "safevla_core/image_preprocessing.py"


def _sources() -> dict[str, ast.Module]:
    return {
        path.relative_to(REPO).as_posix(): ast.parse(path.read_text(), filename=str(path))
        for top in PACKAGES
        for path in sorted((REPO / top).rglob("*.py"))
    }


def _is_number(node: ast.AST | None) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def _threshold_literals(tree: ast.Module) -> list[int]:
    """Lines where a number is given as a cost threshold's value or default."""
    names = {"cost_threshold", "--cost-threshold"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(getattr(t, "id", None) in names for t in targets) and _is_number(node.value):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            # a spec or option named after the threshold: its default follows the name
            at = [i for i, a in enumerate(node.args) if getattr(a, "value", None) in names]
            kws = {k.arg: k.value for k in node.keywords}
            nxt = node.args[at[0] + 1] if at and at[0] + 1 < len(node.args) else None
            if at and (_is_number(nxt) or _is_number(kws.get("default"))):
                lines.append(node.lineno)
            if _is_number(kws.get("cost_threshold")):
                lines.append(node.lineno)
        elif isinstance(node, ast.arguments):
            args = node.posonlyargs + node.args
            pairs = list(zip(args[len(args) - len(node.defaults) :], node.defaults))
            pairs += list(zip(node.kwonlyargs, node.kw_defaults))
            lines += [d.lineno for a, d in pairs if a.arg in names and _is_number(d)]
    return lines


def test_cost_threshold_consumers_default_to_the_safety_spec():
    assert MonitorConfig().cost_threshold == DEFAULT_COST_THRESHOLD
    monitor = {p.name: p for p in params.MONITOR_PARAMS}
    assert monitor["cost_threshold"].default == DEFAULT_COST_THRESHOLD
    assert EvalConfig(["random"]).cost_threshold == DEFAULT_COST_THRESHOLD
    job_default = {f.name: f.default for f in dataclasses.fields(Job)}["cost_threshold"]
    assert job_default == DEFAULT_COST_THRESHOLD
    args = build_parser().parse_args(["eval", "--bundle", "random"])
    assert args.cost_threshold == DEFAULT_COST_THRESHOLD


def test_no_second_literal_cost_threshold_in_the_sources():
    found = {
        path: lines
        for path, tree in _sources().items()
        if path != SPEC_FILE and (lines := _threshold_literals(tree))
    }
    assert found == {}, f"cost threshold literals outside {SPEC_FILE}: {found}"


def test_the_scan_finds_a_literal_threshold():
    # the scan must be able to fail: each way of re-declaring the default is caught
    for code in (
        "cost_threshold: float = 0.3",
        "def f(cost_threshold=0.3): pass",
        "Config(cost_threshold=0.3)",
        "p.add_argument('--cost-threshold', type=float, default=0.3)",
        "_p('cost_threshold', 0.3, 'veto above this')",
    ):
        assert _threshold_literals(ast.parse(code)) == [1], code


def test_graph_io_names_and_image_layout_are_declared_once():
    names = set(GRAPH_INPUTS + GRAPH_OUTPUTS)
    lists, layouts = [], []
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple | ast.List):
                strings = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if len(strings & names) >= 3 and path != FORMAT_FILE:
                    lists.append(f"{path}:{node.lineno}")
            if isinstance(node, ast.Constant) and node.value == "NCHW" and path != IMAGE_FILE:
                layouts.append(f"{path}:{node.lineno}")
    assert lists == [], f"graph names re-declared outside {FORMAT_FILE}"
    assert layouts == [], f"image layout re-declared outside {IMAGE_FILE}"


@pytest.mark.parametrize("size", [(96, 96), (240, 320), (20, 24), (48, 16)])
def test_perception_then_runtime_equals_the_runtime_alone(size):
    """The robot's path (perception node resize, then the policy runtime) and the evaluator's
    and trainer's path (the runtime on the raw frame) give the graph the same input, whether
    the camera frame is larger or smaller than the bundle's image."""
    spec = ImageSpec(height=32, width=40, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    h, w = size
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    perceived = preprocess(
        "rgb8", h, w, w * 3, frame.tobytes(), 0, 0, PreprocessConfig.for_image(spec)
    )
    assert perceived.shape == (32, 40, 3)
    on_robot = preprocess_rgb(decode_image("rgb8", 32, 40, 120, perceived.tobytes()), spec)
    np.testing.assert_array_equal(on_robot, preprocess_rgb(frame, spec))
