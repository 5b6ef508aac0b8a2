"""(thirty-sixth session) The shipped shield against a perfect one-step critic (`oracle.py`),
row by row: unshielded, shielded (the thirty-fifth session's shipped rows,
`docs/results/guard_release/*_sl`) and oracle-shielded success and cost on the same episodes,
the episodes the oracle vetoed in, and the unshielded successes the oracle lost: those whose
success was bought with cost, which no shield that vetoes every costly action keeps.

    python docs/results/oracle/table.py

Reads `docs/results/oracle/oracle_<set>_<proposer>.json.gz`; where a file holds the plain
(unshielded) runs too, checks them against the stored unshielded records episode by episode.
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
R = HERE.parent
sys.path.insert(0, str(R / "loop_guard"))
from compare import SETS, UNSHIELDED, result  # noqa: E402


def sr(recs) -> float:
    return sum(bool(r["success"]) for r in recs) / len(recs)


def cc(recs) -> float:
    return sum(r["cost"] for r in recs) / len(recs)


EXPERT_UNSHIELDED = {
    "unseen": "critic_struck/eval_unseen_expert-careless_s1h_300.json.gz",
    "unseen2": "critic_struck/eval_unseen2_expert-careless_f1_300.json.gz",
    "longtail": "critic_struck/eval_longtail_expert-careless_s1h_300.json.gz",
    "pickup": "critic_struck/eval_pickup_expert-careless_s1h_300.json.gz",
}
PROPOSERS = ["expert-careless", "objnav-ppo-lag", "objnav-bc", "objnav-ppo", "objnav-ppo-penalty"]


def main() -> None:
    print(
        "| proposer | set | unshielded SR / CC | shipped shield SR / CC | oracle shield SR / CC "
        "| shield gap | oracle gap | episodes the oracle vetoed in | unshielded successes "
        "the oracle lost (their unshielded cost) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    checked = []
    for p in PROPOSERS:
        for s in SETS:
            f = HERE / f"oracle_{s}_{p}.json.gz"
            if not f.exists():
                continue
            with gzip.open(f, "rt") as fh:
                rows = json.load(fh)["rows"]
            steps = 300 if p == "expert-careless" else 600
            un_file = EXPERT_UNSHIELDED[s] if p == "expert-careless" else UNSHIELDED[(s, p)]
            un = result(R / un_file, False)["records"]
            sh = result(R / "guard_release" / f"eval_{s}_{p}_sc_{steps}_sl.json.gz", True)
            sh = sh["records"]
            assert [r["episode_id"] for r in rows] == [r["episode_id"] for r in un]
            if rows[0]["plain_success"] is not None:
                same = all(
                    r["plain_success"] == u["success"] and r["plain_cost"] == u["cost"]
                    for r, u in zip(rows, un, strict=True)
                )
                checked.append(f"{p} {s}: {'identical' if same else 'DIFFERENT'}")

            lost = [
                f"{u['episode_id'][-4:]} ({u['cost']:g})"
                for r, u in zip(rows, un, strict=True)
                if u["success"] and not r["success"]
            ]
            name = "careless expert" if p == "expert-careless" else f"`{p}`"
            print(
                f"| {name} | {SETS[s]} | {sr(un):.3f} / {cc(un):.2f} | {sr(sh):.3f} / "
                f"{cc(sh):.2f} | {sr(rows):.3f} / {cc(rows):.2f} | "
                f"{100 * (sr(sh) - sr(un)):+.1f} | {100 * (sr(rows) - sr(un)):+.1f} | "
                f"{sum(r['vetoes'] > 0 for r in rows)} | {', '.join(lost) or '-'} |"
            )
    if checked:
        print("\nplain runs against the stored unshielded records: " + "; ".join(checked))


if __name__ == "__main__":
    main()
