"""(forty-first session) Every stall release of the careless expert's runs with the bound at 6
(`--critic-stall-stops 6 --critic-stall-below 6`, the `sr` files): the episodes whose record
counts a release are run again with the monitor's decisions watched; per release, the motion,
whether it was the proposal, its risk as a multiple of the threshold, the category behind it
and the cost of the step it ran in.

    python docs/results/stall_release/releases.py > docs/results/stall_release/releases.txt

Run from the repository root (`MUJOCO_GL=egl OMP_NUM_THREADS=1`); reads
`eval_<set>_expert-careless_600_sr.json.gz` here.
"""

import collections
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "critic_onpolicy"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "loop_guard"))
from compare_rows import result  # noqa: E402
from episodes import run_watched  # noqa: E402
from subset import Shielded  # noqa: E402

from safevla_core.actions import ACTION_NAMES  # noqa: E402

RATIO = re.compile(r"releasing (\w+) \(risk ([0-9.e+-]+) x threshold")
STEPS = 600


def main() -> None:
    sh = Shielded("expert:careless", STEPS)
    tally = collections.Counter()
    ratios = []
    for set_ in ("longtail", "ltval", "lt2", "unseen", "unseen2"):
        recs = result(HERE / f"eval_{set_}_expert-careless_600_sr.json.gz", True)["records"]
        for r in recs:
            if not r["extra"]["critic"]["releases"]:
                continue
            job = sh.job(set_, r["episode_id"], critic_stall_stops=6, critic_stall_below=6.0)
            costs = []

            def watch(a, step, costs=costs):
                out = step(a)
                costs.append(float(out[2]))
                return out

            rec, seen = run_watched(sh.env, sh.agent, job, watch)
            assert (rec.success, rec.length, rec.cost) == (r["success"], r["length"], r["cost"])
            out = []
            for d, c in zip(seen, costs, strict=True):
                m = RATIO.search(d.reason)
                if m is None:
                    continue
                own = d.executed_action == d.proposed_action
                ratios.append(float(m.group(2)))
                tally["own proposal" if own else "least risky other"] += 1
                tally[f"category {d.category}"] += 1
                tally["steps with cost"] += c > 0
                name = ACTION_NAMES[d.executed_action]
                note = ("" if own else " (other)") + (" COST" if c else "")
                out.append(f"{name} {float(m.group(2)):.2f}x{note}")
            print(
                f"{set_} {r['episode_id']} success {rec.success} length {rec.length}: "
                + "; ".join(out)
            )
    print(
        f"\n{len(ratios)} releases; risk / threshold: min {min(ratios):.2f}, median "
        f"{sorted(ratios)[len(ratios) // 2]:.2f}, max {max(ratios):.2f}; under the thresholds "
        f"(< 1): {sum(x < 1 for x in ratios)}"
    )
    for k, v in sorted(tally.items()):
        print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
