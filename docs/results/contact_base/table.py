"""(forty-fourth session) The contact guard without its base part, every proposer on every
set: the standing table's shielded rows (`docs/results/stall_draw/standing.py`) with the
episodes the base part can change replaced by their reruns with it off.

    python docs/results/contact_base/table.py > docs/results/contact_base/table.md

Only an episode whose shielded run had a base motion blocked by contact can change (the base
part bars nothing otherwise); taken as every episode with a blocked action and a collision in
its shielded record (a superset): 522 episodes. `reruns.json.gz` holds their success, cost,
length, vetoes and stops by `<proposer>/<set>/<episode id>`, run with `nobase.py`
(`critic_contact_guard_base` false) from `jobs.txt` (`jobs.py`).
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "stall_draw"))
import standing  # noqa: E402

PROPOSERS = ["expert-careless", "objnav-ppo-lag", "objnav-bc", "objnav-ppo", "objnav-ppo-penalty"]
SETS = ["unseen", "unseen2", "longtail", "ltval", "lt2", "pickup"]
NAMES = {**standing.SETS, "pickup": "PickUp (100)"}


def main() -> None:
    reruns = json.loads(gzip.decompress((HERE / "reruns.json.gz").read_bytes()))
    shipped = json.loads(gzip.decompress((standing.HERE / "policies.json.gz").read_bytes()))
    print(
        "| proposer | set | unshielded SR | shielded SR, base part on (shipped) | base part off "
        "| episodes rerun | shielded cost on -> off (max) |"
    )
    print("|---|---|---|---|---|---|---|")
    for p in PROPOSERS:
        pooled = [0, 0, 0, 0]
        for s in SETS:
            if s == "pickup" and not p.startswith("expert"):
                continue
            off, on = (
                standing.expert(s) if p.startswith("expert") else standing.policy(s, p, shipped)
            )
            cand = [r["blocked"] > 0 and r["collisions"] > 0 for r in on]
            nb = [
                reruns[f"{p}/{s}/{r['episode_id']}"] if c else r
                for r, c in zip(on, cand, strict=True)
            ]
            n = len(on)
            u, a, b = (sum(bool(r["success"]) for r in x) for x in (off, on, nb))
            print(
                f"| {p} | {NAMES[s]} | {u / n:.3f} | {a / n:.3f} ({100 * (a - u) / n:+.1f}) | "
                f"{b / n:.3f} ({100 * (b - u) / n:+.1f}) | {sum(cand)} | "
                f"{sum(r['cost'] for r in on) / n:.2f} -> {sum(r['cost'] for r in nb) / n:.2f} "
                f"({max(r['cost'] for r in nb):g}) |"
            )
            if s in standing.LONG_TAIL:
                for k, v in enumerate((n, u, a, b)):
                    pooled[k] += v
        n, u, a, b = pooled
        print(
            f"| {p} | long tail, pooled ({n}) | {u / n:.3f} | {a / n:.3f} "
            f"({100 * (a - u) / n:+.1f}) | {b / n:.3f} ({100 * (b - u) / n:+.1f}) | | |"
        )


if __name__ == "__main__":
    main()
