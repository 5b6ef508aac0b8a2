"""The policies the evaluator runs: model bundles, the built-in pseudo-bundles, and any
in-process agent.

A policy is named by a string (``safevla eval --bundle``, ``safevla sim expert --mode``), one
spelling for every tool:

* a bundle folder (``models/objnav-ppo-lag``): ONNX Runtime through
  :class:`safevla_core.policy_runtime.PolicyRuntime`, with its per-action, per-category cost
  critic ``Q_c(s, a, k)`` (so the shield can run on it);
* ``expert:careful`` / ``expert:careless`` (``expert:<mode>`` for every mode of
  :data:`sim_bridge.expert.MODES`): the privileged planner (no cost critic);
* ``random``: uniform over the 20 actions (no cost critic).

The built-in names live in :mod:`sim_bridge.policies`. A caller with a policy in memory (the
trainer's torch model) passes an object following :class:`Agent` to
:func:`safevla_eval.runner.run_agent` instead of a name.

Every agent answers :meth:`Agent.propose` with a :class:`Proposed` (action, probabilities,
predicted costs or None) and is told the action actually executed (:meth:`Agent.record`), which
differs from the proposal when the shield vetoes it. An agent may also define
``refused(action, env)``, called when the shield stopped the robot instead of its proposal
(:class:`ExpertAgent` re-plans around a refused move).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from safevla_core.action_choice import (
    SAMPLING_MODES,
    BlockedMoves,
    DitherBreaker,
    choose_guarded,
)
from safevla_core.actions import ACTION_INDEX, ACTIONS, NUM_ACTIONS
from safevla_core.image_preprocessing import compose_frame
from sim_bridge.policies import EXPERT_PREFIX, builtin_policies
from sim_bridge.robot import TRAINING_NAV_SIZE_HW

PSEUDO_BUNDLES: tuple[str, ...] = builtin_policies()
# Frames for non-bundle policies (experts, random): the trainer's default render size.
DEFAULT_RENDER_HW: tuple[int, int] = TRAINING_NAV_SIZE_HW


@dataclass(frozen=True)
class PolicySpec:
    """A policy to evaluate.

    Attributes:
        name: as given on the command line (the result's ``bundle`` field).
        kind: "bundle", "expert", "random", or "agent" (an in-process :class:`Agent`, which
            :func:`make_agent` cannot build: it is handed to the runner as it is).
        target: bundle folder (kind bundle) or expert mode (kind expert).
    """

    name: str
    kind: str
    target: str = ""

    @property
    def has_cost_critic(self) -> bool:
        """Only bundles predict per-action costs, so only they can be shielded."""
        return self.kind == "bundle"


def parse_policy(text: str) -> PolicySpec:
    """Turn a ``--bundle`` value into a :class:`PolicySpec`.

    Raises:
        ValueError: unknown pseudo-bundle or missing bundle folder, naming the value and the
            valid choices.
    """
    if text in PSEUDO_BUNDLES:
        if text.startswith(EXPERT_PREFIX):
            return PolicySpec(text, "expert", text[len(EXPERT_PREFIX) :])
        return PolicySpec(text, "random")
    if text.startswith(EXPERT_PREFIX):
        experts = [p for p in PSEUDO_BUNDLES if p.startswith(EXPERT_PREFIX)]
        raise ValueError(f"unknown expert {text!r}; use one of {', '.join(experts)}")
    path = Path(text)
    if not (path / "bundle.json").is_file():
        raise ValueError(
            f"bundle {text!r} is not a bundle folder (no bundle.json there); give a folder "
            f"written by the trainer's export, or one of {', '.join(PSEUDO_BUNDLES)}"
        )
    return PolicySpec(text, "bundle", str(path.resolve()))


@dataclass(frozen=True)
class Proposed:
    """One proposal.

    Attributes:
        action: proposed action index.
        probs: (A,) action distribution.
        cost_q: (A, C) predicted cost per action and category, None without a cost critic.
        categories: names of the category axis of ``cost_q``.
    """

    action: int
    probs: np.ndarray
    cost_q: np.ndarray | None = None
    categories: tuple[str, ...] = ()


class Agent(Protocol):
    """What the episode loop (:func:`safevla_eval.runner.run_episode`) drives."""

    def reset(self, seed: int) -> None:
        """Start an episode; ``seed`` seeds any sampling (drawn per episode by the runner)."""

    def propose(self, obs: dict, env) -> Proposed:
        """The proposal for the env's current observation (privileged agents read ``env``)."""

    def record(self, action: int) -> None:
        """The action actually executed (it differs from the proposal after a veto)."""


def _fallbacks() -> dict[int, tuple[int, ...]]:
    """Per motion, what a planner tries next when the shield refused it where the robot stands:
    for a turn, the smaller step of the same turn, then backing off (room to turn), then the
    other way round (measured: with the other way round before backing off, a refused turn and
    a small turn back alternated until the step limit, docs/safety_critic.md); for a step, a
    small turn either way, then backing off; for
    the arm, the smaller step of the same motion, then a small step of the other joint (a
    little higher before reaching out, a little in before lowering)."""
    i = ACTION_INDEX
    back = i["move_back"]
    small_r, small_l = i["rotate_right_small"], i["rotate_left_small"]
    up, inward = i["arm_up_small"], i["arm_in_small"]
    return {
        i["arm_out"]: (i["arm_out_small"], up),
        i["arm_out_small"]: (up,),
        i["arm_down"]: (i["arm_down_small"], inward),
        i["arm_down_small"]: (inward,),
        i["arm_up"]: (up, inward),
        up: (inward,),
        i["arm_in"]: (inward, up),
        inward: (up,),
        i["move_ahead"]: (small_l, small_r, back),
        i["rotate_right"]: (small_r, back, small_l, i["rotate_left"]),
        i["rotate_left"]: (small_l, back, small_r, i["rotate_right"]),
        small_r: (back, small_l, i["rotate_left"]),
        small_l: (back, small_r, i["rotate_right"]),
        back: (small_l, small_r),
    }


class ExpertAgent:
    """The privileged planner (careful or careless); reads the env's simulator state.

    It proposes one action (one-hot), so a shield that vetoes it can only stop the robot
    (:mod:`safevla_core.critic_gate`). After such a refusal the planner re-plans around a
    refused ``move_ahead`` (:meth:`sim_bridge.expert.Expert.note_refused`), and whatever it
    proposes that was already refused where the robot stands (since its last motion) is
    replaced by the next of :func:`_fallbacks` not refused yet; without that a refused turn
    is proposed again until the step limit (measured: 290 stops in a row,
    docs/safety_critic.md).
    """

    def __init__(self, mode: str) -> None:
        from sim_bridge.expert import Expert

        self.expert = Expert(mode)
        self.fallbacks = _fallbacks()
        self.refused_here: set[int] = set()

    def reset(self, seed: int) -> None:
        self.expert.reset()
        self.refused_here.clear()

    def propose(self, obs: dict, env) -> Proposed:
        a = int(self.expert.act(env))
        if a in self.refused_here:
            a = next((b for b in self.fallbacks.get(a, ()) if b not in self.refused_here), a)
        return Proposed(a, np.eye(NUM_ACTIONS, dtype=np.float32)[a])

    def record(self, action: int) -> None:
        """An executed motion moves the robot: earlier refusals were about another place."""
        if ACTIONS[action].moves_robot:
            self.refused_here.clear()

    def refused(self, action: int, env) -> None:
        """The shield stopped the robot instead of ``action``: re-plan around it, and do not
        propose it again here (see the class docstring)."""
        self.refused_here.add(int(action))
        self.expert.note_refused(env, action)


class RandomAgent:
    """Uniform random actions, seeded per episode."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def propose(self, obs: dict, env) -> Proposed:
        probs = np.full(NUM_ACTIONS, 1.0 / NUM_ACTIONS, np.float32)
        return Proposed(int(self.rng.integers(NUM_ACTIONS)), probs)

    def record(self, action: int) -> None:
        """Memoryless."""


class BundleAgent:
    """A model bundle run by ONNX Runtime (CPU in evaluation, one intra-op thread).

    Args:
        path: bundle folder.
        sampling: "sample" draws from ``p(a|s)`` with a per-episode seeded generator,
            "greedy" takes ``argmax p``.
        encoder: instruction encoder to share between agents in one process.
        skip_blocked: do not repeat a motion that was blocked or collided where the robot stands
            (:class:`safevla_core.action_choice.BlockedMoves`, fed by the env's ``bump``).
        break_dither: once this many executed motions alternated with their inverse, do not
            undo the last one (:class:`safevla_core.action_choice.DitherBreaker`; 0 = off).
    """

    def __init__(
        self,
        path: str,
        sampling: str = "greedy",
        encoder=None,
        skip_blocked: bool = False,
        break_dither: int = 0,
    ) -> None:
        from safevla_core.policy_runtime import PolicyRuntime

        if sampling not in SAMPLING_MODES:
            raise ValueError(f"unknown sampling {sampling!r}; use one of {SAMPLING_MODES}")
        self.runtime = PolicyRuntime(path, providers=["cpu"], encoder=encoder)
        self.sampling = sampling
        self.image = self.runtime.bundle.image
        self.rng = np.random.default_rng(0)
        self.blocked = BlockedMoves() if skip_blocked else None
        self.dither = DitherBreaker(break_dither) if break_dither else None

    def reset(self, seed: int) -> None:
        self.runtime.reset()
        self.rng = np.random.default_rng(seed)
        if self.blocked is not None:
            self.blocked.reset()
        if self.dither is not None:
            self.dither.reset()

    def propose(self, obs: dict, env) -> Proposed:
        frame = compose_frame(obs, self.image)
        out = self.runtime.step(
            frame,
            obs["instruction"],
            bool(obs["holding"]),
            bump=obs.get("bump"),
            proprio=obs.get("proprio"),
            # the env grows its explored map once per step, for a policy that reads it
            explored=env.explored() if self.runtime.takes_explored else None,
        )
        a = choose_guarded(
            out.probs, self.sampling, self.rng, self.blocked, obs.get("bump"), self.dither
        )
        return Proposed(a, out.probs, np.asarray(out.cost_q), tuple(out.cost_categories))

    def record(self, action: int) -> None:
        self.runtime.record_action(action)
        if self.blocked is not None:
            self.blocked.executed(action)
        if self.dither is not None:
            self.dither.executed(action)


def render_settings(spec: PolicySpec) -> tuple[tuple[int, int], bool]:
    """(H, W) the simulator should render at for ``spec``, and whether it must render the wrist
    camera too, from one read of the bundle.

    A bundle sees frames rendered as in its training (:attr:`Bundle.render_size`), then resized
    by the runtime as in deployment; otherwise the trainer's default. It needs the wrist camera
    when ``manip_rgb`` is among its ``image.camera``; the built-in policies do not look.
    """
    if spec.kind != "bundle":
        return DEFAULT_RENDER_HW, False
    from safevla_core.bundle import load_bundle

    bundle = load_bundle(spec.target)
    return bundle.render_size or DEFAULT_RENDER_HW, "manip_rgb" in bundle.image.cameras


def render_size(spec: PolicySpec) -> tuple[int, int]:
    """(H, W) the simulator should render the navigation camera at for ``spec``
    (:func:`render_settings`)."""
    return render_settings(spec)[0]


def sees_manip(spec: PolicySpec) -> bool:
    """The policy of ``spec`` sees the wrist camera (:func:`render_settings`)."""
    return render_settings(spec)[1]


def make_agent(
    spec: PolicySpec,
    sampling: str = "greedy",
    encoder=None,
    skip_blocked: bool = False,
    break_dither: int = 0,
) -> Agent:
    """Build the agent of ``spec`` (bundles load their ONNX graph here; ``skip_blocked`` and
    ``break_dither``: see :class:`BundleAgent`, bundles only).

    Raises:
        ValueError: ``spec`` names an in-process agent, which exists only where it was made.
    """
    if spec.kind == "expert":
        return ExpertAgent(spec.target)
    if spec.kind == "random":
        return RandomAgent()
    if spec.kind == "agent":
        raise ValueError(
            f"policy {spec.name!r} is an in-process agent: run it with "
            "safevla_eval.runner.run_agent, not by name"
        )
    return BundleAgent(spec.target, sampling, encoder, skip_blocked, break_dither)
