"""(forty-sixth session) The standing table's policy rows with the dither breaker
(`--break-dither 6`, `safevla_core.action_choice.DitherBreaker`): each policy unshielded and
shielded (the shipped monitor and critic, replacement seed 0 and, where run, 1) with the
breaker on, paired by episode (`safevla_eval.shield_effect`), beside the same rows without it
(the standing table's seed-0 draw, `docs/results/replacement_seed/table.md`).

    python docs/results/dither_breaker/table.py > docs/results/dither_breaker/table.md

Reads `dither.json.gz` beside it: `<proposer>/<set>/<shield 0|1>[/seed<k>]` -> the records
(`pack.py`, from `runs.sh`).
"""

import gzip
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS_DIR = HERE.parent / "replacement_seed"
sys.path.insert(0, str(SEEDS_DIR))
_spec = importlib.util.spec_from_file_location("seed_table", SEEDS_DIR / "table.py")
seed_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(seed_table)

from safevla_eval.shield_effect import shield_effect  # noqa: E402

POLICIES = [p for p in seed_table.PROPOSERS if not p.startswith("expert")]
SETS = ["unseen", "unseen2", "pooled"]
LONG_TAIL = ["longtail", "ltval", "lt2"]


def load() -> dict:
    return json.loads(gzip.decompress((HERE / "dither.json.gz").read_bytes()))


def rows(runs: dict) -> dict:
    """{(policy, set): (unshielded, [shielded draws])}, the long tail pooled; sets not run
    whole are left out."""
    out = {}
    for p in POLICIES:
        for s in [*LONG_TAIL, "unseen", "unseen2"]:
            off, on = runs.get(f"{p}/{s}/0"), runs.get(f"{p}/{s}/1")
            if off is None or on is None or len(on) != len(off):
                continue  # not run (whole) yet
            draws = [on] + [runs[k] for k in sorted(runs) if k.startswith(f"{p}/{s}/1/seed")]
            out[p, s] = (off, draws)
        if all((p, s) in out for s in LONG_TAIL):
            parts = [out[p, s] for s in LONG_TAIL]
            n = min(len(d) for _, d in parts)
            out[p, "pooled"] = (
                [r for o, _ in parts for r in o],
                [[r for _, d in parts for r in d[k]] for k in range(n)],
            )
    return out


def main() -> None:
    before = seed_table.rows({})
    print(
        "| policy | set | without the breaker: unshielded SR / CC -> shielded SR / CC "
        "(change) | with the breaker: unshielded SR / CC | shielded SR / CC (change) | "
        "change, each draw -> over the draws [95% CI] (own) | max episode cost | targets "
        "met: without (seed 0), with (over its draws) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    met = {"without": 0, "with": 0}
    counted = 0
    table = rows(load())  # read and paired once, for both tables
    for (p, s), (off, draws) in table.items():
        if s not in SETS:
            continue
        b_off, b_runs = before[p, s]
        b = shield_effect(b_off, b_runs[0])
        e0 = shield_effect(off, draws[0])
        e = shield_effect(off, draws[0], more_draws=draws[1:])
        lo, hi = e["success_change_ci95"]
        counted += 1
        met["without"] += b["meets"]["all"]
        met["with"] += e["meets"]["all"]
        by = " / ".join(f"{x:+.1f}" for x in e["success_change_pts_by_draw"])
        print(
            f"| {p} | {seed_table.NAMES[s]} | {b['success_unshielded']:.3f} / "
            f"{b['cost_unshielded']:.2f} -> {b['success_shielded']:.3f} / "
            f"{b['cost_shielded']:.2f} ({b['success_change_pts']:+.1f}) | "
            f"{e['success_unshielded']:.3f} / {e['cost_unshielded']:.2f} | "
            f"{e0['success_shielded']:.3f} / {e0['cost_shielded']:.2f} "
            f"({e0['success_change_pts']:+.1f}) | {by} -> {e['success_change_pts']:+.1f} "
            f"[{lo:+.1f}, {hi:+.1f}] ({e['success_change_cost_free_pts']:+.1f}) | "
            f"{e['max_cost_shielded']:.0f} | {'yes' if b['meets']['all'] else 'no'}, "
            f"{'yes' if e['meets']['all'] else 'no'} |"
        )
    print(
        f"\nPolicy rows meeting every target: without the breaker {met['without']} of "
        f"{counted}, with it {met['with']} of {counted}."
    )
    unseen_pooled(table)


def _pool(parts: list) -> tuple[list, list]:
    """(unshielded, shielded draws) of several sets as one: the draws every set has."""
    n = min(len(d) for _, d in parts)
    return [r for o, _ in parts for r in o], [
        [r for _, d in parts for r in d[k]] for k in range(n)
    ]


def unseen_pooled(runs: dict) -> None:
    """(forty-seventh session) The two unseen-seed sets pooled into one 200-episode row, as
    the three long-tail sets are pooled into one of 160: the policies with the breaker over
    their draws, the careless expert (whom the breaker does not touch) over the replacement
    seeds 0-2 of the standing table."""
    expert = "expert-careless"
    seeds = [1, 2]
    files = {
        k: json.loads(gzip.decompress((SEEDS_DIR / f"seed{k}.json.gz").read_bytes()))
        for k in seeds
    }
    standing = seed_table.rows(files)
    print(
        "\nThe unseen-seed sets pooled (200 episodes; the issue's rows are sets of >= 100, "
        "the long tail is pooled the same way): change over the draws [95% CI] (own), max "
        "episode cost, targets met\n\n| proposer | draws | unseen pooled (200) | long tail, "
        "pooled (160) |\n|---|---|---|---|"
    )
    met = counted = 0
    for p in [*POLICIES, expert]:
        if p == expert:
            pooled = _pool(
                [(o, list(d.values())) for o, d in (standing[p, "unseen"], standing[p, "unseen2"])]
            )
            lt = standing[p, "pooled"][0], list(standing[p, "pooled"][1].values())
        else:
            if not all((p, s) in runs for s in ("unseen", "unseen2", "pooled")):
                continue
            pooled, lt = _pool([runs[p, "unseen"], runs[p, "unseen2"]]), runs[p, "pooled"]
        cells = []
        for off, draws in (pooled, lt):
            e = shield_effect(off, draws[0], more_draws=draws[1:])
            lo, hi = e["success_change_ci95"]
            counted += 1
            met += e["meets"]["all"]
            mark = "" if e["meets"]["all"] else "**"
            cells.append(
                f"{mark}{e['success_change_pts']:+.1f}{mark} [{lo:+.1f}, {hi:+.1f}] "
                f"({e['success_change_cost_free_pts']:+.1f}), cost {e['cost_unshielded']:.2f} -> "
                f"{e['cost_shielded']:.3f}, max {e['max_cost_shielded']:.0f}, "
                f"{'yes' if e['meets']['all'] else 'no'}"
            )
        n = min(len(pooled[1]), len(lt[1]))
        print(f"| {p} | {n} | " + " | ".join(cells) + " |")
    print(f"\nPooled rows meeting every target: {met} of {counted}.")


if __name__ == "__main__":
    main()
