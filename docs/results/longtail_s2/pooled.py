"""(fortieth session) The shipped shield's effect in long-tail scenes on all the long-tail
episodes there are: the reported set (40), the set to tune on (40) and this folder's third set
(80, `longtail_s2.jsonl.gz`), each paired by episode with the same proposer unshielded
(`safevla_eval.shield_effect`, 95% paired bootstrap intervals), per set and pooled (160). Then
every reported row with the long tail pooled: the success change against unshielded and the
shield's own loss (the change with the successes the unshielded run won through a cost left
out).

    python docs/results/longtail_s2/pooled.py > docs/results/longtail_s2/pooled.md

This folder's runs: `eval_lt2_<proposer>_<steps>_{off,on}.json.gz`, each `safevla eval --bundle P
--task objnav --episodes docs/results/longtail_s2/longtail_s2.jsonl.gz --max-steps STEPS
--workers 1 --shield off` (or `--shield on --critic models/safety-critic`); careless expert 300
steps, policies 600.
"""

import functools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "critic_onpolicy"))
sys.path.insert(0, str(HERE.parent / "oracle"))
from compare_rows import result, shipped_file, unshielded_file  # noqa: E402
from table import PROPOSERS  # noqa: E402

from safevla_eval.shield_effect import shield_effect  # noqa: E402

SETS = {"longtail": "reported (40)", "ltval": "to tune on (40)", "lt2": "third (80)"}


@functools.cache  # both tables read each set's runs
def runs(set_: str, proposer: str, steps: int) -> tuple[list, list]:
    """(unshielded, shielded) episode records of one proposer on one set (a reported one, the
    set to tune on, or this folder's); not to be changed."""
    if set_ == "lt2":
        base = HERE / f"eval_lt2_{proposer}_{steps}"
        off, on = Path(f"{base}_off.json.gz"), Path(f"{base}_on.json.gz")
    else:
        off, on = unshielded_file(set_, proposer, steps), shipped_file(set_, proposer, steps)
    return result(off, False)["records"], result(on, True)["records"]


def pooled_runs(proposer: str, steps: int) -> tuple[list, list]:
    """:func:`runs` over every long-tail set, in one list each."""
    off, on = [], []
    for set_ in SETS:
        a, b = runs(set_, proposer, steps)
        off += a
        on += b
    return off, on


def cell(e: dict) -> str:
    lo, hi = e["success_change_ci95"]
    return (
        f"{e['success_unshielded']:.3f} -> {e['success_shielded']:.3f}, "
        f"{e['success_change_pts']:+.1f} [{lo:+.1f}, {hi:+.1f}] "
        f"(own {e['success_change_cost_free_pts']:+.1f}); CC {e['cost_unshielded']:.2f} -> "
        f"{e['cost_shielded']:.2f}, max {e['max_cost_shielded']:.0f}"
    )


def own_losses() -> None:
    """Every reported row with the long tail pooled: success change and own loss."""
    print(
        "\n| proposer | unseen set 1 (100) | unseen set 2 (100) | long tail, pooled (160) ", end=""
    )
    print("| PickUp (100) |")
    print("|---|---|---|---|---|")
    for p in PROPOSERS:
        steps = 300 if p.startswith("expert") else 600
        cells = []
        for set_ in ("unseen", "unseen2", "longtail", "pickup"):
            if set_ == "pickup" and not p.startswith("expert"):
                cells.append("")
                continue
            if set_ == "longtail":
                e = shield_effect(*pooled_runs(p, steps))
            else:
                e = shield_effect(*runs(set_, p, steps))
            cells.append(
                f"{e['success_change_pts']:+.1f} (own {e['success_change_cost_free_pts']:+.1f})"
            )
        print(f"| {p} | " + " | ".join(cells) + " |")


def main() -> None:
    names = [*SETS.values(), "pooled (160)"]
    print("| proposer | " + " | ".join(names) + " | pooled meets the targets |")
    print("|---|" + "---|" * (len(names) + 1))
    for p in PROPOSERS:
        steps = 300 if p.startswith("expert") else 600
        cells = [cell(shield_effect(*runs(set_, p, steps))) for set_ in SETS]
        pooled = shield_effect(*pooled_runs(p, steps))
        cells.append(cell(pooled))
        print(
            f"| {p} | " + " | ".join(cells) + f" | {'yes' if pooled['meets']['all'] else 'no'} |"
        )
    own_losses()


if __name__ == "__main__":
    main()
