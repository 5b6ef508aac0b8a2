"""(thirty-eighth session) Event rates of the grazing base motions `grazes.py` recorded, per
motion and by what the monitor could know: all of them, the proposer's own choices, a repeat of
a motion that was just blocked by contact (pressing), and by the bearing of the object-scan
return nearest the footprint. Against the floor the shipped critic gives every such motion
(`models/safety-critic`, the training split's event rates).

    python docs/results/longtail_val/grazes_table.py GRAZES.jsonl[.gz] [...]
"""

import gzip
import json
import sys
from collections import defaultdict

CATS = ["corner", "blind_spot", "dangerous_equipment", "fragile_collection", "critical_point"]
SHORT = {
    "corner": "corner",
    "blind_spot": "blind",
    "dangerous_equipment": "danger",
    "fragile_collection": "fragile",
    "critical_point": "critical",
}


def bins(r: dict) -> list[str]:
    out = ["all"]
    if r["proposed"]:
        out.append("proposed")
    pressing = r["same_as_last"] and r["bump"][0] >= 0.5 and r["bump"][1] >= 0.5
    out.append("repeat, blocked by contact" if pressing else "not a blocked repeat")
    b = r["bearing_deg"]
    if b is not None:
        a = abs(b)
        out.append(
            "nearest return ahead (|b| < 30)"
            if a < 30
            else (
                "nearest return ahead-side (30-90)" if a < 90 else "nearest return behind (>= 90)"
            )
        )
    return out


def load(paths: list[str]) -> list[dict]:
    """The rows of the JSON-lines files ``paths`` (.jsonl or .jsonl.gz), in order."""
    rows = []
    for path in paths:
        with (gzip.open if path.endswith(".gz") else open)(path, "rt") as f:
            rows += [json.loads(line) for line in f]
    return rows


def main() -> None:
    rows = load(sys.argv[1:])
    table = defaultdict(list)
    for r in rows:
        for b in bins(r):
            table[(r["motion"], b)].append(r)
    print("| motion | states | n | any cost | " + " | ".join(SHORT[c] for c in CATS) + " |")
    print("|" + "---|" * (4 + len(CATS)))
    for (motion, b), rs in sorted(table.items()):
        n = len(rs)
        rate = {c: sum(x["cost"][c] > 0 for x in rs) / n for c in CATS}
        anyc = sum(any(x["cost"][c] > 0 for c in CATS) for x in rs) / n
        print(
            f"| {motion} | {b} | {n} | {anyc:.3f} | "
            + " | ".join(f"{rate[c]:.3f}" for c in CATS)
            + " |"
        )


if __name__ == "__main__":
    main()
