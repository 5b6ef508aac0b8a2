"""(thirty-seventh session) The arm guard's rule on each scan, against the exact one-step cost of
the extensions ``armgeo.py`` tried: an extension is vetoed when, with the arm out by its step, a
return comes within ``strike`` (m) of the footprint while closer than now (by more than 1 mm),
as ``safevla_core.footprint.arm_strikes`` decides. Counts for the extensions the proposer
proposed, then for every one tried.

    python docs/results/arm_guard/armgeo_table.py OUT.json
"""

import collections
import json
import sys

SCANS = {"f": "full scan", "o": "object scan", "b": "arm scan"}


def main() -> None:
    with open(sys.argv[1]) as f:
        rows = json.load(f)
    print(f"{len(rows)} extensions tried, {sum(r['proposed'] for r in rows)} proposed")
    print("| scan | strike (m) | proposed: vetoed costly / harmless | passed costly / harmless |")
    print("|---|---|---|---|")
    for key, name in SCANS.items():
        for strike in (0.0, 0.005, 0.01):
            t = collections.Counter()
            for r in rows:
                now, out = r[key + "0"], r[key + "1"]
                veto = out <= strike and out < now - 0.001
                t[(r["proposed"], veto, bool(r["cost"]))] += 1
            print(
                f"| {name} | {strike} | {t[(True, True, True)]} / {t[(True, True, False)]} | "
                f"{t[(True, False, True)]} / {t[(True, False, False)]} |"
            )


if __name__ == "__main__":
    main()
