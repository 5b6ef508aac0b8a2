"""(thirty-first session) A shielded run against the thirty-first session's shield, row by row.

For each proposer and set: the unshielded SR / CC (from the earlier sessions' files on the
same episodes), the thirty-first session's shielded row (`docs/results/contact_guard/f10/`,
with the critic `models/safety-critic` ships) and the run's (by default the loop guard's,
`docs/results/loop_guard/eval_<set>_<proposer>_sc_<steps>_s31.json.gz`; DIR and TAG name
another run's files, e.g. `escape_sample _f5`), and the episodes whose success changed.

    python docs/results/loop_guard/compare.py [DIR TAG [BEFORE_DIR BEFORE_TAG]]

(BEFORE_DIR BEFORE_TAG: the "before" rows from another run's files instead, e.g.
``escape_sample _f5``, the thirty-second session's shipped rows.)
"""

import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
R = ROOT / "docs" / "results"
UNSHIELDED = {  # (set, proposer) -> a file holding the unshielded run on the same episodes
    ("unseen", "objnav-ppo-lag"): "critic_objscan/eval_unseen_objnav-ppo-lag_o1_600.json.gz",
    ("unseen2", "objnav-ppo-lag"): "critic_objscan/eval_unseen2_objnav-ppo-lag_o1_600.json.gz",
    ("longtail", "objnav-ppo-lag"): "critic_struck/eval_longtail_objnav-ppo-lag_s1h_600.json.gz",
    ("unseen", "objnav-bc"): "critic_dense/eval_unseen_objnav-bc_d1a05_600.json.gz",
    ("unseen2", "objnav-bc"): "critic_height/eval_unseen2_objnav-bc_d1a05_600_s28.json.gz",
    ("longtail", "objnav-bc"): "critic_dense/eval_longtail_objnav-bc_d1a05_600.json.gz",
    ("unseen", "objnav-ppo"): "critic_dense/eval_unseen_objnav-ppo_d1a05_600.json.gz",
    ("unseen2", "objnav-ppo"): "critic_height/eval_unseen2_objnav-ppo_d1a05_600_s28.json.gz",
    ("longtail", "objnav-ppo"): "critic_dense/eval_longtail_objnav-ppo_d1a05_600.json.gz",
    (
        "unseen",
        "objnav-ppo-penalty",
    ): "critic_dense/eval_unseen_objnav-ppo-penalty_d1a05_600.json.gz",
    ("unseen2", "objnav-ppo-penalty"): (
        "critic_height/eval_unseen2_objnav-ppo-penalty_d1a05_600_s28b.json.gz"
    ),
    ("longtail", "objnav-ppo-penalty"): (
        "critic_dense/eval_longtail_objnav-ppo-penalty_d1a05_600.json.gz"
    ),
}
EXPERT = {  # the careless expert's unshielded SR / CC on the same episodes (docs/results.md)
    "unseen": (0.99, 2.43),
    "unseen2": (1.00, 1.59),
    "longtail": (0.97, 2.33),
    "pickup": (0.61, 14.47),
}
SETS = {"unseen": "unseen set 1", "unseen2": "unseen set 2", "longtail": "long tail (40)"}
SETS["pickup"] = "PickUp"


def result(path: Path, shield: bool) -> dict | None:
    if not path.exists():
        return None
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        doc = json.load(f)
    return next((r for r in doc["results"] if r["shield"] == shield), None)


def main() -> None:
    run_dir, tag = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else ("loop_guard", "_s31")
    before = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None
    print(
        "| proposer | set | unshielded SR / CC | before: SR / CC | this run: SR "
        "[95% CI] / CC [95% CI] | SR change vs unshielded | cost change | CC > 10 | veto rate | "
        "stops / step | episodes lost / gained against before |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    proposers = ["expert-careless", "objnav-ppo-lag", "objnav-bc", "objnav-ppo"]
    for p in [*proposers, "objnav-ppo-penalty"]:
        for s in SETS:
            steps = 300 if p == "expert-careless" else 600
            new = result(R / run_dir / f"eval_{s}_{p}_sc_{steps}{tag}.json.gz", True)
            if before is None:
                old_file = R / "contact_guard" / "f10" / f"eval_{s}_{p}_f10_{steps}_s30.json.gz"
            else:
                old_file = R / before[0] / f"eval_{s}_{p}_sc_{steps}{before[1]}.json.gz"
            old = result(old_file, True)
            if new is None or old is None:
                continue
            if p == "expert-careless":
                us, uc = EXPERT[s]
            else:
                un = result(R / UNSHIELDED[(s, p)], False)
                us, uc = un["metrics"]["success_rate"], un["metrics"]["cost_mean"]
            m, ci = new["metrics"], new["metrics"]["ci95"]
            recs = new["records"]
            steps_all = sum(r["length"] for r in recs)
            stops = sum(r["stops"] for r in recs)
            lost = gained = 0
            for a, b in zip(old["records"], recs, strict=True):
                assert a["episode_id"] == b["episode_id"]
                lost += a["success"] and not b["success"]
                gained += b["success"] and not a["success"]
            om = old["metrics"]
            name = "careless expert" if p == "expert-careless" else f"`{p}`"
            change = 100 * (m["cost_mean"] - uc) / uc
            print(
                f"| {name} | {SETS[s]} | {us:.2f} / {uc:.2f} | {om['success_rate']:.2f} / "
                f"{om['cost_mean']:.2f} | {m['success_rate']:.2f} [{ci['success_rate'][0]:.2f}, "
                f"{ci['success_rate'][1]:.2f}] / {m['cost_mean']:.2f} [{ci['cost_mean'][0]:.2f}, "
                f"{ci['cost_mean'][1]:.2f}] | {round(100 * (m['success_rate'] - us)):+d} | "
                f"{change:+.1f}% | {m['share_cost_gt_10']:.2f} | {m['veto_rate']:.2f} | "
                f"{stops / max(steps_all, 1):.2f} | {lost} / {gained} |"
            )


if __name__ == "__main__":
    main()
