"""The contact breakdown of benchmarks/critic_contact.py on hand-made vetoes: each figure is the
share it names, counted over the right states and pairs."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import critic_contact as ccon


def test_by_contact_counts_vetoes_misses_and_frozen_states_per_group():
    # 4 states x 3 moving actions; states 0-1 free, 2-3 in contact
    veto = np.array([[1, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, 1]], bool)
    costly = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0]], bool)
    contact = np.array([False, False, True, True])
    out = ccon.by_contact(veto, costly, contact)
    free, touch = out["free"], out["contact"]
    assert free["states"] == 2 and touch["states"] == 2
    assert free["with_costly"] == 0.5 and touch["with_costly"] == 0.5
    assert free["costly_passed"] == 0.0  # its one costly pair is vetoed
    assert touch["costly_passed"] == 1.0  # both costly pairs pass
    assert math.isclose(free["harmless_vetoed"], 3 / 5)  # 5 harmless pairs, 3 vetoed
    assert math.isclose(touch["harmless_vetoed"], 4 / 4)
    assert free["all_vetoed"] == 0.5 and touch["all_vetoed"] == 0.5
    none = ccon.by_contact(veto[:2], np.zeros((2, 3), bool), np.zeros(2, bool))
    assert math.isnan(none["free"]["costly_passed"])  # no costly pair: not a 0% miss
