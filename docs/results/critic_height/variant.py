"""(twenty-eighth session) `safevla eval` with one of two shield variants patched in, to
measure them before building either; neither is part of the stack.

    VARIANT=ceiling CEIL=0.15 python docs/results/critic_height/variant.py eval ...
    VARIANT=nearest python docs/results/critic_height/variant.py eval ...
    VARIANT=wedge WEDGE=0.03 python docs/results/critic_height/variant.py eval ...

* ``ceiling``: an upper bound on what a clearance ceiling could give. Every base motion's
  risk is set to 0 where its swept clearance in the whole-band scan (the retracted-arm
  footprint of safevla_train.critic_footprint) exceeds CEIL m, so only the geometry can veto
  such a motion.
* ``nearest``: minimal intervention. A vetoed base motion is replaced first by the small
  turn (6 degrees) either way that is clear (risk < margin x threshold) with the lower risk,
  before the proposer's most likely clear motion (the back-off keeps its precedence).
* ``wedge``: do not enter a tight spot. A base motion whose swept clearance in the
  whole-band scan is under WEDGE m and under the robot's clearance where it stands (the
  footprint of a motion that does not move the base) gets risk 1: the robot may move out of
  a tight spot but not further into one.

Episodes run in this process (``--workers 1``), so the patch is what they run.
"""

import os
import sys

import numpy as np
import torch

import safevla_core.critic_gate as G
from safevla_core.actions import ACTION_NAMES
from safevla_ros.cli.main import main
from safevla_train.critic_footprint import SweptClearance

VARIANT = os.environ["VARIANT"]


def edit_risk(edit) -> None:
    """Patch the critic's step: ``edit(risk, clearance)`` changes the (A, C) risks in place,
    given each action's swept clearance in the whole-band scan."""
    step, sweep = G.SafetyCritic.step, SweptClearance()

    def patched(self, frame, prev, bump=None, scan=None, proprio=None, objects=None):
        v = step(self, frame, prev, bump, scan, proprio, objects)
        if scan is not None:
            with torch.no_grad():
                c = sweep(torch.tensor(np.asarray(scan, np.float32))[None])[0].numpy()
            edit(v.risk, c)
        return v

    G.SafetyCritic.step = patched


if VARIANT == "ceiling":
    ceil = float(os.environ["CEIL"])

    def capped(risk, c):
        risk[G._BASE & (c > ceil)] = 0.0

    edit_risk(capped)
elif VARIANT == "nearest":
    small = (ACTION_NAMES.index("rotate_left_small"), ACTION_NAMES.index("rotate_right_small"))
    replace = G.CriticGate._replace_or_stop

    def nearest(self, v, action, probabilities, allowed_before, why, category):
        backing = self.recover_after and sum(self.recent) >= self.recover_after
        if G._BASE[action] and not backing:
            ok = (v.risk < self.margin * self.thresholds[None, :]).all(axis=1) & ~self.latched
            if allowed_before is not None:
                ok &= allowed_before
            turns = [a for a in small if ok[a] and a != action]
            if turns:
                best = min(turns, key=lambda a: float((v.risk[a] / self.thresholds).max()))
                why += f"; nearest: {ACTION_NAMES[best]}"
                return G.CriticCall(best, True, why, category)
        return replace(self, v, action, probabilities, allowed_before, why, category)

    G.CriticGate._replace_or_stop = nearest
elif VARIANT == "wedge":
    wedge = float(os.environ["WEDGE"])
    here = ACTION_NAMES.index("arm_up")  # the base does not move: the current clearance

    def guarded(risk, c):
        risk[G._BASE & (c < wedge) & (c < c[here])] = 1.0

    edit_risk(guarded)
else:
    raise SystemExit(f"VARIANT={VARIANT!r}: use ceiling, nearest or wedge")
sys.exit(main(sys.argv[1:]))
