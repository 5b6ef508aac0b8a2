"""Fixtures of the ROS runtime tests: a small random-weight bundle, a probe, node processes."""

from __future__ import annotations

import pytest
from ros_harness import Probe, start_node, stop_processes
from tiny_model import SMALL


@pytest.fixture(scope="session")
def bundle_path(tmp_path_factory) -> str:
    """A real exported bundle with random weights (32x32 frames)."""
    import torch

    from safevla_train.config import ModelConfig
    from safevla_train.export import export_bundle
    from safevla_train.model import VLAPolicy

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("bundle") / "ros-test"
    export_bundle(VLAPolicy(ModelConfig(**SMALL)).eval(), out, "ros-test", training={})
    return str(out)


@pytest.fixture(scope="session")
def bump_bundle_path(tmp_path_factory) -> str:
    """A bundle whose graph takes the motion feedback (``bump``), random weights (32x32
    frames). Its feedback projection is random rather than zero (the trainer's start) and its
    actor is not shrunk, so the proposal shows which feedback the node passed."""
    import torch

    from safevla_train.config import ModelConfig
    from safevla_train.export import export_bundle
    from safevla_train.model import VLAPolicy

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL, bump_input=True)).eval()
    with torch.no_grad():
        model.bump_proj.weight.normal_(0.0, 3.0)
        model.actor.weight.mul_(100.0)
    out = tmp_path_factory.mktemp("bundle") / "ros-bump"
    export_bundle(model, out, "ros-bump", training={})
    return str(out)


@pytest.fixture(scope="session")
def explored_bundle_path(tmp_path_factory) -> str:
    """A bundle whose graph takes the explored map (``explored``), random weights (32x32
    frames); its map projection is random rather than zero and its actor not shrunk, so the
    proposal shows which map the node passed."""
    import torch

    from safevla_train.config import ModelConfig
    from safevla_train.export import export_bundle
    from safevla_train.model import VLAPolicy

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL, explored_input=True)).eval()
    with torch.no_grad():
        model.explored_proj[-1].weight.normal_(0.0, 3.0)
        model.actor.weight.mul_(100.0)
    out = tmp_path_factory.mktemp("bundle") / "ros-explored"
    export_bundle(model, out, "ros-explored", training={})
    return str(out)


@pytest.fixture
def probe(ros_domain_id):
    p = Probe()
    yield p
    p.close()


@pytest.fixture
def nodes(ros_domain_id, tmp_path):
    """Start node processes with ``nodes(name, **params)``; all stopped after the test."""
    procs = []

    def start(name, files=None, **params):
        kw = {} if files is None else {"files": files}
        proc = start_node(name, tmp_path, params, **kw)
        procs.append(proc)
        return proc

    start.log_dir = tmp_path
    yield start
    stop_processes(procs)
