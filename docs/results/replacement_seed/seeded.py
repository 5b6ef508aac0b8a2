"""(forty-fifth session) Shielded episodes with the monitor's replacement draws started from
another seed. The shield draws a veto's replacement from the policy's probabilities over the
clear motions, and the stall release draws among the motions under its bound; both streams
restart from a seed (the monitor's `critic_seed`, 0 by default) at every episode. A shielded
row is one draw of them: this script sets the seed (`Job.critic_seed`, as `safevla eval
--critic-seed` does) and writes one JSON record per line.

    python docs/results/replacement_seed/seeded.py BUNDLE EPISODES CRITIC STEPS I,J,... SEED OUT
"""

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loop_guard"))
from episodes import write_records


def main() -> None:
    out = sys.argv.pop(7)
    seed = int(sys.argv.pop(6))
    write_records(out, lambda job: dataclasses.replace(job, critic_seed=seed))


if __name__ == "__main__":
    main()
