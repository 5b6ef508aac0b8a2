"""Greedy and sampled action choice: one function for the runtime, evaluator and trainer."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_core.action_choice import SAMPLING_MODES, BlockedMoves, choose_action
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
