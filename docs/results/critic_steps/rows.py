"""(fortieth session) The set to tune on (`--episodes longtail-val`, 40 episodes; careless expert
300 steps, policies 600) shielded by each critic variant, paired by episode with the same
proposer unshielded (`safevla_eval.shield_effect`): success (change in points, own loss), and
cost (CC), veto rate, and how many episodes end otherwise than under the shipped critic
(lost / gained).

    python docs/results/critic_steps/rows.py > docs/results/critic_steps/rows.md

Variants: the shipped critic and the thirty-ninth session's on-policy one (their files live in
longtail_val/ and critic_onpolicy/), and this folder's runs of train.sh
(`eval_ltval_<proposer>_<steps>_<run>.json.gz`).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "critic_onpolicy"))
sys.path.insert(0, str(HERE.parent / "oracle"))
from compare_rows import result, shipped_file, unshielded_file  # noqa: E402
from table import PROPOSERS, sr  # noqa: E402

from safevla_eval.shield_effect import shield_effect  # noqa: E402

VARIANTS = {
    "shipped": None,
    "on-policy (800 steps)": HERE.parent / "critic_onpolicy" / "eval_ltval_{p}_{s}_onpol.json.gz",
    "1,600 steps": HERE / "eval_ltval_{p}_{s}_st1600.json.gz",
    "on-policy, 1,600 steps": HERE / "eval_ltval_{p}_{s}_op1600.json.gz",
    "alpha 0.1": HERE / "eval_ltval_{p}_{s}_a10.json.gz",
}


def main() -> None:
    names = list(VARIANTS)
    print("| proposer | unshielded SR | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    totals = dict.fromkeys(names, 0)
    for p in PROPOSERS:
        s = 300 if p.startswith("expert") else 600
        unshielded = result(unshielded_file("ltval", p, s), False)["records"]
        runs = {}
        for name, pattern in VARIANTS.items():
            path = (
                shipped_file("ltval", p, s)
                if pattern is None
                else Path(str(pattern).format(p=p, s=s))
            )
            runs[name] = result(path, True)
        ship = [r["success"] for r in runs["shipped"]["records"]]
        cells = []
        for name in names:
            run = runs[name]
            e = shield_effect(unshielded, run["records"])
            totals[name] += sum(r["success"] for r in run["records"])
            cell = (
                f"{e['success_shielded']:.3f} ({e['success_change_pts']:+.1f}, own "
                f"{e['success_change_cost_free_pts']:+.1f}), CC {e['cost_shielded']:.2f}, "
                f"vetoes {run['metrics']['veto_rate']:.3f}"
            )
            if name != "shipped":
                got = [r["success"] for r in run["records"]]
                lost = sum(a and not b for a, b in zip(ship, got))
                gained = sum(b and not a for a, b in zip(ship, got))
                cell += f" -{lost}/+{gained}"
            cells.append(cell)
        print(f"| {p} | {sr(unshielded):.3f} | " + " | ".join(cells) + " |")
    print("| successes, all five | | " + " | ".join(str(totals[n]) for n in names) + " |")


if __name__ == "__main__":
    main()
