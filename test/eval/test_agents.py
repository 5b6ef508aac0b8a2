"""Policy names, pseudo-bundles and the render size a bundle is evaluated at."""

import json
import shutil

import numpy as np
import pytest

from safevla_eval.agents import (
    DEFAULT_RENDER_HW,
    PSEUDO_BUNDLES,
    PolicySpec,
    RandomAgent,
    make_agent,
    parse_policy,
    render_size,
)
from sim_bridge.expert import MODES
from sim_bridge.policies import canonical_policy


def test_parse_policy_kinds(tiny_bundle):
    assert parse_policy("random").kind == "random"
    spec = parse_policy("expert:careless")
    assert (spec.kind, spec.target, spec.has_cost_critic) == ("expert", "careless", False)
    b = parse_policy(str(tiny_bundle))
    assert b.kind == "bundle" and b.has_cost_critic and b.name == str(tiny_bundle)
    with pytest.raises(ValueError, match="expert:careful"):
        parse_policy("expert:reckless")
    with pytest.raises(ValueError, match=r"no bundle\.json"):
        parse_policy(str(tiny_bundle.parent))


def test_render_size_follows_the_training_env(tiny_bundle, tmp_path):
    assert render_size(parse_policy("random")) == DEFAULT_RENDER_HW
    assert render_size(parse_policy(str(tiny_bundle))) == DEFAULT_RENDER_HW  # no env recorded
    copy = tmp_path / "b"
    shutil.copytree(tiny_bundle, copy)
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["training"] = {"config": {"env": {"nav_size": [72, 80]}}}
    (copy / "bundle.json").write_text(json.dumps(manifest))
    assert render_size(parse_policy(str(copy))) == (72, 80)


def test_random_agent_is_uniform_and_seeded():
    a = RandomAgent()
    a.reset(4)
    first = [a.propose({}, None).action for _ in range(200)]
    a.reset(4)
    assert [a.propose({}, None).action for _ in range(200)] == first
    counts = np.bincount(first, minlength=20)
    assert counts.min() > 0 and np.allclose(a.propose({}, None).probs, 1 / 20)


def test_one_spelling_of_the_builtin_policies():
    assert (*(f"expert:{m}" for m in MODES), "random") == PSEUDO_BUNDLES
    for name in PSEUDO_BUNDLES:
        spec = parse_policy(name)
        assert spec.name == name and spec.kind in ("expert", "random")
    # `sim render --policy` keeps reading its old spelling, in the one spelling
    assert canonical_policy("expert-careless") == "expert:careless"
    with pytest.raises(ValueError, match="expert:careful"):
        canonical_policy("expert-reckless")
    # the evaluator does not: a --bundle value with a hyphen is a folder name
    with pytest.raises(ValueError, match=r"no bundle\.json"):
        parse_policy("expert-careful")


def test_in_process_agents_are_not_built_by_name():
    with pytest.raises(ValueError, match="in-process"):
        make_agent(PolicySpec("trainer", "agent"))
