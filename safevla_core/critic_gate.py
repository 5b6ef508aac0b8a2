"""The independent safety critic inside the safety monitor (ROS-free): the monitor rule's state.

The monitor node and the evaluator's shield both hand a :class:`CriticGate` to
:class:`safevla_core.safety_monitor.SafetyMonitor`; its rule
(:class:`safevla_core.monitor_rules.SafetyCriticRule`) then judges every proposal that the rules
in front of it let through. Per proposal::

    frame    = the camera frame whose stamp the proposal carries (the frame the policy saw)
    verdict  = critic.step(frame, action executed after the previous proposal, or none
                           [, the robot's motion feedback: for a critic with ``bump_input``])
               (a corner-guard veto of a motion that moves away from what the robot touches:
                the critic's own risk again)
    blocked  = risk[a, k] >= threshold_k in some category k          (a moves the robot)
    a*       = the action the earlier rules let through (the proposal, or the cost rule's pick)
    if a detour is under way:  execute its next step if the critic passes it now, else drop it
    if a* is not blocked:  execute a*
    else (a veto):  execute a motion drawn with probability proportional to p_a among the
                    actions a that move the robot, have p_a > 0, pass the earlier rules, and
                    have risk[a, k] < margin * threshold_k in every k (``replacement``
                    "sample", the default; "likeliest": argmax p_a among them);
                    none: a safe stop
                    (a base motion's veto in a loop of vetoes starts a detour first: below)

**The replacement is drawn, not the likeliest (``replacement``, default "sample").** A greedy
policy proposes the same vetoed action from the same state, so the likeliest clear replacement
was the same too, and a replacement that moves nothing or that the policy undoes at once
locked the two into a loop to the step limit (measured, thirty-first session: 513 steps of
``arm_in`` with the arm already in; a replacement turn undone 283 times). Drawn from the
policy's own distribution over the clear motions, the replacement varies and the loop breaks;
every executed motion still passes the same margin. The draws restart from a fixed seed at
every episode, so a run is repeatable. A one-hot proposer has no second choice: nothing to
draw (measured, thirty-second session: `objnav-ppo-lag` on unseen set 2 0.41 -> 0.47, no cost).

**A veto holds until the robot moves.** After a stop the critic's next step sees "no action"
as the previous action, so its input changes while the world does not, and the same proposal
in the same place could pass one step after it was vetoed. A vetoed action therefore stays
blocked (and is no replacement either) until a motion has been executed; a stop, ``end`` or a
refused proposal keeps the latch.

**Motion feedback.** A critic that takes it (``bump_input``) is fed the last MotionFeedback
the monitor received (:meth:`CriticGate.on_bump`; zeros again at each new episode). Until one
has arrived the rule stops the robot: a critic that cannot tell contact from free space cannot
vouch for a motion.

**The contact guard (``contact_guard``, default on).** With that feedback, a motion that
touched something bars the way it drove its joint (``arm_out`` and ``arm_out_small`` are one
way, ``rotate_right`` and ``rotate_right_small`` another): a barred proposal is vetoed as the
critic's vetoes are (its clear replacement, else a stop). An arm motion that touched something
bars its way until the base has moved (measured on PickUp: the gripper pressed against an
object out of view, each push a blind-spot cost the critic passed, and the arm's other motions
touched it too); a base motion bars its way only when contact blocked it (a blocked motion
moved nothing, so its repeat only presses again; sliding along a wall bars nothing), until a
motion touches nothing. A stop keeps the bars: the world is as it was.

**The clear pass and the holding flag.** A critic with a clear pass (``clear_pass_m``) is fed the
arm's joint state as a ``proprio_input`` critic is (same rules: stop until a usable one) and the
gripper's holding flag (:meth:`CriticGate.on_holding`; None = unknown, kept across episodes);
the critic lets base motions clear of the scan pass only while the flag says empty.

**Range scan and arm joint state.** A critic that reads the range scan (``scan_input``) or the
arm's joint state (``proprio_input``) is fed the newest one the monitor received
(:meth:`CriticGate.on_scan`, :meth:`CriticGate.on_proprio`). Until a usable one has arrived,
after a rejected one, and once the newest is older than ``scan_max_age_s`` /
``proprio_max_age_s``, the rule stops the robot: a critic that cannot tell where the arm is
cannot vouch for an arm motion. A critic that reads the object scan (``object_scan_input``:
the scan with the static structure removed, a scan filtered against a static map) is fed the
newest one (:meth:`CriticGate.on_scan_objects`) under the same rules and ``scan_max_age_s``.

**Escape (``escape_after`` = K, default 3; ``escape_below`` = b, default 1).** Where the
critic vetoes every motion the proposer offers the robot can only stand; measured, a shielded
robot then stands to the step limit (most of the episodes a shield fails,
docs/safety_critic.md). Once the robot has stood K proposals in a row, the veto of a base
motion with no clear replacement executes instead the base motion the critic rates least
risky (the smallest ``max_k risk[a, k] / threshold_k``) that the earlier rules allow, whatever
the proposer's probability, with ``max_k risk[a, k] / threshold_k < b`` now, else it stops. The
escape judges every base motion afresh, one vetoed here before too (the latch holds for the
proposer's own proposals and replacements): measured, a one-hot proposer that had proposed each
motion once and had each refused stood to the step limit next to motions the critic now
passed. At b <= 1 (the default) every executed motion still passes the calibrated
thresholds: only the proposer's probability no longer decides, so a one-hot proposer stuck in
front of a vetoed motion is moved by the clearest other one (measured, thirty-second session:
the careless expert +3 to +8 points on ObjectNav, no cost added). An arm motion's veto is
never escaped: the critic's arm risks are its least reliable (measured on PickUp: escapes with
arm motions under the thresholds added blind-spot costs), and a base motion would take the arm
from its object. ``escape_after`` = 0 turns it off ("a clear motion or a stop"); b = inf takes
the least risky motion whatever its risk (not calibrated).

**Stall release (``stall_stops`` = S, default 6; ``stall_below`` = b, default 1).** A robot can
stall without standing still: a one-hot proposer turning a small step left, a small step right,
then proposing the refused turn again (a stop every third proposal), so the escape's count of
stops in a row never reaches K and the clear motions it has go nowhere. Measured (forty-first
session): the careless expert's long-tail failures were such stalls to the step limit. Once S of
the last ``STALL_WINDOW`` proposals ended in a stop and the rule would stop the robot again, the
proposal itself runs if its risk is below b times the thresholds in every category, else a
base motion drawn uniformly among those with ``max_k risk[a, k] / threshold_k`` below b, if
any (judged afresh, as the escape; the draws restart from a fixed seed at every episode); then
the count starts again. Drawn, not the clearest (forty-second session): a one-hot proposer that
undid the clearest motion at once, then proposed the refused one again, locked the two into the
same ten-step cycle to the step limit (the careless expert, unseen set 2, episode 15: 57
releases, each the same small turn); the draw gained the careless expert two long-tail
successes and lost none. At b <= 1 (the default) every executed motion still
passes the calibrated thresholds: the proposal, vetoed, never qualifies, so the release moves
the robot with one of the escape's motions, on a count of stops in the window instead of in a
row. At b > 1 a release may run a motion the
thresholds refuse, the proposal first (measured at 6: the careless expert kept one more long-tail
success, at cost 0; 59 of its 285 releases were over the thresholds). Any proposer: on the
shipped policies' 26 stalled episodes, b = 1 gained two successes and lost none (b = 6: one
gained, one lost), cost 0. Only base motions, only what the earlier rules allow (a geometric
veto of the corner guard, the footprint floor or the arm guard is a risk of 1), at most one
release per S stops. The monitor
counts them (:attr:`CriticGate.releases`, the evaluation's ``extra["critic"]["releases"]``);
``stall_stops`` = 0 turns it off.

**Frozen: the corner guard's raise given back (forty-seventh session).** A robot wedged in a
cramped spot can have every base motion refused by the corner guard alone (risk 1 from the
guard, the critic's own risks far under the thresholds) and no motion that the guard release
calls separating: measured, `objnav-ppo` on unseen set 2, episode 92, stopped for 460 steps to
the limit, every base motion's exact one-step cost 0, in each draw. Once a whole window of
proposals (``STALL_WINDOW``) ended in a stop and the release finds nothing, it looks again
with the guard's raise of each base motion given back (the risk the graph hands out before the
guard, as the guard release reads it): what runs still passes ``stall_below`` times the
calibrated thresholds on the critic's own risk and every earlier rule; the arm guard, the
contact guard and the rules before the critic stay. At most one such release per window of
stops; counted in :attr:`CriticGate.frozen_releases` (the evaluation's
``extra["critic"]["frozen_releases"]``, present where one ran).

**Back-off (``recover_after`` = R > 0, default 3) for one-hot proposers.** A proposer that
sends one action (a planner's command: probability 1 on it, 0 elsewhere) gets a stop on every
veto, and a stop leaves the robot where its proposals keep being vetoed: the careless expert
next to an obstacle alternated refused motions with small turns until the step limit
(measured: docs/safety_critic.md, twenty-eighth session). Once R of the last
``RECOVER_WINDOW`` proposals were vetoed base motions, a one-hot proposal's veto of a base
motion is answered by backing off instead of a stop: ``move_back``, else ``move_ahead``, whichever
passes the thresholds (risk < threshold in every category: the calibrated rule, without the
replacement's margin, which the critic's caution about reversing blind rarely leaves to
``move_back`` in clutter) and is not latched, whatever the proposer's probability; then the
count starts again. Every executed motion still passes the calibrated thresholds. A policy's
distribution is left alone: its clear replacement, else a stop (measured: backing off before
its replacement, or in place of its stops, lost 1-4 points of the policies' success on every
set); an arm motion's veto never moves the base.

**Detour (``detour_after`` = D, default 6) for a proposer that loops in front of a veto.** A
policy that knows one way to its target (through what the critic refuses) proposes it again
after every replacement: measured (thirty-fourth session), 41 of the 77 episodes the shield
cost the shipped policies were such loops to the step limit, nearly all in front of the
footprint floor or the corner guard, the replacement turn undone at once. Once D of the last
``DETOUR_WINDOW`` proposals were vetoed base motions, the veto of a base motion starts a
detour: the first shape of ``DETOUR_SHAPES`` (turns of 30 degrees to one side, moves ahead,
the same turns back; each without and then with one ``move_back`` first; the side with more
room at 60-120 degrees first) whose every pose, arm-aware footprint, keeps ``DETOUR_MARGIN_M``
from every return of the range scan (:func:`safevla_core.footprint.maneuver_clearance`). Its
steps run in place of the next proposals, each only if the critic passes it when it runs
(risk below the thresholds in every category, no contact bar, allowed by the earlier rules),
else the detour is dropped and the proposal meets the usual rule: every executed motion still
passes the calibrated thresholds. A critic without the range scan never detours.

**The guard release (``guard_release``, default on).** A critic whose graph ends in the corner
guard (``corner_guard`` in critic.json) raises to 1 the corner risk of every base motion whose
sweep passes within 5 mm of the range scan in a cramped place; a robot that already touches a
wall there (the careless expert pressed against one, its gripper on it) gets every base motion
refused, the ones that move it away too (measured, thirty-fourth session: the expert's freezes,
exact one-step cost 0 for every motion). The monitor reads the critic's own risk from the same
graph (the tensor before the guard) and, for a base motion the guard raised, gives that risk
back where the motion strikes nothing new: no scan return comes within the guard's 5 mm of the
robot's footprint as it is (base, arm, the gripper turned with the wrist) at any pose along the
motion while closer than it was at the start
(:func:`safevla_core.footprint.separating_motions`). A motion carrying the footprint past
returns it was not touching, or into the wall, stays refused. The guard only ever added vetoes
to the calibrated critic, so a released motion still has to pass the calibrated thresholds.

**The arm guard (``arm_guard``, default on, for a critic that reads the range scan).** The
critic does not see the arm's extension, and its arm risks are its least reliable: measured on
PickUp (thirty-seventh session), an ``arm_out`` with the arm at 0.34 m that the critic passed
struck an object, and the cluster it set moving cost 12 more over the next steps. The monitor
is fed the arm scan (:meth:`CriticGate.on_scan_arm`: the range scan over the heights the arm
and gripper occupy at the lift's height, ``safevla_core.footprint.ARM_BAND_M``; a depth camera
or 3D lidar with a height band that follows the lift on a robot, the sim bridge's
``scan_arm``) and the arm's joint state, and vetoes an extension (``arm_out``,
``arm_out_small``) that would bring a return of it within ``ARM_GUARD_STRIKE_M`` of the
footprint while closer than it is now (:func:`safevla_core.footprint.arm_strikes`): the
gripper would strike something new. The guard only adds vetoes (the extension's risk in the
category the critic rates likeliest is raised to 1, so no rule after it runs it either). The
scan over the arm's heights, not the whole height band: reaching over a table, the full scan
sees the table's edge under the arm (measured: with the full scan the guard took the careless
expert's PickUp success from 0.45 to 0.07). Until a usable arm scan has arrived, after a
rejected one and once it is older than ``scan_max_age_s``, the rule stops the robot.

**A replacement that moved nothing is no replacement.** With motion feedback, a motion the
feedback reports blocked (an arm driven past its joint's limit, a base motion held by what it
touched) moved nothing, so it is no replacement, back-off or escape again until a motion goes
unblocked (a stop keeps the mark: the world is as it was). Measured (thirty-fifth session): in a
corner where the critic refuses the policy's turn and no detour fits, the likeliest clear
replacement was ``arm_in`` with the arm already in, executed 562 times in a row; the robot stood
while the monitor counted it as moving, so the escape never came either. The proposal itself is
judged as before: only what the monitor substitutes changes.

``margin`` (default 0.5) keeps the replacement clear of the threshold: an action the critic
barely lets through is a poor substitute for one it just vetoed. An action the policy gives
probability 0 is never substituted (it is not the policy's choice), so a one-hot proposer (the
privileged experts) gets a stop on every veto.

The thresholds come from the critic bundle's conformal calibration at its ``alpha``
(:mod:`safevla_core.conformal`). A different ``alpha`` needs the calibration scores, which a
critic bundle does not carry: it is refused with the command that recalibrates. The critic
must agree with the policy bundle it guards: action space, cost categories, image spec (the
critic sees the perception node's output, sized for the policy) and safety-spec version.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass

import numpy as np

from safevla_core.actions import (
    ACTION_NAMES,
    ACTIONS,
    PROPRIO_FIELDS,
    SCAN_ANGLE_MIN,
    ActionKind,
    check_bump,
    check_proprio,
    check_scan,
)
from safevla_core.bundle import Bundle
from safevla_core.critic_bundle import CriticBundleError, CriticManifest
from safevla_core.footprint import (
    BASE_MOTIONS,
    arm_strikes,
    check_wrist_yaw,
    maneuver_clearances,
    separating_motions,
)
from safevla_core.image_preprocessing import ImageSpec
from safevla_core.safety_critic import CriticVerdict, EncodedFrame, SafetyCritic, allowed_mask

DEFAULT_CRITIC_MARGIN = 0.5
_ARM_EXTENSION = PROPRIO_FIELDS.index("arm_extension")
DEFAULT_CRITIC_ESCAPE_AFTER = 3  # stood this many proposals: the clearest passing motion
DEFAULT_CRITIC_ESCAPE_BELOW = 1.0  # the escape runs only motions the thresholds pass
DEFAULT_CRITIC_RECOVER_AFTER = 3  # vetoes among the last RECOVER_WINDOW proposals: back off
# stops among the last STALL_WINDOW proposals after which a stalled robot gets a release
DEFAULT_CRITIC_STALL_STOPS = 6
DEFAULT_CRITIC_STALL_BELOW = 1.0  # a release runs only motions the thresholds pass
# a base motion blocked by contact bars its way (the contact guard's base part)
DEFAULT_CRITIC_CONTACT_GUARD_BASE = True
STALL_WINDOW = 20
# a robot that stopped on this many of its last HELD_WINDOW proposals is held: its proposer
# keeps asking for what the critic refuses and the rules have not moved it on (the monitor
# node warns on /diagnostics and sends one SafetyEvent per hold, for an operator to step in)
HELD_WINDOW = 100
HELD_STOPS = 30
HELD_UNTIL = 15  # ... and stays held until fewer than this stopped (no report per flicker)
# vetoed base motions among the last DETOUR_WINDOW proposals after which the monitor detours
DEFAULT_CRITIC_DETOUR_AFTER = 6
DETOUR_WINDOW = 20
DETOUR_MARGIN_M = 0.03  # every pose of a detour this far from every scan return
# the arm guard vetoes an extension that brings a return of the arm scan this close (m), as the
# corner guard's strike clearance
ARM_GUARD_STRIKE_M = 0.005
# the detours tried, in order: (turns of 30 degrees to one side, moves ahead); each without and
# then with one move_back first, the more open side first
DETOUR_SHAPES = ((3, 2), (3, 1), (2, 2), (2, 1))
# how a veto's replacement is chosen among the clear motions the proposer gives probability
REPLACEMENTS = ("sample", "likeliest")
DEFAULT_CRITIC_REPLACEMENT = "sample"
# the replacement draws and the stall release's restart from this seed at every episode (the
# default of CriticGate's ``seed``)
REPLACEMENT_SEED = 0
RECOVER_WINDOW = 10
_BACK_OFF = (ACTION_NAMES.index("move_back"), ACTION_NAMES.index("move_ahead"))
_AHEAD, _BACK = ACTION_NAMES.index("move_ahead"), ACTION_NAMES.index("move_back")
_LEFT, _RIGHT = ACTION_NAMES.index("rotate_left"), ACTION_NAMES.index("rotate_right")
_BASE = BASE_MOTIONS  # the actions that move the base
# A range scan older than this (seconds) is not the robot's surroundings any more: the critic
# rule stops (a 10 Hz scanner that missed five scans). The monitor's scan_max_age_s overrides.
DEFAULT_SCAN_MAX_AGE_S = 0.5
# The same for the arm's joint state (a driver publishes it at 10-100 Hz); proprio_max_age_s.
DEFAULT_PROPRIO_MAX_AGE_S = 0.5
FRAMES_KEPT = 8  # frames by stamp: proposals answer one of the newest few
_MOVES = np.array([a.moves_robot for a in ACTIONS])
# Per action the way it drives its joint (actuator, sign): arm_out and arm_out_small share one,
# as do rotate_right and rotate_right_small; -1 for the actions that command no displacement.
_WAYS: dict[tuple[ActionKind, float], int] = {}
_WAY = np.array(
    [
        _WAYS.setdefault((a.kind, math.copysign(1.0, a.magnitude)), len(_WAYS))
        if a.is_motion
        else -1
        for a in ACTIONS
    ]
)


def _count_of_window(name: str, value, window: int, what: str, zero: str) -> int:
    """``value`` as a count of ``what`` among the last ``window`` proposals, else ValueError
    naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= window:
        raise ValueError(
            f"critic {name} = {value!r}; must be an integer in [0, {window}] ({what} among "
            f"the last {window} proposals; 0 = {zero})"
        )
    return value


@dataclass(frozen=True)
class PolicyFacts:
    """What the critic must agree with: the policy bundle's (or, for the built-in policies of
    the evaluator, this stack's) action space, cost categories, image spec and safety-spec
    version. ``image`` None: the policy has no image spec (the critic resizes raw frames)."""

    actions: tuple[str, ...]
    categories: tuple[str, ...]
    image: ImageSpec | None
    safety_spec_version: str
    name: str = "policy"

    @classmethod
    def of_bundle(cls, bundle: Bundle) -> PolicyFacts:
        """The facts of a loaded (verified) policy bundle."""
        return cls(
            bundle.action_names,
            bundle.cost_categories,
            bundle.image,
            bundle.safety_spec.version,
            f"policy bundle {bundle.bundle_id}",
        )


def check_critic_matches(m: CriticManifest, where: str, policy: PolicyFacts) -> None:
    """The critic manifest against the policy it guards.

    Raises:
        CriticBundleError: naming the mismatched value and the fix.
    """
    fix = "train the critic for this policy's stack (`safevla train critic`) or pick its bundle"
    if tuple(m.actions) != tuple(policy.actions):
        raise CriticBundleError(
            f"{where}: action space {list(m.actions)[:4]}... ({len(m.actions)} actions) differs "
            f"from {policy.name}'s {list(policy.actions)[:4]}... ({len(policy.actions)}); {fix}"
        )
    if tuple(m.categories) != tuple(policy.categories):
        raise CriticBundleError(
            f"{where}: cost categories {list(m.categories)} differ from {policy.name}'s "
            f"{list(policy.categories)}; {fix}"
        )
    if policy.image is not None and m.image != policy.image:
        raise CriticBundleError(
            f"{where}: image spec {asdict(m.image)} differs from {policy.name}'s "
            f"{asdict(policy.image)} (the critic judges the frames perception prepares for the "
            f"policy); {fix}"
        )
    if m.safety_spec_version != policy.safety_spec_version:
        raise CriticBundleError(
            f"{where}: safety spec version {m.safety_spec_version!r} differs from "
            f"{policy.name}'s {policy.safety_spec_version!r}; {fix}"
        )


def thresholds_for(m: CriticManifest, where: str, alpha: float | None) -> np.ndarray:
    """(C,) veto thresholds at ``alpha`` (None: the bundle's own).

    Raises:
        CriticBundleError: ``alpha`` is not the bundle's (a bundle stores the thresholds of one
            alpha, not the scores a recalibration needs), naming the command that recalibrates.
    """
    if alpha is not None and not (math.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise CriticBundleError(f"critic alpha = {alpha!r}; must lie in (0, 1)")
    if alpha is not None and abs(alpha - m.alpha) > 1e-9:
        raise CriticBundleError(
            f"{where}: critic alpha {alpha:g} differs from the bundle's alpha {m.alpha:g}, and a "
            "critic bundle stores the thresholds of its own alpha only (not the calibration "
            f"scores); recalibrate with `safevla train critic --out RUN --set alpha={alpha:g}` "
            "(reuses the data and weights of RUN) and pass RUN/bundle, or leave alpha unset"
        )
    return np.array([m.thresholds[c] for c in m.categories], np.float32)


@dataclass(frozen=True)
class CriticCall:
    """The critic rule's outcome for one proposal.

    Attributes:
        executed: the action to execute, None for a safe stop.
        vetoed: the action the earlier rules let through is blocked.
        reason: for the verdict.
        category: the category with the highest risk / threshold ratio behind a veto.
    """

    executed: int | None
    vetoed: bool
    reason: str
    category: str = ""


def _guard_raised(v: CriticVerdict) -> np.ndarray:
    """(A, C) where the corner guard raised a base motion's risk above the critic's own (a
    verdict with ``unguarded``)."""
    return _BASE[:, None] & (v.risk > v.unguarded)


def _given_back(v: CriticVerdict, back: np.ndarray) -> CriticVerdict:
    """``v`` with the critic's own risk where ``back`` (A, C), its vetoes recomputed."""
    risk = np.where(back, v.unguarded, v.risk)
    blocked, allowed = allowed_mask(risk, v.thresholds)
    return dataclasses.replace(v, risk=risk, blocked=blocked, allowed=allowed)


class CriticGate:
    """The independent critic as the monitor uses it: frames by stamp, the critic's history
    (one step per judged proposal, with the action executed after the previous one), thresholds
    and the replacement margin.

    Args:
        critic: a loaded :class:`SafetyCritic`.
        alpha: the calibration level asked for (None: the bundle's).
        margin: a replacement needs ``risk < margin * threshold`` in every category, in (0, 1].
        escape_after: after this many proposals in a row without a motion, a veto with no
            clear replacement runs the least risky motion instead of a stop (0 = never; see
            the module docstring).
        escape_below: the escape only takes a motion whose risk is below this multiple of
            the thresholds (inf = any motion; 1 = only motions the thresholds pass).
        recover_after: once this many of the last ``RECOVER_WINDOW`` proposals were vetoed
            base motions, a one-hot proposal's veto of a base motion backs off with a
            translation instead of a stop (0 = never; see the module docstring).
        contact_guard: bar the way a motion touched something (see the module docstring).
        replacement: ``"sample"`` (default): a veto's replacement is drawn from the proposer's
            probabilities over the clear motions (seeded per episode); ``"likeliest"``: the
            most probable of them (see the module docstring).
        detour_after: once this many of the last ``DETOUR_WINDOW`` proposals were vetoed base
            motions, a veto of a base motion starts a detour (0 = never; needs a critic that
            reads the range scan; see the module docstring).
        guard_release: give a corner-guard veto back to the critic's own risk where the base
            motion only slides along or moves away from what the robot touches (see the module
            docstring; a critic with ``corner_guard``).
        arm_guard: veto an arm extension that would strike a return of the arm scan (see the
            module docstring; a critic that reads the range scan).
        stall_stops: once this many of the last ``STALL_WINDOW`` proposals ended in a stop, a
            base motion's veto that would stop the robot again releases a motion below
            ``stall_below`` times the thresholds (0 = never; see the module docstring).
        stall_below: a multiple of the thresholds, > 0 (1 = only motions they pass).
        contact_guard_base: with ``contact_guard``, a base motion blocked by contact bars its
            way too (False: only the arm's motions bar theirs; see the module docstring).
        seed: the seed, an integer >= 0, the replacement draws and the stall release's draws
            restart from at every episode (a shielded run is one draw of them; another seed
            redraws it).
    """

    def __init__(
        self,
        critic: SafetyCritic,
        alpha: float | None = None,
        margin: float = DEFAULT_CRITIC_MARGIN,
        escape_after: int = DEFAULT_CRITIC_ESCAPE_AFTER,
        escape_below: float = DEFAULT_CRITIC_ESCAPE_BELOW,
        recover_after: int = DEFAULT_CRITIC_RECOVER_AFTER,
        contact_guard: bool = True,
        replacement: str = DEFAULT_CRITIC_REPLACEMENT,
        detour_after: int = DEFAULT_CRITIC_DETOUR_AFTER,
        guard_release: bool = True,
        arm_guard: bool = True,
        stall_stops: int = DEFAULT_CRITIC_STALL_STOPS,
        stall_below: float = DEFAULT_CRITIC_STALL_BELOW,
        contact_guard_base: bool = DEFAULT_CRITIC_CONTACT_GUARD_BASE,
        seed: int = REPLACEMENT_SEED,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"critic seed = {seed!r}; must be an integer >= 0 (default 0)")
        self.seed = seed
        if not isinstance(guard_release, bool):
            raise ValueError(f"critic guard_release = {guard_release!r}; must be true or false")
        if not isinstance(arm_guard, bool):
            raise ValueError(f"critic arm_guard = {arm_guard!r}; must be true or false")
        self.guard_release, self.arm_guard = guard_release, arm_guard
        self.stall_stops = _count_of_window(
            "stall_stops", stall_stops, STALL_WINDOW, "stops", "never release"
        )
        if isinstance(stall_below, bool) or not (
            isinstance(stall_below, (int, float))
            and math.isfinite(stall_below)
            and stall_below > 0
        ):
            raise ValueError(
                f"critic stall_below = {stall_below!r}; must be a finite number > 0 (a multiple "
                "of the thresholds: 1.0 releases only motions they pass)"
            )
        self.stall_below = float(stall_below)
        self.stalls: deque[bool] = deque(maxlen=STALL_WINDOW)  # per decision: a stop
        self.releases = 0  # stall releases this episode
        self.frozen_releases = 0  # ... of them past the corner guard (a whole window stopped)
        self.held_stops: deque[bool] = deque(maxlen=HELD_WINDOW)  # per decision: a stop
        self.held_steps = 0  # decisions this episode taken while held
        self.holds = 0  # holds started this episode
        self._held = False
        self.detour_after = _count_of_window(
            "detour_after", detour_after, DETOUR_WINDOW, "vetoed base motions", "never"
        )
        self.detour: deque[int] = deque()  # the rest of the detour under way
        self.detour_category = ""
        self.base_vetoes: deque[bool] = deque(maxlen=DETOUR_WINDOW)
        if replacement not in REPLACEMENTS:
            raise ValueError(
                f"critic replacement = {replacement!r}; must be one of {', '.join(REPLACEMENTS)}"
                " (sample: drawn from the proposer's distribution over the clear motions)"
            )
        self.replacement = replacement
        if not isinstance(contact_guard, bool):
            raise ValueError(f"critic contact_guard = {contact_guard!r}; must be true or false")
        if not isinstance(contact_guard_base, bool):
            raise ValueError(
                f"critic contact_guard_base = {contact_guard_base!r}; must be true or false"
            )
        if not (math.isfinite(margin) and 0.0 < margin <= 1.0):
            raise ValueError(f"critic margin = {margin!r}; must lie in (0, 1] (e.g. 0.5)")
        if isinstance(escape_after, bool) or not isinstance(escape_after, int) or escape_after < 0:
            raise ValueError(
                f"critic escape_after = {escape_after!r}; must be an integer >= 0 (0 = never)"
            )
        if isinstance(escape_below, bool) or not (
            isinstance(escape_below, (int, float)) and escape_below > 0
        ):
            raise ValueError(
                f"critic escape_below = {escape_below!r}; must be a number > 0 (a multiple of "
                "the thresholds, e.g. 1.0; inf = any motion)"
            )
        self.critic, self.margin, self.escape_after = critic, float(margin), escape_after
        self.escape_below = float(escape_below)
        self.recover_after = _count_of_window(
            "recover_after", recover_after, RECOVER_WINDOW, "vetoes", "never back off"
        )
        self.contact_guard, self.contact_guard_base = contact_guard, contact_guard_base
        # per action: it drives a joint the way the last motion was stopped by contact
        self.pressing = np.zeros(len(ACTIONS), bool)
        # motions the feedback reported blocked since a motion last moved the robot: they moved
        # nothing (an arm at its joint's limit), so they are no replacement
        self.idle = np.zeros(len(ACTIONS), bool)
        self.recent: deque[bool] = deque(maxlen=RECOVER_WINDOW)  # per judged proposal: vetoed
        self.still = 0  # proposals in a row after which the robot did not move
        self._rng = np.random.default_rng(self.seed)
        self._stall_rng = np.random.default_rng(self.seed)
        self.thresholds = thresholds_for(critic.manifest, str(critic.path), alpha)
        self.frames: OrderedDict[float, EncodedFrame] = OrderedDict()
        self.prev_action: int | None = None
        self.last: CriticVerdict | None = None
        self.latched = np.zeros(len(ACTIONS), bool)  # vetoed since the robot last moved
        self.latched_category: dict[int, str] = {}
        # the robot's last motion feedback (critics with bump_input); None: none heard yet
        self.bump: np.ndarray | None = None
        # the latest range scan (critics with scan_input); None: none heard yet; its stamp
        self.scan: np.ndarray | None = None
        self.scan_stamp_s: float | None = None
        self.scan_max_age_s = DEFAULT_SCAN_MAX_AGE_S
        # the latest object scan (critics with object_scan_input); None: none heard yet
        self.scan_objects: np.ndarray | None = None
        self.scan_objects_stamp_s: float | None = None
        # the latest arm scan (the arm guard); None: none heard yet
        self.scan_arm: np.ndarray | None = None
        self.scan_arm_stamp_s: float | None = None
        # per action: the arm guard vetoed it at the last judged proposal
        self.striking = np.zeros(len(ACTIONS), bool)
        # the latest arm joint state (critics with proprio_input); None: none heard yet
        self.proprio: np.ndarray | None = None
        self.proprio_stamp_s: float | None = None
        self.wrist_yaw = 0.0  # rad, reported with the joint state (0: the wrist at its zero)
        self.proprio_max_age_s = DEFAULT_PROPRIO_MAX_AGE_S
        # the gripper holds an object (critics with a clear pass); None: nobody said, and the
        # pass stays off (the footprint does not cover a held object). Kept across episodes:
        # it is the robot's state, not the episode's
        self.holding: bool | None = None

    @property
    def takes_holding(self) -> bool:
        """The critic's clear pass needs to know whether the gripper holds an object."""
        return self.critic.has_clear_pass

    def on_holding(self, flag) -> None:
        """Whether the gripper holds an object now (a bool; None = unknown: no clear pass).

        Raises:
            ValueError: not a bool or None (naming the value); the flag becomes unknown.
        """
        if flag is not None and not isinstance(flag, (bool, np.bool_)):
            self.holding = None
            raise ValueError(
                f"holding = {flag!r} must be true, false or unknown (None): the gripper's "
                "holding flag (std_msgs/Bool)"
            )
        self.holding = None if flag is None else bool(flag)

    @property
    def takes_bump(self) -> bool:
        """The critic reads the motion feedback (blocked, collided) of the last action."""
        return self.critic.takes_bump

    def on_bump(self, values) -> None:
        """The motion feedback of the last executed action (0/1: blocked, collided).

        Raises:
            ValueError: not two values in [0, 1] (naming the value).
        """
        self.bump = check_bump(values, self.bundle_id)

    @property
    def takes_scan(self) -> bool:
        """The critic reads the range scan around the base."""
        return self.critic.takes_scan

    def on_scan(self, ranges, stamp_s: float | None = None) -> None:
        """The latest range scan (SCAN_BEAMS ranges in the critic's bearings; +inf = none),
        taken at ``stamp_s`` (the monitor's clock; None = no age check: the simulator's
        lockstep evaluation).

        Raises:
            ValueError: the wrong length, NaN or negative ranges (naming the value); the
                previous scan is dropped too, so the monitor stops until a good one arrives.
        """
        try:
            self.scan, self.scan_stamp_s = check_scan(ranges, self.bundle_id), stamp_s
        except ValueError:
            self.drop_scan()
            raise

    def drop_scan(self) -> None:
        """Forget the scan (a rejected one arrived): the rule stops until a usable one does."""
        self.scan, self.scan_stamp_s = None, None

    @property
    def takes_object_scan(self) -> bool:
        """The critic reads the scan with the static structure removed."""
        return self.critic.takes_object_scan

    def on_scan_objects(self, ranges, stamp_s: float | None = None) -> None:
        """The latest object scan: the range scan with the building's static structure
        (walls, floor) removed, in the scan's bearings (+inf = no return), at ``stamp_s`` (as
        :meth:`on_scan`).

        Raises:
            ValueError: the wrong length, NaN or negative ranges (naming the value); the
                previous object scan is dropped too, so the monitor stops until a good one
                arrives.
        """
        try:
            self.scan_objects = check_scan(
                ranges, self.bundle_id, "object scan (scan_objects)", "scan_objects_topic"
            )
            self.scan_objects_stamp_s = stamp_s
        except ValueError:
            self.drop_scan_objects()
            raise

    def drop_scan_objects(self) -> None:
        """Forget the object scan (a rejected one arrived): the rule stops until a usable one
        does."""
        self.scan_objects, self.scan_objects_stamp_s = None, None

    @property
    def takes_arm_scan(self) -> bool:
        """The arm guard is on and the critic reads the range scan: the monitor needs the arm
        scan (and the arm's joint state)."""
        return self.arm_guard and self.critic.takes_scan

    def on_scan_arm(self, ranges, stamp_s: float | None = None) -> None:
        """The latest arm scan: the range scan over the heights the arm and gripper occupy
        (``safevla_core.footprint.ARM_BAND_M`` about the lift's height), in the scan's bearings
        (+inf = no return), at ``stamp_s`` (as :meth:`on_scan`).

        Raises:
            ValueError: the wrong length, NaN or negative ranges (naming the value); the
                previous arm scan is dropped too, so the monitor stops until a good one
                arrives.
        """
        try:
            self.scan_arm = check_scan(
                ranges, self.bundle_id, "arm scan (scan_arm)", "scan_arm_topic"
            )
            self.scan_arm_stamp_s = stamp_s
        except ValueError:
            self.drop_scan_arm()
            raise

    def drop_scan_arm(self) -> None:
        """Forget the arm scan (a rejected one arrived): the rule stops until a usable one
        does."""
        self.scan_arm, self.scan_arm_stamp_s = None, None

    @property
    def takes_proprio(self) -> bool:
        """The critic reads the arm's joint state (lift height, arm extension), or the arm
        guard needs the arm's extension."""
        return self.critic.takes_proprio or self.takes_arm_scan

    def on_proprio(self, values, stamp_s: float | None = None, wrist_yaw=0.0) -> None:
        """The arm's latest joint state (lift height, arm extension in metres, and the wrist's
        yaw in radians from its zero, counter-clockwise: 0 for a robot without a wrist yaw
        joint), read at ``stamp_s`` (the monitor's clock; None = no age check: lockstep
        evaluation). The clear pass and the detour's planning turn the gripper by the yaw
        (:mod:`safevla_core.footprint`).

        Raises:
            ValueError: not two finite values in range, or a yaw that is not a finite angle
                (naming the value); the previous joint state is dropped too, so the monitor
                stops until a good one arrives.
        """
        try:
            proprio, yaw = check_proprio(values, self.bundle_id), check_wrist_yaw(wrist_yaw)
            self.proprio, self.proprio_stamp_s, self.wrist_yaw = proprio, stamp_s, yaw
        except ValueError:
            self.drop_proprio()
            raise

    def drop_proprio(self) -> None:
        """Forget the joint state (a rejected one arrived): the rule stops until a usable one
        does."""
        self.proprio, self.proprio_stamp_s, self.wrist_yaw = None, None, 0.0

    def missing_input(self, now_s: float | None = None) -> str:
        """Why the critic cannot judge now ("" if it can): a critic that reads the motion
        feedback, the range scan or the arm's joint state before any has arrived, or (given
        the time ``now_s``) whose newest scan or joint state is older than its maximum age:
        a sensor that stopped."""
        if self.takes_bump and self.bump is None:
            return (
                f"safety critic {self.bundle_id} reads the motion feedback of the last action "
                "and none has arrived; publish MotionFeedback on the monitor's bump_topic "
                "(the sim bridge does; on a robot the base driver)"
            )
        if self.takes_scan and self.scan is None:
            return (
                f"safety critic {self.bundle_id} reads the range scan around the base and no "
                "usable one has arrived; publish a 360-degree LaserScan on the monitor's "
                "scan_topic (the sim bridge does; on a robot a lidar or a depth-to-scan node)"
            )
        if self.takes_scan:
            stale = self._stale("range scan", self.scan_stamp_s, self.scan_max_age_s, now_s)
            if stale:
                return stale + "check the scanner on the monitor's scan_topic"
        if self.takes_object_scan and self.scan_objects is None:
            return (
                f"safety critic {self.bundle_id} reads the range scan with the static structure "
                "removed and no usable one has arrived; publish it as a LaserScan on the "
                "monitor's scan_objects_topic (the sim bridge does; on a robot a scan filtered "
                "against the static map)"
            )
        if self.takes_object_scan:
            stale = self._stale(
                "object scan", self.scan_objects_stamp_s, self.scan_max_age_s, now_s
            )
            if stale:
                return stale + "check the map-filtered scan on the monitor's scan_objects_topic"
        if self.takes_arm_scan and self.scan_arm is None:
            return (
                f"safety critic {self.bundle_id}: the arm guard reads the range scan over the "
                "heights the arm and gripper occupy and no usable one has arrived; publish it "
                "as a LaserScan on the monitor's scan_arm_topic (the sim bridge does; on a robot "
                "a depth-to-scan node with a height band that follows the lift), or turn the "
                "guard off (critic_arm_guard false)"
            )
        if self.takes_arm_scan:
            stale = self._stale("arm scan", self.scan_arm_stamp_s, self.scan_max_age_s, now_s)
            if stale:
                return stale + "check the arm-height scan on the monitor's scan_arm_topic"
        if self.takes_proprio and self.proprio is None:
            return (
                f"safety critic {self.bundle_id} reads the arm's joint state and no usable one "
                "has arrived; publish a JointState with the lift and arm joints on the "
                "monitor's joint_states_topic (the sim bridge does; on a robot the arm driver)"
            )
        if self.takes_proprio:
            stale = self._stale(
                "arm joint state", self.proprio_stamp_s, self.proprio_max_age_s, now_s
            )
            if stale:
                return stale + "check the arm driver on the monitor's joint_states_topic"
        return ""

    def _stale(self, what: str, stamp_s, max_age_s: float, now_s) -> str:
        """The start of the reason a sensor reading is too old at ``now_s`` ("" if it is not,
        or if there is no clock: lockstep evaluation)."""
        if now_s is None or stamp_s is None or now_s - stamp_s <= max_age_s:
            return ""
        return (
            f"safety critic {self.bundle_id}: the newest {what} is {now_s - stamp_s:.2f} s old "
            f"(more than {max_age_s:g} s); "
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        policy: PolicyFacts,
        alpha: float | None = None,
        margin: float = DEFAULT_CRITIC_MARGIN,
        providers: tuple[str, ...] = ("cpu",),
        verify_key: str | os.PathLike | None = None,
        escape_after: int = DEFAULT_CRITIC_ESCAPE_AFTER,
        escape_below: float = DEFAULT_CRITIC_ESCAPE_BELOW,
        recover_after: int = DEFAULT_CRITIC_RECOVER_AFTER,
        contact_guard: bool = True,
        replacement: str = DEFAULT_CRITIC_REPLACEMENT,
        detour_after: int = DEFAULT_CRITIC_DETOUR_AFTER,
        guard_release: bool = True,
        arm_guard: bool = True,
        stall_stops: int = DEFAULT_CRITIC_STALL_STOPS,
        stall_below: float = DEFAULT_CRITIC_STALL_BELOW,
        contact_guard_base: bool = DEFAULT_CRITIC_CONTACT_GUARD_BASE,
        seed: int = REPLACEMENT_SEED,
    ) -> CriticGate:
        """Load and verify a critic bundle (sha256, this stack's contract, the policy's; with
        ``verify_key``, its Ed25519 signature: the key that verifies the policy bundle).

        Raises:
            CriticBundleError: a missing, modified, mismatched, or (with ``verify_key``)
                unsigned or wrongly signed bundle, or an unusable alpha.
            ValueError: a margin outside (0, 1], a negative ``escape_after``, an
                ``escape_below`` <= 0, a ``recover_after`` outside [0, RECOVER_WINDOW], an
                unknown ``replacement``, a ``detour_after`` outside [0, DETOUR_WINDOW], a
                ``guard_release``, ``arm_guard`` or ``contact_guard_base`` that is not a bool, a
                ``stall_stops`` outside [0, STALL_WINDOW], a ``stall_below`` that is not a
                finite number > 0 or a ``seed`` that is not an integer >= 0.
        """
        critic = SafetyCritic(path, providers=list(providers), verify_key=verify_key)
        check_critic_matches(critic.manifest, str(critic.path), policy)
        return cls(
            critic,
            alpha,
            margin,
            escape_after,
            escape_below,
            recover_after,
            contact_guard,
            replacement,
            detour_after,
            guard_release,
            arm_guard,
            stall_stops,
            stall_below,
            contact_guard_base,
            seed,
        )

    @property
    def bundle_id(self) -> str:
        return self.critic.bundle_id

    @property
    def camera(self) -> str:
        """The observation key of the critic's camera (``nav_rgb``)."""
        cam = self.critic.manifest.image.camera
        return f"{cam}_rgb" if cam in ("nav", "manip") else cam

    def reset(self) -> None:
        """A new episode (a new instruction): empty history, no previous action."""
        self.critic.reset()
        self.frames.clear()
        self.prev_action, self.last = None, None
        self.still = 0
        self.stalls.clear()
        self.releases = self.frozen_releases = 0
        self.held_stops.clear()
        self.held_steps = 0
        self.holds = 0
        self._held = False
        self._rng = np.random.default_rng(self.seed)
        self._stall_rng = np.random.default_rng(self.seed)
        self.recent.clear()
        self.latched[:] = False
        self.latched_category.clear()
        self.pressing[:] = False
        self.idle[:] = False
        self.detour.clear()
        self.base_vetoes.clear()
        if self.bump is not None:  # nothing executed yet in this episode
            self.bump = np.zeros_like(self.bump)

    def on_frame(self, stamp_s: float, frame: np.ndarray) -> None:
        """A frame the policy will see (the perception output), by its camera stamp. It is
        encoded now (:meth:`SafetyCritic.encode`: preprocessing and a frozen encoder's pass),
        while the policy computes its proposal, so judging that proposal runs only the
        critic's head.

        Raises:
            ValueError: not an (H, W, 3) uint8 RGB frame (nothing is stored: the proposal
                made from it finds no frame and stops).
        """
        self.frames[stamp_s] = self.critic.encode(frame)
        self.frames.move_to_end(stamp_s)
        while len(self.frames) > FRAMES_KEPT:
            self.frames.popitem(last=False)

    @property
    def held(self) -> str:
        """Why the robot is held ("" = it is not): ``HELD_STOPS`` or more of its last
        ``HELD_WINDOW`` proposals ended in a stop, so its proposer keeps asking for what the
        critic refuses and the escape, the release and the detour have not moved it on; held
        until fewer than ``HELD_UNTIL`` of them did. An operator's call: re-plan, take over, or
        clear the way."""
        if not self._held:
            return ""
        stops = sum(self.held_stops)
        return (
            f"held by the safety critic: {stops} of the last {len(self.held_stops)} proposals "
            f"stopped ({self.releases} stall releases this episode); the proposer keeps asking "
            "for motions the critic refuses"
        )

    def frame_for(self, stamp_s: float) -> EncodedFrame | None:
        return self.frames.get(stamp_s)

    def after_decision(self, executed: int | None, critic_stop: bool | None = None) -> None:
        """What the monitor sent on for a proposal (None: a stop, nothing executed); it is the
        previous action of the critic's next step. A motion releases the vetoes latched since
        the robot last moved. ``critic_stop``: the stop was this rule's (None: any stop is),
        which is what the hold counts: a robot stopped by another rule (a stale camera, the
        e-stop) is not held by the critic."""
        self.prev_action = executed
        self.stalls.append(executed is None)
        self.held_stops.append(executed is None if critic_stop is None else critic_stop)
        stops, was = sum(self.held_stops), self._held
        self._held = stops >= HELD_STOPS or (was and stops >= HELD_UNTIL)
        self.held_steps += self._held
        self.holds += self._held and not was
        if executed is not None and _MOVES[executed]:
            self.latched[:] = False
            self.latched_category.clear()
            self.still = 0
        else:
            self.still += 1

    def judge(
        self,
        frame: np.ndarray | EncodedFrame,
        action: int,
        probabilities: np.ndarray,
        allowed_before: np.ndarray | None = None,
    ) -> CriticCall:
        """One critic step on ``frame`` (a camera frame, or the critic's encoding of one that
        :meth:`on_frame` stored), and the call on ``action`` (see the module docstring).

        Raises:
            safevla_core.safety_critic.CriticOutputError: a non-finite or out-of-range risk.
        """
        v = self.critic.step(
            frame,
            self.prev_action,
            self.bump,
            self.scan,
            self.proprio,
            self.scan_objects,
            holding=self.holding,
            wrist_yaw=self.wrist_yaw,
            scan_arm=self.scan_arm,
        )
        v = self.last = self._guard_arm(self._release_guard(v))
        thr = self.thresholds
        blocked = (v.risk >= thr[None, :]) & _MOVES[:, None]
        self._update_pressing()
        self._update_idle()
        if self.detour:
            call = self._detour_step(v, allowed_before, "")
            if call is not None:
                return call
        over = bool(blocked[action].any())
        if not over and not self.latched[action] and not self.pressing[action]:
            self.recent.append(False)
            self.base_vetoes.append(False)
            return CriticCall(action, False, "")
        self.base_vetoes.append(bool(_BASE[action]))
        ratio = v.risk[action] / np.maximum(thr, 1e-12)
        if self._loops(action):
            plan = self._plan_detour()
            if plan:
                self.detour.extend(plan)
                self.detour_category = v.categories[int(np.argmax(ratio))]
                why = (
                    f"safety critic: {ACTION_NAMES[action]} vetoed again "
                    f"({sum(self.base_vetoes)} base motions of the last {len(self.base_vetoes)}"
                    " proposals): detour " + " ".join(ACTION_NAMES[a] for a in plan) + "; "
                )
                call = self._detour_step(v, allowed_before, why)
                if call is not None:
                    return call
        self.recent.append(bool(_BASE[action]))
        if not over and self.latched[action]:
            # latched: vetoed here before and the robot has not moved
            why = f"safety critic: {ACTION_NAMES[action]} was vetoed and the robot has not moved"
            category = self.latched_category[action]
            return self._replace_or_stop(v, action, probabilities, allowed_before, why, category)
        if not over:  # the contact guard
            category = v.categories[int(np.argmax(ratio))]
            self.latched[action], self.latched_category[action] = True, category
            why = (
                f"safety critic: {ACTION_NAMES[action]} drives the way a motion touched "
                "something, and the robot has not moved clear since"
            )
            return self._replace_or_stop(v, action, probabilities, allowed_before, why, category)
        k = int(np.argmax(np.where(blocked[action], ratio, -1.0)))
        category = v.categories[k]
        self.latched[action], self.latched_category[action] = True, category
        if self.striking[action]:
            why = (
                f"safety critic: {ACTION_NAMES[action]} would bring the gripper within "
                f"{ARM_GUARD_STRIKE_M * 1000:g} mm of what the arm scan sees (arm guard)"
            )
            return self._replace_or_stop(v, action, probabilities, allowed_before, why, category)
        cats = ", ".join(
            f"{c} {v.risk[action, j]:.3g} >= {thr[j]:.3g}"
            for j, c in enumerate(v.categories)
            if blocked[action, j]
        )
        why = f"safety critic: {ACTION_NAMES[action]} risk {cats}"
        return self._replace_or_stop(v, action, probabilities, allowed_before, why, category)

    def _loops(self, action: int) -> bool:
        """A base motion's veto in a loop: ``detour_after`` of the last ``DETOUR_WINDOW``
        proposals were vetoed base motions, and the critic reads the range scan."""
        return bool(
            self.detour_after
            and _BASE[action]
            and self.scan is not None
            and sum(self.base_vetoes) >= self.detour_after
        )

    def _plan_detour(self) -> list[int] | None:
        """The first of the detour shapes whose every pose keeps DETOUR_MARGIN_M from every
        return of the range scan (arm-aware footprint), else None."""
        r = np.asarray(self.scan, np.float64).reshape(-1)
        bearing = np.degrees(SCAN_ANGLE_MIN + 2.0 * math.pi / r.size * np.arange(r.size))
        left = r[(bearing >= 60.0) & (bearing <= 120.0)].min()
        right = r[(bearing >= -120.0) & (bearing <= -60.0)].min()
        sides = [(_LEFT, _RIGHT), (_RIGHT, _LEFT)]
        if right > left:
            sides.reverse()
        ext = self._arm_extension()
        plans = [
            [_BACK] * back + [there] * turns + [_AHEAD] * ahead + [again] * turns
            for turns, ahead in DETOUR_SHAPES
            for back in (0, 1)
            for there, again in sides
        ]
        for plan in plans:  # the first that keeps the margin
            c = maneuver_clearances(
                r, ext, [plan], within_m=DETOUR_MARGIN_M, wrist_yaw=self.wrist_yaw
            )
            if c[0] >= DETOUR_MARGIN_M:
                return plan
        return None

    def _detour_step(self, v, allowed_before, why: str) -> CriticCall | None:
        """The detour's next step where the critic passes it now (risk below the thresholds
        in every category, no contact bar, allowed by the earlier rules); else the detour is
        dropped and None."""
        a = self.detour[0]
        if not self._within(v, allowed_before)[a]:
            self.detour.clear()
            return None
        self.detour.popleft()
        self.base_vetoes.clear()
        left = len(self.detour)
        why = why or "safety critic: detour around a loop of vetoes, "
        why += f"{ACTION_NAMES[a]} ({left} step{'s' if left != 1 else ''} left)"
        return CriticCall(a, True, why, self.detour_category)

    def _update_pressing(self) -> None:
        """The contact guard's bars after the motion just executed (``prev_action``) and its
        feedback: a motion that touched something bars its way (see the module docstring), a
        motion that touched nothing lifts every bar."""
        a = self.prev_action
        if not self.contact_guard or self.bump is None or a is None or _WAY[a] < 0:
            return
        blocked, collided = self.bump[0] >= 0.5, self.bump[1] >= 0.5
        if _BASE[a]:
            self.pressing[~_BASE] = False  # the arm's bars: lifted once the base has moved
            if not collided:
                self.pressing[:] = False
        if collided and ((blocked and self.contact_guard_base) or not _BASE[a]):
            self.pressing |= _WAY[a] == _WAY

    def _arm_extension(self) -> float:
        """The arm's extension (m) in the newest joint state; 0 (retracted) without one."""
        return 0.0 if self.proprio is None else float(self.proprio[_ARM_EXTENSION])

    def _release_guard(self, v: CriticVerdict) -> CriticVerdict:
        """The guard release (see the module docstring): where the corner guard raised a base
        motion's corner risk and the motion strikes nothing new on the range scan
        (:func:`safevla_core.footprint.separating_motions`), the critic's own risk again."""
        if not self.guard_release or v.unguarded is None or self.scan is None:
            return v
        raised = _guard_raised(v)
        if not raised.any():
            return v
        ext = self._arm_extension()
        strike = float(self.critic.manifest.corner_guard.get("strike_clearance_m", 0.005))
        back = raised & separating_motions(self.scan, ext, self.wrist_yaw, strike)[:, None]
        return _given_back(v, back) if back.any() else v

    def _guard_arm(self, v: CriticVerdict) -> CriticVerdict:
        """The arm guard (see the module docstring): an arm extension that would strike a
        return of the arm scan gets risk 1 in the category the critic rates likeliest for it
        (relative to the thresholds); the actions it vetoed are kept in ``striking``."""
        self.striking[:] = False
        if not self.takes_arm_scan or self.scan_arm is None:
            return v
        hit = arm_strikes(self.scan_arm, self._arm_extension(), self.wrist_yaw, ARM_GUARD_STRIKE_M)
        if not hit.any():
            return v
        self.striking[:] = hit
        ratio = v.risk / np.maximum(v.thresholds, 1e-12)[None, :]
        likeliest = np.argmax(ratio, axis=1)
        rows = np.flatnonzero(hit)
        risk = v.risk.copy()
        risk[rows, likeliest[rows]] = 1.0
        blocked, allowed = allowed_mask(risk, v.thresholds)
        return dataclasses.replace(v, risk=risk, blocked=blocked, allowed=allowed)

    def _update_idle(self) -> None:
        """A motion the feedback reports blocked moved nothing: no replacement until a motion
        moves the robot (see the module docstring, "A replacement that moved nothing")."""
        a = self.prev_action
        if self.bump is None or a is None or not _MOVES[a]:
            return
        if self.bump[0] >= 0.5:
            self.idle[a] = True
        else:
            self.idle[:] = False

    def _replace_or_stop(self, v, action, probabilities, allowed_before, why, category):
        """The most likely clear motion instead of ``action``, else a back-off after repeated
        vetoes, else a safe stop."""
        clear = (v.risk < self.margin * self.thresholds[None, :]).all(axis=1)
        proposed = np.asarray(probabilities) > 0
        ok = clear & _MOVES & proposed & ~self.latched & ~self.pressing & ~self.idle
        if allowed_before is not None:
            ok &= allowed_before
        if not ok.any():
            why += f"; no motion the policy proposes has risk < {self.margin:g} x threshold"
            one_hot = np.count_nonzero(proposed) <= 1
            repeated = self.recover_after and sum(self.recent) >= self.recover_after
            if one_hot and _BASE[action] and repeated:
                back = self._back_off(v, allowed_before)
                if back is not None:
                    self.recent.clear()
                    why += (
                        f"; {self.recover_after} of the last {RECOVER_WINDOW} proposals vetoed: "
                        f"backing off with {ACTION_NAMES[back]}"
                    )
                    return CriticCall(back, True, why, category)
            if self.escape_after and self.still >= self.escape_after and _BASE[action]:
                # judged afresh: after K stops a motion vetoed here before passes if its risk
                # now does (measured: otherwise a one-hot proposer that had tried every clear
                # motion once stood to the step limit)
                ok, ratio = self._base_motions_below(v, allowed_before, self.escape_below)
                if ok.any():
                    return self._escape(ok, ratio, why, category)
                if math.isfinite(self.escape_below):
                    why += f"; no motion below {self.escape_below:g} x threshold to escape with"
            stops = sum(self.stalls)
            if self.stall_stops and _BASE[action] and stops >= self.stall_stops:
                return self._release(v, action, allowed_before, stops, why, category)
            return CriticCall(None, True, why + ": safe stop", category)
        if self.replacement == "sample":
            w = np.where(ok, np.asarray(probabilities, np.float64), 0.0)
            best = int(self._rng.choice(len(w), p=w / w.sum()))
        else:
            best = int(np.argmax(np.where(ok, probabilities, -1.0)))
        why += f"; executing {ACTION_NAMES[best]} (p={float(probabilities[best]):.3f})"
        return CriticCall(best, True, why, category)

    def _within(self, v, allowed_before) -> np.ndarray:
        """(A,) the actions under the thresholds in every category, not barred by the contact
        guard and allowed by the earlier rules (the calibrated rule, without the margin)."""
        ok = (v.risk < self.thresholds[None, :]).all(axis=1) & ~self.pressing
        return ok if allowed_before is None else ok & allowed_before

    def _back_off(self, v, allowed_before) -> int | None:
        """``move_back``, else ``move_ahead``, whichever passes the thresholds, the earlier
        rules and the latch; None: neither."""
        ok = self._within(v, allowed_before) & ~self.latched & ~self.idle
        return next((a for a in _BACK_OFF if ok[a]), None)

    def _base_motions_below(self, v, allowed_before, below: float):
        """(ok, ratio): per action, its risk relative to each category's threshold (the
        largest), and whether it is a base motion the earlier rules allow, not barred by the
        contact guard or reported idle, with that ratio below ``below`` (inf: any), latched
        or not."""
        ok = _BASE & ~self.pressing & ~self.idle
        if allowed_before is not None:
            ok &= allowed_before
        ratio = (v.risk / np.maximum(self.thresholds, 1e-12)[None, :]).max(axis=1)
        return ok & (ratio < below), ratio

    def _release(self, v, action, allowed_before, stops, why, category):
        """The robot stalled (``stops`` of the last ``STALL_WINDOW`` proposals stopped, at
        least ``stall_stops``): ``action`` if its risk is below ``stall_below`` times the
        thresholds, else a base motion drawn uniformly among those below that, that the
        earlier rules allow (its own seeded stream: the replacement draws stay as they were);
        else a stop."""
        ok, ratio = self._base_motions_below(v, allowed_before, self.stall_below)
        yielded = False
        if not ok.any() and stops >= STALL_WINDOW and v.unguarded is not None:
            # frozen: every base motion refused for a whole window, the corner guard's raise
            # given back (as the guard release does for a separating motion); what runs still
            # passes the calibrated thresholds (measured: every motion guard-refused for 460
            # steps, each with exact one-step cost 0)
            raised = _guard_raised(v)
            if raised.any():
                ok, ratio = self._base_motions_below(
                    _given_back(v, raised), allowed_before, self.stall_below
                )
                yielded = bool(ok.any())
        if not ok.any():
            why += f"; stalled ({stops} stops), no motion below {self.stall_below:g} x threshold"
            return CriticCall(None, True, why + ": safe stop", category)
        # drawn, not the clearest: a one-hot proposer that undoes the clearest motion at once
        # would lock the two into the same cycle to the step limit (measured)
        best = action if ok[action] else int(self._stall_rng.choice(np.flatnonzero(ok)))
        self.stalls.clear()
        self.releases += 1
        self.frozen_releases += yielded
        why += (
            f"; stalled ({stops} of the last {STALL_WINDOW} proposals stopped): releasing "
            f"{ACTION_NAMES[best]} (risk {ratio[best]:.3g} x threshold < {self.stall_below:g}"
            + (", the corner guard's raise given back: frozen)" if yielded else ")")
        )
        return CriticCall(best, True, why, category)

    def _escape(self, ok, ratio, why, category):
        """The robot has stood ``escape_after`` proposals and a base motion was vetoed: the
        least risky of the motions ``ok`` (:meth:`_base_motions_below` at ``escape_below``)."""
        best = int(np.argmin(np.where(ok, ratio, np.inf)))
        why += (
            f"; stood {self.still} proposals: escaping with the least risky motion "
            f"{ACTION_NAMES[best]} (risk {ratio[best]:.3g} x threshold)"
        )
        return CriticCall(best, True, why, category)
