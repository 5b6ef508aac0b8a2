"""`safevla run --sim` and the sim bridge render at the frame size the bundle was trained at."""

from __future__ import annotations

import json
import shutil

from safevla_core.bundle import load_bundle
from safevla_ros import runner
from safevla_ros.cli.main import build_parser
from safevla_ros.params import SIM_BRIDGE_PARAMS
from safevla_ros.sim_bridge_node import camera_size


def test_run_sim_renders_at_the_size_the_bundle_records(tiny_bundle, tmp_path):
    """`safevla run --sim` hands the bundle to the sim bridge node, which renders at the size
    the manifest records (and at its camera parameters when there is no bundle)."""
    sized = tmp_path / "sized"
    shutil.copytree(tiny_bundle, sized)
    manifest = json.loads((sized / "bundle.json").read_text())
    manifest["render"] = {"camera": "nav_rgb", "height": 40, "width": 48}
    (sized / "bundle.json").write_text(json.dumps(manifest))
    args = build_parser().parse_args(["run", "--sim", "--bundle", str(sized)])
    bundle = load_bundle(args.bundle)
    assert bundle.render_size == (40, 48)
    sim = runner.overrides(args, bundle.path)["sim_bridge_node"]["ros__parameters"]
    params = {spec.name: spec.default for spec in SIM_BRIDGE_PARAMS} | sim
    assert camera_size(params) == (40, 48)
    params["bundle_path"] = ""
    assert camera_size(params) == (params["camera_height"], params["camera_width"])
