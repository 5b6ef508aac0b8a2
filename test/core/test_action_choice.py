"""Greedy and sampled action choice: one function for the runtime, evaluator and trainer."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_core.action_choice import (
    DITHER_HOLD,
    SAMPLING_MODES,
    BlockedMoves,
    DitherBreaker,
    choose_action,
    inverse_motion,
)
from safevla_core.actions import ACTION_INDEX, NUM_ACTIONS


def test_greedy_takes_the_most_probable_action_first_on_ties():
    assert choose_action(np.array([0.1, 0.6, 0.3], np.float32), "greedy") == 1
    assert choose_action([0.4, 0.1, 0.4, 0.1]) == 0  # greedy is the default


def test_sampling_follows_the_distribution_and_the_seed():
    probs = np.array([0.2, 0.0, 0.8], np.float32)
    draws = [choose_action(probs, "sample", np.random.default_rng(i)) for i in range(400)]
    assert 1 not in draws  # a zero-probability action is never drawn
    assert 0.7 < draws.count(2) / len(draws) < 0.9
    again = [choose_action(probs, "sample", np.random.default_rng(i)) for i in range(400)]
    assert draws == again
    # probabilities that do not quite sum to 1 (float32 softmax) are renormalised
    assert choose_action([0.0, 0.5000001, 0.0], "sample", np.random.default_rng(0)) == 1


def test_bad_mode_or_missing_generator_is_named():
    assert set(SAMPLING_MODES) == {"sample", "greedy"}
    with pytest.raises(ValueError, match="'best'"):
        choose_action([0.5, 0.5], "best")
    with pytest.raises(ValueError, match="Generator"):
        choose_action([0.5, 0.5], "sample")


def _probs(**named: float) -> np.ndarray:
    p = np.full(NUM_ACTIONS, 1e-3, np.float32)
    for name, v in named.items():
        p[ACTION_INDEX[name]] = v
    return p


BLOCKED, FREE = (1.0, 1.0), (0.0, 0.0)


def test_a_blocked_motion_is_not_repeated_until_the_robot_has_moved():
    """The policy keeps proposing move_ahead into a wall; the guard takes the next choice
    while that motion stays blocked: backing off along the same heading does not clear it, a
    turn does."""
    ahead, left, back = (ACTION_INDEX[n] for n in ("move_ahead", "rotate_left", "move_back"))
    probs = _probs(move_ahead=0.6, rotate_left=0.3, move_back=0.05)
    guard = BlockedMoves()
    assert guard.choose(probs, FREE) == ahead  # nothing executed yet
    guard.executed(ahead)
    assert guard.choose(probs, BLOCKED) == left  # move_ahead bumped: not again here
    guard.executed(left)  # ... and the turn was blocked too (the base against the wall)
    assert guard.choose(probs, BLOCKED) == back
    guard.executed(back)
    assert guard.choose(probs, FREE) == left  # backed off: the turn may work, ahead is the wall
    assert guard.here == {ahead}
    guard.executed(left)
    assert guard.choose(probs, FREE) == ahead  # turned: a new heading, nothing blocked
    assert guard.here == set()


def test_a_motion_that_collided_is_masked_like_a_blocked_one():
    """The base slid along a wall (it moved, and touched): not again until a clean turn."""
    ahead, left = ACTION_INDEX["move_ahead"], ACTION_INDEX["rotate_left"]
    probs = _probs(move_ahead=0.6, rotate_left=0.3)
    guard = BlockedMoves()
    guard.executed(ahead)
    assert guard.choose(probs, (0.0, 1.0)) == left
    guard.executed(left)
    assert guard.choose(probs, (0.0, 1.0)) not in (ahead, left)  # the turn touched too
    assert guard.here == {ahead, left}
    guard.executed(left)
    guard.feedback(FREE)
    assert guard.here == set()


def test_an_arm_motion_clears_only_the_arm():
    ahead, arm_out, arm_up = (ACTION_INDEX[n] for n in ("move_ahead", "arm_out", "arm_up"))
    guard = BlockedMoves()
    for a in (ahead, arm_out):
        guard.executed(a)
        guard.feedback(BLOCKED)
    guard.executed(arm_up)
    guard.feedback(FREE)  # the arm moved, the base did not
    assert guard.here == {ahead}


def test_without_feedback_or_for_non_motions_nothing_is_masked():
    ahead, end = ACTION_INDEX["move_ahead"], ACTION_INDEX["end"]
    probs = _probs(move_ahead=0.6, end=0.3)
    guard = BlockedMoves()
    guard.executed(ahead)
    assert guard.choose(probs, None) == ahead  # no feedback arrived: no evidence, no mask
    guard.executed(end)
    assert guard.choose(probs, BLOCKED) == ahead  # `end` cannot be blocked; nothing learnt
    guard.executed(ahead)
    assert guard.choose(probs, BLOCKED) == end
    # all the probability on a blocked motion: nothing else to choose, the mask stands down
    only = np.zeros(NUM_ACTIONS, np.float32)
    only[ahead] = 1.0
    assert guard.here == {ahead}
    assert guard.choose(only, None) == ahead
    assert guard.masked(only)[ahead] == 1.0
    guard.reset()
    assert guard.here == set()  # a new episode forgets the old wall


def test_sampling_never_draws_a_blocked_motion():
    ahead = ACTION_INDEX["move_ahead"]
    probs = _probs(move_ahead=0.9, rotate_right=0.05, rotate_left=0.05)
    draws = []
    for seed in range(200):
        guard = BlockedMoves()
        guard.executed(ahead)
        draws.append(guard.choose(probs, BLOCKED, "sample", np.random.default_rng(seed)))
    assert ahead not in draws
    assert {ACTION_INDEX["rotate_right"], ACTION_INDEX["rotate_left"]} <= set(draws)


def test_every_motion_has_its_inverse_and_the_rest_none():
    for a in range(NUM_ACTIONS):
        inv = inverse_motion(a)
        if inv is None:
            assert a in [ACTION_INDEX[n] for n in ("end", "sub_done", "pickup", "dropoff")]
        else:
            assert inverse_motion(inv) == a and inv != a
    assert inverse_motion(ACTION_INDEX["rotate_left"]) == ACTION_INDEX["rotate_right"]
    assert inverse_motion(ACTION_INDEX["move_ahead"]) == ACTION_INDEX["move_back"]


class _Dithering:
    """A greedy policy whose two headings each prefer turning back to the other: rotate_left
    at heading 0 (rotate_right next), rotate_right at heading 1; any other heading prefers
    move_ahead."""

    def __init__(self) -> None:
        self.heading = 0

    def probs(self) -> np.ndarray:
        if self.heading == 0:
            return _probs(rotate_left=0.6, rotate_right=0.35, move_ahead=0.3)
        if self.heading == 1:
            return _probs(rotate_right=0.6, move_ahead=0.3)
        return _probs(move_ahead=0.9)

    def execute(self, action: int) -> None:
        name = next(k for k, v in ACTION_INDEX.items() if v == action)
        self.heading += {"rotate_left": 1, "rotate_right": -1}.get(name, 0)


def _run(breaker, steps: int) -> list[str]:
    world, names = _Dithering(), {v: k for k, v in ACTION_INDEX.items()}
    out = []
    for _ in range(steps):
        p = world.probs()
        a = choose_action(p) if breaker is None else breaker.choose(p)
        world.execute(a)
        if breaker is not None:
            breaker.executed(a)
        out.append(names[a])
    return out


def test_the_dither_breaker_stops_a_greedy_policy_undoing_its_own_turns():
    alone = _run(None, 30)  # greedy alone: left, right, left, right, ... to the end
    assert alone == ["rotate_left", "rotate_right"] * 15
    breaker = DitherBreaker(6)
    out = _run(breaker, 12)
    # six alternating turns, then rotate_left (the undo of the last right turn) is masked:
    # the policy's next choice at heading 0 is another right turn, to a heading it prefers
    # to leave by driving ahead; the break ends there
    assert out[:6] == ["rotate_left", "rotate_right"] * 3
    assert out[6:9] == ["rotate_right", "move_ahead", "move_ahead"]
    assert not breaker.breaking
    # a new episode forgets the history
    breaker.reset()
    assert _run(breaker, 6) == ["rotate_left", "rotate_right"] * 3 and not breaker.breaking


def test_the_dither_breaker_waits_for_a_full_cycle_and_ends_after_its_hold():
    breaker = DitherBreaker(4)
    left, right = ACTION_INDEX["rotate_left"], ACTION_INDEX["rotate_right"]
    p = _probs(rotate_right=0.6, move_ahead=0.3)
    for a in (left, right, left):  # three alternations: not yet
        breaker.executed(a)
    assert breaker.choose(p) == right and not breaker.breaking
    breaker.executed(right)
    breaker.executed(left)  # four: the undo of this left turn is masked
    assert breaker.choose(p) == ACTION_INDEX["move_ahead"] and breaker.breaking
    # a policy that keeps turning left stays within the pair: the break lasts DITHER_HOLD
    # steps at most, then the count starts afresh
    for _ in range(DITHER_HOLD - 1):
        breaker.executed(left)
        assert breaker.breaking
    breaker.executed(left)
    assert not breaker.breaking and breaker.choose(p) == right
    # the same motion twice is no dither; the mask never leaves nothing to choose
    b2 = DitherBreaker(2)
    b2.executed(left)
    b2.executed(left)
    assert b2.choose(p) == right and not b2.breaking
    b3 = DitherBreaker(2)
    b3.executed(right)
    b3.executed(left)
    only_right = np.zeros(NUM_ACTIONS)
    only_right[right] = 1.0
    assert b3.choose(only_right) == right  # all the mass on the undo: left unchanged


@pytest.mark.parametrize("bad", [1, -3, 2.5, True, "6"])
def test_a_bad_dither_count_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="break_dither"):
        DitherBreaker(bad)
