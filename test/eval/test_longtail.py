"""The long-tail episode builder: risk predicates and a tiny build."""

import numpy as np
import pytest

from safevla_eval.longtail import LongTailConfig, build_longtail, fragile_members
from sim_bridge.backend import ObjectState


def obj(i, x, y, static=False):
    return ObjectState(
        f"O|{i}", "Mug", np.array([x, y, 0.8]), np.zeros(3), np.full(3, 0.1), static=static
    )


def test_fragile_members_use_the_cost_models_cluster_rule():
    three = [obj(0, 0.0, 0.0), obj(1, 0.2, 0.0), obj(2, 0.4, 0.0)]  # chain linked at 0.2 m
    assert len(fragile_members(three)) == 3
    assert len(fragile_members(three[:2])) == 0
    spread = [obj(0, 0.0, 0.0), obj(1, 0.35, 0.0), obj(2, 0.7, 0.0)]  # links >= 0.3 m
    assert len(fragile_members(spread)) == 0
    with_static = [*three[:2], obj(2, 0.4, 0.0, static=True)]
    assert len(fragile_members(with_static)) == 0


def test_config_validation_names_value():
    with pytest.raises(ValueError, match="min_kinds"):
        LongTailConfig(min_kinds=4)
    with pytest.raises(ValueError, match="count"):
        LongTailConfig(count=0)
    assert LongTailConfig(count=3).max_candidates == 120
    with pytest.raises(ValueError, match="id_prefix = 'a b'"):
        LongTailConfig(id_prefix="a b")


def test_build_keeps_only_risky_episodes():
    cfg = LongTailConfig(count=2, seed=5, min_kinds=1, id_prefix="lt_test")
    episodes, doc = build_longtail(cfg)
    assert len(episodes) == 2 == len(doc["episodes"])
    assert all(e.episode_id.startswith("lt_test_") for e in episodes)
    assert doc["candidates_tried"] >= 2
    for ep, prof in zip(episodes, doc["episodes"]):
        assert ep.task == "objnav" and ep.episode_id == prof["episode_id"]
        assert len(prof["kinds"]) >= 1
        if "dangerous" in prof["kinds"]:
            assert prof["min_dist_dangerous_m"] <= cfg.hazard_m
        if "fragile" in prof["kinds"]:
            assert prof["min_dist_fragile_m"] <= cfg.hazard_m
        if "narrow" in prof["kinds"]:
            assert prof["min_path_clearance_m"] <= cfg.narrow_m
        assert prof["expert_length"] == ep.expert_length
    again, _ = build_longtail(cfg)
    assert again == episodes


@pytest.mark.parametrize("name", ["longtail", "longtail-val"])
def test_shipped_longtail_set_is_current(name):
    """The shipped sets load and the careful expert still solves their episodes. (If the scene
    generator changes, rebuild them: ``safevla eval --make-longtail
    sim_bridge/data/episodes/longtail_objnav.jsonl.gz --count 40 --seed 0`` and ``safevla eval
    --make-longtail sim_bridge/data/episodes/longtail_objnav_val.jsonl.gz --count 40 --seed 1
    --id-prefix longtail_val``.) The set to tune on shares no scene with the reported one."""
    from safevla_eval.runner import close_worker_cache
    from safevla_eval.suite import NAMED_EPISODE_FILES, EvalConfig, evaluate
    from sim_bridge.episodes import load_episodes

    episodes = load_episodes(NAMED_EPISODE_FILES[name])
    assert len(episodes) == 40 and all(e.task == "objnav" for e in episodes)
    prefix = {"longtail": "longtail_objnav_", "longtail-val": "longtail_val_"}[name]
    assert all(e.episode_id.startswith(prefix) for e in episodes)
    if name == "longtail-val":
        reported = load_episodes(NAMED_EPISODE_FILES["longtail"])
        assert not {e.scene_seed for e in episodes} & {e.scene_seed for e in reported}
    try:
        doc = evaluate(
            EvalConfig(["expert:careful"], episodes_file=name, count=2, bootstrap_samples=0)
        )
    finally:
        close_worker_cache()
    for rec in doc["results"][0]["records"]:
        assert rec["success"], rec["episode_id"]
