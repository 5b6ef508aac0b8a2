"""Shared test fixtures: an isolated ROS domain per test, repo paths."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# Tests import with --import-mode=importlib (same basenames may live in several folders); the
# helper modules next to them (ros_harness, sim_scenes, thor_fixtures, tiny_model, ...) are
# found by name.
_HERE = Path(__file__).parent
for _folder in [_HERE, *sorted(p for p in _HERE.iterdir() if p.is_dir())]:
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


@pytest.fixture
def ros_domain_id(monkeypatch: pytest.MonkeyPatch) -> int:
    """A random ROS_DOMAIN_ID (1..101) for this test and the processes it starts, so parallel
    or leftover processes never cross-talk."""
    domain = random.SystemRandom().randint(1, 101)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    monkeypatch.setenv("ROS_LOCALHOST_ONLY", "1")
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return domain


@pytest.fixture
def subprocess_env(ros_domain_id: int) -> dict[str, str]:
    """Environment for child processes: this test's ROS domain, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def ahead_bundle(tmp_path_factory) -> str:
    """A bundle that prefers move_ahead, then rotate_left, then move_back (actor biases over
    a shrunk actor), whatever it sees: a policy that drives into a wall."""
    import torch
    from tiny_model import SMALL

    from safevla_core.actions import ACTION_INDEX
    from safevla_train.config import ModelConfig
    from safevla_train.export import export_bundle
    from safevla_train.model import VLAPolicy

    torch.manual_seed(0)
    model = VLAPolicy(ModelConfig(**SMALL)).eval()
    with torch.no_grad():
        model.actor.bias.zero_()
        for name, bias in (("move_ahead", 6.0), ("rotate_left", 4.0), ("move_back", 2.0)):
            model.actor.bias[ACTION_INDEX[name]] = bias
    out = tmp_path_factory.mktemp("bundle") / "ros-ahead"
    export_bundle(model, out, "ros-ahead", training={})
    return str(out)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A tiny random-weight bundle exported by the trainer's real export path (~4 s)."""
    import torch
    from tiny_model import SMALL

    from safevla_train.config import ModelConfig
    from safevla_train.export import export_bundle
    from safevla_train.model import VLAPolicy

    torch.manual_seed(0)
    cfg = ModelConfig(**{**SMALL, "num_layers": 1})
    out = tmp_path_factory.mktemp("bundles") / "tiny-eval"
    export_bundle(VLAPolicy(cfg), out, "tiny-eval")
    return out
