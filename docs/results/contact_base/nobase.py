"""(forty-fourth session) Shielded episodes with the contact guard's base part off
(`critic_contact_guard_base` false: a base motion blocked by contact bars nothing, the arm's
bars stay). One JSON record per line. `reruns.json.gz` was made by this script's first form,
which patched the monitor's `_update_pressing` the same way before the switch existed; the
switch gives the same records (checked: `eval_longtail_objnav-ppo-lag_600_base-off.json.gz`,
40 episodes, and this form on the first job of `jobs.txt`).

    python docs/results/contact_base/nobase.py BUNDLE EPISODES CRITIC STEPS I,J,... OUT.jsonl
"""

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loop_guard"))
from episodes import write_records


def main() -> None:
    out = sys.argv.pop(6)
    write_records(out, lambda job: dataclasses.replace(job, critic_contact_guard_base=False))


if __name__ == "__main__":
    main()
