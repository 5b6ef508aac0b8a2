"""(forty-fourth session) Shielded episodes with the contact guard's base part off: a base
motion blocked by contact bars nothing, the arm's bars stay (the monitor's `_update_pressing`
patched; equal to `critic_contact_guard_base false`). One JSON record per line.

    python docs/results/contact_base/nobase.py BUNDLE EPISODES CRITIC STEPS I,J,... OUT.jsonl
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loop_guard"))
from episodes import shielded_jobs

import safevla_core.critic_gate as cg
from safevla_eval.runner import run_episode

_update = cg.CriticGate._update_pressing


def without_base_bars(self) -> None:
    """A base motion lifts every bar and sets none; an arm motion as shipped."""
    a = self.prev_action
    if a is not None and cg._BASE[a] and self.contact_guard and self.bump is not None:
        self.pressing[:] = False
        return
    _update(self)


def main() -> None:
    out = sys.argv.pop(6)
    cg.CriticGate._update_pressing = without_base_bars
    env, agent, jobs = shielded_jobs()
    with open(out, "w") as f:
        for job in jobs:
            f.write(json.dumps(run_episode(env, agent, job).to_dict()) + "\n")
            f.flush()


if __name__ == "__main__":
    main()
