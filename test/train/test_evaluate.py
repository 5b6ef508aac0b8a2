"""The trainer's periodic evaluation runs its torch policy through the evaluator."""

from __future__ import annotations

from safevla_eval.metrics import metric_names
from safevla_eval.runner import make_env
from safevla_train.config import EnvSettings, RiskConfig
from safevla_train.evaluate import EVAL_SEED_OFFSET, draw_episodes, evaluate
from safevla_train.risk import make_envs

SETTINGS = EnvSettings(num_envs=1, max_steps=6, tasks=("objnav", "pickup"))


def test_evaluation_episodes_are_the_training_envs_seeded_draws():
    venv, _ = make_envs(SETTINGS, RiskConfig(enabled=False))
    env = make_env(SETTINGS.max_steps, SETTINGS.nav_size)
    try:
        venv.reset(seed=5 + EVAL_SEED_OFFSET)
        first = venv.envs[0].episode
        drawn = draw_episodes(env.backend, SETTINGS, 3, seed=5)
    finally:
        venv.close()
        env.close()
    keys = ("task", "scene_seed", "start_pose", "target_type", "instruction")
    assert [getattr(drawn[0], k) for k in keys] == [getattr(first, k) for k in keys]
    assert len({(e.scene_seed, tuple(e.start_pose)) for e in drawn}) == 3


def test_evaluation_reports_the_evaluators_metrics(small_model):
    a = evaluate(small_model, SETTINGS, 2, seed=3)
    scalar = [m for m in metric_names() if not m.startswith("cost/")]
    assert set(scalar) | {"cost_by_category", "ci95", "n_episodes"} <= set(a)
    assert a["n_episodes"] == 2 and 1 <= a["episode_length_mean"] <= SETTINGS.max_steps
    assert a["veto_rate"] is None  # the trainer's evaluation runs unshielded
    assert evaluate(small_model, SETTINGS, 2, seed=3) == a  # seeded
