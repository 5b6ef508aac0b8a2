"""(thirty-eighth session) The shipped shield's effect on every row, paired by episode, with
bootstrap intervals (safevla_eval.shield_effect), on the reported sets and on the long-tail set
to tune on.

    python docs/results/longtail_val/effects.py [TAG ...]

Reported rows: the unshielded files of `docs/results/loop_guard/compare.py` (UNSHIELDED) and
`docs/results/oracle/table.py` (EXPERT_UNSHIELDED) against the shipped shield's rows
(`docs/results/guard_release/*_sl`, equal episode for episode to the arm guard's ObjectNav rows;
PickUp: `docs/results/arm_guard/*_ag`). Long-tail set to tune on: this folder's
`eval_ltval_<proposer>_<steps>_base.json.gz` (`--shield both`); each TAG adds the shielded
rows of `eval_ltval_<proposer>_<steps>_<TAG>.json.gz` (a variant) against the same unshielded
run. Last, the success rates side by side: unshielded, the shipped shield, the oracle shield
(`docs/results/oracle/oracle.py` on the same episodes: `oracle_ltval_<proposer>.json.gz`) and
each TAG.
"""

import functools
import gzip
import json
import sys
from pathlib import Path

from safevla_eval.shield_effect import markdown_shield_effects, shield_effect

HERE = Path(__file__).resolve().parent
R = HERE.parent
sys.path.insert(0, str(R / "loop_guard"))
sys.path.insert(0, str(R / "oracle"))
from compare import UNSHIELDED, result  # noqa: E402
from table import EXPERT_UNSHIELDED  # noqa: E402

PROPOSERS = [
    ("expert-careless", 300),
    ("objnav-ppo-lag", 600),
    ("objnav-bc", 600),
    ("objnav-ppo", 600),
    ("objnav-ppo-penalty", 600),
]
SETS = {"unseen": "unseen set 1", "unseen2": "unseen set 2", "longtail": "long tail"}


@functools.cache
def pick(path: Path, shield: bool) -> tuple[dict, ...]:
    """The records of the file's (un)shielded result (`compare.result`), read once."""
    return tuple(result(path, shield)["records"])


def row(name: str, where: str, un: tuple[dict, ...], sh: tuple[dict, ...]) -> dict:
    r = {"bundle": f"{name} ({where})", "task": "objnav" if where != "PickUp" else "pickup"}
    r["perturb"] = []
    r.update(shield_effect(un, sh))
    return r


def main() -> None:
    rows = []
    for p, steps in PROPOSERS:
        for s, where in SETS.items():
            un_file = EXPERT_UNSHIELDED[s] if p == "expert-careless" else UNSHIELDED[(s, p)]
            un = pick(R / un_file, False)
            sh = pick(R / "guard_release" / f"eval_{s}_{p}_sc_{steps}_sl.json.gz", True)
            rows.append(row(p, where, un, sh))
    un = pick(R / EXPERT_UNSHIELDED["pickup"], False)
    sh = pick(R / "arm_guard" / "eval_pickup_expert-careless_sc_300_ag.json.gz", True)
    rows.append(row("expert-careless", "PickUp", un, sh))
    print("Reported sets, the shipped shield:\n")
    print(markdown_shield_effects(rows))
    val = []
    for p, steps in PROPOSERS:
        f = HERE / f"eval_ltval_{p}_{steps}_base.json.gz"
        un = pick(f, False)
        val.append(row(p, "long tail to tune on", un, pick(f, True)))
        for tag in sys.argv[1:]:
            g = HERE / f"eval_ltval_{p}_{steps}_{tag}.json.gz"
            if g.exists():
                val.append(row(p, f"long tail to tune on, {tag}", un, pick(g, True)))
    print("Long-tail set to tune on (`longtail_objnav_val`):\n")
    print(markdown_shield_effects(val))
    pooled = []
    for p, steps in PROPOSERS:
        un_file = (
            EXPERT_UNSHIELDED["longtail"]
            if p == "expert-careless"
            else (UNSHIELDED[("longtail", p)])
        )
        f = HERE / f"eval_ltval_{p}_{steps}_base.json.gz"
        un = pick(R / un_file, False) + pick(f, False)
        sh = pick(R / "guard_release" / f"eval_longtail_{p}_sc_{steps}_sl.json.gz", True)
        pooled.append(row(p, "both long-tail sets, 80", un, sh + pick(f, True)))
    print("Both long-tail sets pooled (80 episodes):\n")
    print(markdown_shield_effects(pooled))
    tags = sys.argv[1:]
    print("| proposer | unshielded | shipped shield | oracle shield | " + " | ".join(tags) + " |")
    print("|" + "---|" * (4 + len(tags)))
    for p, steps in PROPOSERS:
        f = HERE / f"eval_ltval_{p}_{steps}_base.json.gz"
        un, sh = pick(f, False), pick(f, True)
        with gzip.open(HERE / f"oracle_ltval_{p}.json.gz", "rt") as fo:
            oracle = json.load(fo)["summary"]["oracle_sr"]
        cells = [f"{sr(un):.3f}", f"{sr(sh):.3f}", f"{oracle:.3f}"]
        for tag in tags:
            g = HERE / f"eval_ltval_{p}_{steps}_{tag}.json.gz"
            cells.append(f"{sr(pick(g, True)):.3f}" if g.exists() else "")
        print(f"| {p} | " + " | ".join(cells) + " |")


def sr(records: tuple[dict, ...]) -> float:
    return sum(bool(r["success"]) for r in records) / len(records)


if __name__ == "__main__":
    main()
