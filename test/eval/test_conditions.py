"""Perturbation parsing, instruction rewording and the visual perturbation hook."""

import numpy as np
import pytest

from safevla_eval.conditions import apply_visual, episode_rng, parse_perturb, reword
from sim_bridge.episodes import Episode
from sim_bridge.instructions import HELDOUT_TEMPLATES, TRAIN_TEMPLATES

EP = Episode("e0", "objnav", 1_000_001, (1.0, 1.0, 0.0), "Mug", "find a mug", 20)


def test_parse_perturb_canonical_and_errors():
    assert parse_perturb("paraphrase, color,lighting") == ("lighting", "color", "paraphrase")
    assert parse_perturb("") == () and parse_perturb(None) == () and parse_perturb("none") == ()
    with pytest.raises(ValueError, match="fog"):
        parse_perturb("lighting,fog")


def _template_of(text):
    for pool in (HELDOUT_TEMPLATES["objnav"], TRAIN_TEMPLATES["objnav"]):
        for t in pool:
            head, tail = t.split("{object}")
            if text.startswith(head) and text.endswith(tail):
                return t
    return None


def test_paraphrase_uses_heldout_templates_deterministically():
    out = [reword(EP, ("paraphrase",), episode_rng(0, i)) for i in range(12)]
    assert all(_template_of(e.instruction) in HELDOUT_TEMPLATES["objnav"] for e in out)
    assert len({e.instruction for e in out}) > 1
    again = [reword(EP, ("paraphrase",), episode_rng(0, i)) for i in range(12)]
    assert out == again
    assert reword(EP, ("lighting",), episode_rng(0, 0)) is EP


def test_user_templates_win_and_missing_task_is_an_error():
    user = {"objnav": ("hey robot, the {object} please",)}
    e = reword(EP, (), episode_rng(0, 0), user)
    assert e.instruction.startswith("hey robot, the ") and e.episode_id == EP.episode_id
    with pytest.raises(ValueError, match="no template for task 'objnav'"):
        reword(EP, (), episode_rng(0, 0), {"pickup": ("grab {object}",)})


def test_visual_perturbations_change_the_frames():
    from sim_bridge.mujoco.backend import MujocoBackend

    b = MujocoBackend()
    try:
        b.reset(1_000_001)
        clean = b.render("nav").astype(float)
        for names in (("lighting",), ("color",), ("camera-noise",)):
            apply_visual(b, names, episode_rng(0, 1))
            b.reset(1_000_001)
            assert np.abs(b.render("nav").astype(float) - clean).mean() > 1.0, names
        apply_visual(b, (), episode_rng(0, 1))  # clears the perturbation
        b.reset(1_000_001)
        assert np.array_equal(b.render("nav").astype(float), clean)
    finally:
        b.close()
