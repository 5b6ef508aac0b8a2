"""(forty-fourth session) The careless expert behind the shield, ending where a motion is refused
with the task's success already holding (this folder's runs, commit ed893c2), against its rows
in the standing table (docs/results/stall_draw: the draw rows for ObjectNav, the arm band's
edges for PickUp), episode by episode: success, cost, length, vetoes and stops.

    python docs/results/refused_done/compare.py > docs/results/refused_done/compare.txt
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "stall_draw"))
import standing  # noqa: E402
from compare_rows import result  # noqa: E402

KEYS = ("success", "cost", "length", "vetoes", "stops")


def mean(records: list) -> float:
    """Mean episode length."""
    return sum(r["length"] for r in records) / len(records)


def main() -> None:
    for set_, name in (*standing.SETS.items(), ("pickup", "PickUp (100)")):
        off, before = standing.expert(set_, refused_done=False)
        now = result(HERE / f"eval_{set_}_expert-careless_600_done.json.gz", True)["records"]
        changed = [
            (a["episode_id"], {k: (a[k], b[k]) for k in KEYS if a[k] != b[k]}, u["success"])
            for u, a, b in zip(off, before, now, strict=True)
            if any(a[k] != b[k] for k in KEYS)
        ]
        n = len(now)
        print(
            f"{name}: success unshielded {sum(r['success'] for r in off) / n:.3f}, "
            f"before {sum(r['success'] for r in before) / n:.3f}, "
            f"now {sum(r['success'] for r in now) / n:.3f}; cost now "
            f"{sum(r['cost'] for r in now) / n:.2f}; mean length before {mean(before):.1f}, "
            f"now {mean(now):.1f}; {len(changed)} episodes changed"
        )
        for eid, diff, won_off in changed:
            cells = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in diff.items())
            print(f"  {eid} (unshielded {'won' if won_off else 'lost'}): {cells}")


if __name__ == "__main__":
    main()
