"""Evaluation conditions: out-of-distribution perturbations and user instruction wordings.

``--perturb`` takes a comma-separated, combinable subset of :data:`PERTURBATIONS`:

* ``lighting``: light intensity times a factor drawn per episode from {0.3, 0.5, 1.8, 2.5};
* ``color``: random colours on walls, furniture and objects;
* ``material``: textured, shiny materials on walls and furniture;
* ``camera-noise``: additive gaussian pixel noise, std 12 (0-255 units);
* ``paraphrase``: the instruction is reworded with a *held-out* template
  (:data:`sim_bridge.instructions.HELDOUT_TEMPLATES`, never used in training).

Visual perturbations use the backend's hook (``MujocoBackend.set_perturbation``); every random
draw comes from ``numpy.random.default_rng([seed, episode index])``, so a run is reproducible.

``--instructions FILE`` gives every episode a wording from the user's templates
(:func:`sim_bridge.instructions.load_instruction_file`: ``task<TAB>template`` per line,
``{object}`` placeholder, ``#`` comments), drawn per episode with the same seeding.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sim_bridge.episodes import Episode

PERTURBATIONS: tuple[str, ...] = ("lighting", "color", "material", "camera-noise", "paraphrase")
VISUAL: tuple[str, ...] = ("lighting", "color", "material", "camera-noise")
LIGHTING_FACTORS: tuple[float, ...] = (0.3, 0.5, 1.8, 2.5)
CAMERA_NOISE_STD = 12.0


def parse_perturb(text: str | None) -> tuple[str, ...]:
    """``"color,lighting"`` -> ``("lighting", "color")`` (canonical order); "" / None -> ().

    Raises:
        ValueError: an unknown name, naming it and listing the valid ones.
    """
    if not text or text.strip().lower() in ("", "none"):
        return ()
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        raise ValueError(
            f"unknown perturbation(s) {unknown}; combine any of {', '.join(PERTURBATIONS)} "
            "with commas, e.g. --perturb lighting,color"
        )
    return tuple(p for p in PERTURBATIONS if p in names)


def episode_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of episode ``index`` of a run seeded ``seed``."""
    return np.random.default_rng([int(seed), int(index), 17])


def visual_perturbation(names: tuple[str, ...], rng: np.random.Generator):
    """The MuJoCo :class:`~sim_bridge.mujoco.perturb.Perturbation` for ``names`` (None if no
    visual perturbation is asked for)."""
    if not any(n in VISUAL for n in names):
        return None
    from sim_bridge.mujoco.perturb import Perturbation

    lighting = float(rng.choice(LIGHTING_FACTORS)) if "lighting" in names else None
    return Perturbation(
        lighting=lighting,
        color_shift="color" in names,
        material="material" in names,
        camera_noise=CAMERA_NOISE_STD if "camera-noise" in names else 0.0,
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def apply_visual(backend, names: tuple[str, ...], rng: np.random.Generator) -> None:
    """Set (or clear) the backend's visual perturbation for the next episode.

    Raises:
        ValueError: a visual perturbation was asked of a backend without the hook.
    """
    p = visual_perturbation(names, rng)
    hook = getattr(backend, "set_perturbation", None)
    if hook is None:
        if p is not None:
            raise ValueError(
                f"backend {getattr(backend, 'name', backend)!r} has no set_perturbation hook; "
                "visual perturbations need the MuJoCo backend"
            )
        return
    hook(p) if p is not None else hook()


def reword(
    episode: Episode,
    names: tuple[str, ...],
    rng: np.random.Generator,
    user_templates: dict[str, tuple[str, ...]] | None = None,
) -> Episode:
    """The episode with its instruction from the user's templates, or a held-out paraphrase
    when ``"paraphrase"`` is in ``names``; unchanged otherwise.

    Raises:
        ValueError: the user's file has no template for the episode's task.
    """
    from sim_bridge.instructions import fill, object_names, templates

    if user_templates is not None:
        pool = user_templates.get(episode.task)
        if not pool:
            raise ValueError(
                f"the instruction file has no template for task {episode.task!r} (episode "
                f"{episode.episode_id}); add a line '{episode.task}<TAB>... {{object}} ...'"
            )
    elif "paraphrase" in names:
        pool = templates(episode.task, "heldout")
    else:
        return episode
    template = pool[int(rng.integers(len(pool)))]
    text = fill(
        template, episode.target_type, int(rng.integers(len(object_names(episode.target_type))))
    )
    return dataclasses.replace(episode, instruction=text)
