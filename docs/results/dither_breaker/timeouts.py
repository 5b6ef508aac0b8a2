"""(forty-sixth session) What a timed-out episode's last 200 executed actions were: the
left-right cycle (at least 80% of successive pairs `rotate_left` / `rotate_right`), pushing
ahead (`move_ahead` only), or anything else.

    python docs/results/dither_breaker/timeouts.py 'runs/s46/acts/*.jsonl'

Each line of those files: a record with `executed` (action indices), from `breaker.py` with
AFTER 0 (no breaker) or the session's `acts.py` (the same fields).
"""

import collections
import glob
import itertools
import json
import sys
from pathlib import Path

from safevla_core.actions import ACTION_NAMES


def kind(executed: list[int]) -> str:
    tail = [ACTION_NAMES[a] for a in executed[-200:]]
    turns = {"rotate_left", "rotate_right"}
    alt = sum({a, b} == turns for a, b in itertools.pairwise(tail))
    if alt >= 0.8 * (len(tail) - 1):
        return "left-right cycle"
    if set(tail) == {"move_ahead"}:
        return "pushing ahead"
    return "other"


def main() -> None:
    counts = collections.Counter()
    for path in sorted(glob.glob(sys.argv[1])):
        shield = path.rsplit("_", 2)[-2]
        for line in Path(path).read_text().splitlines():
            r = json.loads(line)
            if not r["success"] and r["length"] >= 600:
                counts["shielded" if shield == "1" else "unshielded", kind(r["executed"])] += 1
    for (run, k), n in sorted(counts.items()):
        print(f"{run}: {k}: {n}")


if __name__ == "__main__":
    main()
