"""(thirty-ninth session) The on-policy critic (`train.sh onpol`) beside the shipped one, row by
row, each shielded run paired with the same proposer unshielded on the same episodes
(`safevla_eval.shield_effect`): the reported rows (unseen sets 1 and 2, the long tail, PickUp;
careless expert 300 steps, policies 600) and the set to tune on (`--episodes longtail-val`).

    python docs/results/critic_onpolicy/compare_rows.py > docs/results/critic_onpolicy/rows.md

Reads `eval_<set>_<proposer>_<steps>_onpol.json.gz` here; a row whose file is missing is shown
as not run.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
R = HERE.parent
sys.path.insert(0, str(R / "loop_guard"))
sys.path.insert(0, str(R / "oracle"))
from compare import SETS, UNSHIELDED, result  # noqa: E402
from table import EXPERT_UNSHIELDED, PROPOSERS, sr  # noqa: E402

from safevla_eval.shield_effect import shield_effect  # noqa: E402

SETS = {**SETS, "ltval": "long tail to tune on (40)"}


def unshielded_file(set_: str, proposer: str, steps: int) -> Path:
    if set_ == "ltval":  # the thirty-eighth session's --shield both rows hold both runs
        return R / f"longtail_val/eval_ltval_{proposer}_{steps}_base.json.gz"
    if proposer.startswith("expert"):
        return R / EXPERT_UNSHIELDED[set_]
    return R / UNSHIELDED[(set_, proposer)]


def shipped_file(set_: str, proposer: str, steps: int) -> Path:
    if set_ == "ltval":
        return R / f"longtail_val/eval_ltval_{proposer}_{steps}_base.json.gz"
    if set_ == "pickup":
        return R / "arm_guard/eval_pickup_expert-careless_sc_300_ag.json.gz"
    return R / f"guard_release/eval_{set_}_{proposer}_sc_{steps}_sl.json.gz"


def cell(unshielded: list[dict], path: Path) -> str:
    run = result(path, True)
    if run is None:
        return "not run | | | |"
    e = shield_effect(unshielded, run["records"])
    lo, hi = e["success_change_ci95"]
    return (
        f"{e['success_shielded']:.3f} | {e['success_change_pts']:+.1f} [{lo:+.1f}, {hi:+.1f}] "
        f"| {e['success_change_cost_free_pts']:+.1f} | {e['cost_shielded']:.2f} "
        f"({e['cost_change_pct']:+.1f}%) | {'yes' if e['meets']['all'] else 'no'}"
    )


def main() -> None:
    head = "SR | change, points [95% CI] | own loss | CC (change) | meets"
    print(f"| set | proposer | unshielded SR | shipped: {head} | on-policy: {head} |")
    print("|---|---|---|" + "---|" * 10)
    for set_ in ("unseen", "unseen2", "longtail", "pickup", "ltval"):
        for p in PROPOSERS:
            if set_ == "pickup" and not p.startswith("expert"):
                continue
            steps = 300 if p.startswith("expert") else 600
            u = result(unshielded_file(set_, p, steps), False)["records"]
            ship = cell(u, shipped_file(set_, p, steps))
            cand = cell(u, HERE / f"eval_{set_}_{p}_{steps}_onpol.json.gz")
            print(f"| {SETS[set_]} | {p} | {sr(u):.3f} | {ship} | {cand} |")


if __name__ == "__main__":
    main()
