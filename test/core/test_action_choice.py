"""Greedy and sampled action choice: one function for the runtime, evaluator and trainer."""

from __future__ import annotations

import numpy as np
import pytest

from safevla_core.action_choice import SAMPLING_MODES, choose_action


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
