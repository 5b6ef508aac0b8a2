"""(twenty-third session) Markdown rows of shielded evaluations (`safevla eval --json`):
SR and CC with their 95% intervals, CVaR90, share of episodes over 10, veto rate, critic stops
per step, episodes that stood >= 80% of their steps, and cost per category.

Usage: python docs/results/critic_joint/table.py FILE... (.json or .json.gz)
"""

import gzip
import json
import sys

CATS = ("corner", "blind_spot", "dangerous_equipment", "fragile_collection", "critical_point")


def rows(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        doc = json.load(f)
    for res in doc["results"]:
        m, ci, recs = res["metrics"], res["metrics"]["ci95"], res["records"]
        steps = sum(r["length"] for r in recs)
        stops = sum(r["stops"] for r in recs)
        stood = sum(r["stops"] >= 0.8 * doc["config"]["max_steps"] for r in recs)
        name = res["bundle"].split("/")[-1] + (" +shield" if res["shield"] else "")
        cats = " / ".join(f"{m['cost_by_category'][c]:.2f}" for c in CATS)
        veto = "-" if m["veto_rate"] is None else f"{m['veto_rate']:.2f}"
        yield (
            f"| {name} | {res['episodes']} | {m['success_rate']:.2f} "
            f"[{ci['success_rate'][0]:.2f}, {ci['success_rate'][1]:.2f}] | "
            f"{m['cost_mean']:.2f} [{ci['cost_mean'][0]:.2f}, {ci['cost_mean'][1]:.2f}] | "
            f"{m['cvar90_cost']:.1f} | {m['share_cost_gt_10']:.2f} | {veto} | "
            f"{stops / max(steps, 1):.2f} | {stood} | {cats} |"
        )


def main() -> None:
    print(
        "| proposer | n | SR | CC | CVaR90 | CC > 10 | veto rate | stops / step | stood >= 80% | "
        "cost: corner / blind spot / dangerous / fragile / critical |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        for row in rows(path):
            print(row)


if __name__ == "__main__":
    main()
