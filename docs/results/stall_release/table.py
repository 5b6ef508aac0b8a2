"""(forty-first session) The careless expert at the benchmark's 600-step evaluation limit, every
set, unshielded / behind the shipped shield / with the stall release
(`--critic-stall-stops 6`), each shielded run paired by episode with the unshielded one
(`safevla_eval.shield_effect`, 95% paired bootstrap), beside the reported 300-step rows; then the
policies' episodes the release could change, and their rows with the release.

    python docs/results/stall_release/table.py > docs/results/stall_release/table.md

Reads, here: `eval_<set>_expert-careless_600_{off,on,sr1,sr}.json.gz` (`safevla eval --bundle
expert:careless ... --max-steps 600 --workers 1 --shield off`; `--shield on --critic
models/safety-critic` at commit 7fe8847, before the release; at commit 570a713 with
`--critic-stall-stops 6 --critic-stall-below 1`, the defaults since b4d78ec, and with
`--critic-stall-stops 6`, then b = 6); `eval_<set>_expert-careless_300_d300.json.gz` (`--shield
on` at 300 steps, commit b4d78ec); `sub_<set>_<policy>.json.gz` (`subset.py`). The 300-step
unshielded runs and those of the shield before this session are the reported ones
(`docs/results/longtail_s2/pooled.py`).
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "longtail_s2"))
sys.path.insert(0, str(HERE.parent / "critic_onpolicy"))
sys.path.insert(0, str(HERE.parent / "oracle"))
from compare_rows import result  # noqa: E402
from pooled import runs  # noqa: E402
from table import PROPOSERS  # noqa: E402

from safevla_eval.shield_effect import shield_effect  # noqa: E402

SETS = {
    "unseen": "unseen set 1 (100)",
    "unseen2": "unseen set 2 (100)",
    "longtail": "long tail, reported (40)",
    "ltval": "long tail to tune on (40)",
    "lt2": "long tail, third (80)",
    "pickup": "PickUp (100)",
}
LONG_TAIL = ("longtail", "ltval", "lt2")


def records(set_: str, kind: str) -> list[dict]:
    """The 600-step run of this folder: ``off`` unshielded, else a shielded one of ``KINDS``."""
    return result(HERE / f"eval_{set_}_expert-careless_600_{kind}.json.gz", kind != "off")[
        "records"
    ]


def cell(off: list[dict], on: list[dict]) -> str:
    e = shield_effect(off, on)
    lo, hi = e["success_change_ci95"]
    steps = sum(r["length"] for r in on)
    stops = sum(r["stops"] for r in on) / steps
    releases = sum(r["extra"]["critic"].get("releases", 0) for r in on)
    return (
        f"{e['success_shielded']:.3f}, {e['success_change_pts']:+.1f} [{lo:+.1f}, {hi:+.1f}] "
        f"(own {e['success_change_cost_free_pts']:+.1f}); CC {e['cost_shielded']:.2f}, max "
        f"{e['max_cost_shielded']:.0f}; stops/step {stops:.3f}; releases {releases}"
    )


def change300(off: list[dict], on: list[dict]) -> str:
    e = shield_effect(off, on)
    return (
        f"{e['success_unshielded']:.3f} -> {e['success_shielded']:.3f}, "
        f"{e['success_change_pts']:+.1f} (own {e['success_change_cost_free_pts']:+.1f})"
    )


KINDS = {
    "on": "600: the shield before this session",
    "sr1": "600: with the stall release (the default now, b = 1)",
    "sr": "600: the release at b = 6",
}


def expert_rows() -> None:
    print(
        "| set | 300 steps: unshielded -> shield before this session | 300: with the stall "
        "release (the default now) | 600: unshielded SR / CC | "
        + " | ".join(KINDS.values())
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(KINDS))
    pooled = {k: [] for k in ("off", *KINDS, "off300", "on300", "d300")}
    for set_, name in SETS.items():
        o3, s3 = runs(set_, "expert-careless", 300)
        d3 = result(HERE / f"eval_{set_}_expert-careless_300_d300.json.gz", True)["records"]
        got = {k: records(set_, k) for k in ("off", *KINDS)}
        if set_ in LONG_TAIL:
            for k, v in (*got.items(), ("off300", o3), ("on300", s3), ("d300", d3)):
                pooled[k] += v
        show(name, change300(o3, s3), cell(o3, d3), got)
    off3 = pooled["off300"]
    c300 = change300(off3, pooled["on300"])
    show("long tail, pooled (160)", c300, cell(off3, pooled["d300"]), pooled)


def show(name: str, c300: str, d300: str, got: dict) -> None:
    u = shield_effect(got["off"], got["on"])
    cells = [cell(got["off"], got[k]) for k in KINDS]
    print(
        f"| {name} | {c300} | {d300} | {u['success_unshielded']:.3f} / "
        f"{u['cost_unshielded']:.2f} | " + " | ".join(cells) + " |"
    )


def policy_rows() -> None:
    """The policies' stalled episodes (`sub_*`: shipped, rerun without the release, with it at
    b = 6 for every proposer; `b1_policies.json.gz`: with it at b = 1, the default), and each
    row with those episodes replaced by their b = 1 runs (the rest cannot change)."""
    with gzip.open(HERE / "b1_policies.json.gz", "rt") as fh:
        b1 = json.load(fh)
    print(
        "\n| policy | set | shielded episodes with >= 6 stops | rerun without the release: "
        "equal to the shipped record | successes: shipped -> b = 6 -> b = 1 | releases b = 6 / "
        "b = 1 | cost with the release | row with the release (b = 1) against unshielded |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for p in PROPOSERS:
        if p.startswith("expert"):
            continue
        for set_ in ("unseen", "unseen2", *LONG_TAIL):
            off, shipped = runs(set_, p, 600)
            f = HERE / f"sub_{set_}_{p}.json.gz"
            rows = []
            if f.exists():
                with gzip.open(f, "rt") as fh:
                    rows = json.load(fh)
            new = {r["episode_id"]: b1[f"{p}/{r['episode_id']}"] for r in rows}
            spliced = [new.get(r["episode_id"], r) for r in shipped]
            e = shield_effect(off, spliced)
            change = (
                f"{e['success_shielded']:.3f}, {e['success_change_pts']:+.1f} "
                f"(own {e['success_change_cost_free_pts']:+.1f})"
            )
            if not rows:
                print(f"| {p} | {SETS[set_]} | 0 | | | | | {change} |")
                continue
            same = sum(r["off_same"] for r in rows)
            before = sum(r["stored"]["success"] for r in rows)
            at6 = sum(r["on"]["success"] for r in rows)
            at1 = sum(v["success"] for v in new.values())
            rel6 = sum(r["on"]["extra"]["critic"]["releases"] for r in rows)
            rel1 = sum(v["extra"]["critic"]["releases"] for v in new.values())
            cost = sum(r["on"]["cost"] for r in rows) + sum(v["cost"] for v in new.values())
            print(
                f"| {p} | {SETS[set_]} | {len(rows)} | {same} of {len(rows)} | {before} -> {at6} "
                f"-> {at1} | {rel6} / {rel1} | {cost:.0f} | {change} |"
            )


if __name__ == "__main__":
    expert_rows()
    policy_rows()
