"""(forty-fourth session) The standing table's policy rows (the shipped shield with today's
defaults, `docs/results/stall_draw/standing.py`) beside the oracle shield (`oracle.py`: a
perfect one-step critic, the shipped replacement rule, no other rule) on the same episodes, the
long tail pooled over its three sets: how far each row is from the 3-point success target, and
how far any shield that vetoes exactly the costly actions would be.

    python docs/results/oracle/standing_oracle.py > docs/results/oracle/standing_oracle.md

Reads this folder's `oracle_<set>_<policy>.json.gz` (unseen sets 1 and 2 and the reported long
tail from the thirty-sixth session; the long tail to tune on and the third long-tail set from
the forty-fourth, `python docs/results/oracle/oracle.py models/<policy> E 600 OUT --no-plain`).
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "stall_draw"))
import standing  # noqa: E402

POLICIES = ["objnav-ppo-lag", "objnav-bc", "objnav-ppo", "objnav-ppo-penalty"]
SETS = {"unseen": "unseen set 1 (100)", "unseen2": "unseen set 2 (100)"}
LONG_TAIL = ("longtail", "ltval", "lt2")


def oracle_rows(set_: str, policy: str) -> list[dict] | None:
    f = HERE / f"oracle_{set_}_{policy}.json.gz"
    if not f.exists():
        return None
    with gzip.open(f, "rt") as fh:
        return json.load(fh)["rows"]


def pct(recs: list[dict]) -> float:
    return 100.0 * sum(bool(r["success"]) for r in recs) / len(recs)


def line(policy: str, name: str, off: list, on: list, orc: list) -> str:
    assert [r["episode_id"] for r in off] == [r["episode_id"] for r in orc], (policy, name)
    u, s, o = pct(off), pct(on), pct(orc)
    cost = sum(r["cost"] for r in orc) / len(orc)
    short = "" if s - u >= -3.0 else " **short**"
    reach = "yes" if o - u >= -3.0 else "no"
    return (
        f"| `{policy}` | {name} | {u / 100:.3f} | {s / 100:.3f} ({s - u:+.1f}){short} | "
        f"{o / 100:.3f} ({o - u:+.1f}), cost {cost:.2f} | {s - o:+.1f} | {reach} |"
    )


def main() -> None:
    reruns = json.loads(gzip.decompress((standing.HERE / "policies.json.gz").read_bytes()))
    print(
        "| policy | set | unshielded SR | shipped shield SR (change, points) | oracle shield SR "
        "(change), cost | shipped - oracle, points | target within the oracle's reach |"
    )
    print("|---|---|---|---|---|---|---|")
    for p in POLICIES:
        for s, name in SETS.items():
            orc = oracle_rows(s, p)
            if orc is not None:
                print(line(p, name, *standing.policy(s, p, reruns), orc))
        parts = [(standing.policy(s, p, reruns), oracle_rows(s, p)) for s in LONG_TAIL]
        if all(o is not None for _, o in parts):
            off = [r for (a, _), _ in parts for r in a]
            on = [r for (_, b), _ in parts for r in b]
            orc = [r for _, o in parts for r in o]
            print(line(p, "long tail, pooled (160)", off, on, orc))


if __name__ == "__main__":
    main()
