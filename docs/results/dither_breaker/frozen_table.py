"""(forty-seventh session) The frozen release (safevla_core.critic_gate, "Frozen") on the
shielded rows: the episodes that stopped at least STALL_WINDOW times in a draw (the only ones
it can change; `frozen_jobs.py`) rerun with it, spliced into that draw's row, and each row
paired with the same proposer unshielded before and after. Policies: the dither breaker's
three draws (`dither.json.gz`); the careless expert: the standing table's three draws
(`docs/results/replacement_seed/`), PickUp included.

    python docs/results/dither_breaker/frozen_table.py > docs/results/dither_breaker/frozen.md

Reads `frozen.json.gz` beside it (the reruns by `<proposer>/<set>/seed<k>` -> records); with
`runs/s47/frozen_seed<k>/` and `runs/s47/frozen_expert_seed<k>/` present it packs them first.
Also checks that every rerun without a frozen release equals its record before, field for
field (the rule cannot have touched it).
"""

import gzip
import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("dither_table", HERE / "table.py")
dt = importlib.util.module_from_spec(_spec)  # not `table`: other results folders have one
_spec.loader.exec_module(dt)

from safevla_core.safety_spec import SAFETY_SPEC  # noqa: E402
from safevla_eval.shield_effect import shield_effect  # noqa: E402

RUNS = Path("runs/s47")
PACKED = HERE / "frozen.json.gz"
SEEDS = (0, 1, 2)
EXPERT = "expert-careless"
NAMES = {
    "unseen": "unseen set 1 (100)",
    "unseen2": "unseen set 2 (100)",
    "unseen_pooled": "unseen pooled (200)",
    "pooled": "long tail, pooled (160)",
    "pickup": "PickUp (100)",
}
SAME = ("success", "cost", "length", "vetoes", "stops", "cost_by_category")


def pack() -> dict:
    out = {}
    for k in SEEDS:
        for f in sorted((RUNS / f"frozen_seed{k}").glob("*.jsonl")):
            p, s, _ = f.stem.rsplit("_", 2)
            out.setdefault(f"{p}/{s}/seed{k}", []).extend(
                json.loads(x) for x in f.read_text().splitlines()
            )
        for f in sorted((RUNS / f"frozen_expert_seed{k}").glob("*.jsonl")):
            s, _ = f.stem.rsplit("_", 1)
            out.setdefault(f"{EXPERT}/{s}/seed{k}", []).extend(
                json.loads(x) for x in f.read_text().splitlines()
            )
    PACKED.write_bytes(gzip.compress(json.dumps(out, sort_keys=True).encode(), mtime=0))
    return out


def splice(recs: list, new: list, checked: list) -> list:
    by = {r["episode_id"]: r for r in new}
    out = []
    for r in recs:
        n = by.get(r["episode_id"])
        if n is not None and not n["extra"].get("critic", {}).get("frozen_releases"):
            checked.append(all(n[f] == r[f] for f in SAME))
        out.append(r if n is None else n)
    return out


def expert_rows(reruns: dict, checked: list) -> dict:
    files = {
        k: json.loads(gzip.decompress((dt.SEEDS_DIR / f"seed{k}.json.gz").read_bytes()))
        for k in (1, 2)
    }
    before, after = {}, {}
    for (p, s), (off, draws) in dt.seed_table.rows(files).items():
        if p != EXPERT or s == "pooled":
            continue
        d = [draws[k] for k in SEEDS]
        before[s] = (off, d)
        after[s] = (
            off,
            [splice(d[k], reruns.get(f"{p}/{s}/seed{k}", []), checked) for k in SEEDS],
        )
    for rows in (before, after):
        for name, parts in (("pooled", dt.LONG_TAIL), ("unseen_pooled", ["unseen", "unseen2"])):
            rows[name] = dt._pool([rows[s] for s in parts])
    return before, after


def policy_rows(reruns: dict, checked: list):
    runs = dt.load()
    new = dict(runs)
    for key in runs:
        parts = key.split("/")
        if parts[2] != "1":
            continue
        k = int(parts[3].removeprefix("seed")) if len(parts) > 3 else 0
        new[key] = splice(runs[key], reruns.get(f"{parts[0]}/{parts[1]}/seed{k}", []), checked)
    out = []
    for runs_ in (runs, new):
        rows = dt.rows(runs_)
        for p in dt.POLICIES:
            rows[p, "unseen_pooled"] = dt._pool([rows[p, "unseen"], rows[p, "unseen2"]])
        out.append(rows)
    return out


def cell(off, draws) -> tuple[str, bool, int]:
    e = shield_effect(off, draws[0], more_draws=draws[1:])
    lo, hi = e["success_change_ci95"]
    mark = "" if e["meets"]["all"] else "**"
    wins = sum(sum(r["success"] for r in d) for d in draws)
    text = (
        f"{mark}{e['success_change_pts']:+.1f}{mark} [{lo:+.1f}, {hi:+.1f}] "
        f"({e['success_change_cost_free_pts']:+.1f}), {e['cost_shielded']:.3f}, max "
        f"{e['max_cost_shielded']:.0f}"
    )
    return text, e["meets"]["all"], wins


def standing(p_after: dict, e_after: dict) -> None:
    """The shielded stack as it ships (the breaker on for the policies, the frozen release),
    each row over its three draws: success and cost unshielded -> shielded, the veto and stop
    rates (per step), and the shielded cost per category per episode."""
    cats = SAFETY_SPEC.categories
    print(
        "\nThe shielded stack as it ships, over the three draws: unshielded SR / CC -> "
        "shielded SR / CC, veto rate and stop rate per step, shielded cost per episode by "
        "category (" + ", ".join(cats) + ")\n\n| proposer | set | SR / CC | veto rate | stop "
        "rate | cost by category |\n|---|---|---|---|---|---|"
    )
    for p in [*dt.POLICIES, EXPERT]:
        for s in ("unseen", "unseen2", "pooled", "pickup"):
            row = e_after.get(s) if p == EXPERT else p_after.get((p, s))
            if row is None:
                continue
            off, draws = row
            on = [r for d in draws for r in d]
            n, steps = len(on), sum(r["length"] for r in on)
            sr_u = sum(r["success"] for r in off) / len(off)
            cc_u = sum(r["cost"] for r in off) / len(off)
            sr = sum(r["success"] for r in on) / n
            cc = sum(r["cost"] for r in on) / n
            by = " / ".join(f"{sum(r['cost_by_category'][c] for r in on) / n:.3f}" for c in cats)
            print(
                f"| {p} | {NAMES[s]} | {sr_u:.3f} / {cc_u:.2f} -> {sr:.3f} / {cc:.3f} | "
                f"{sum(r['vetoes'] for r in on) / steps:.3f} | "
                f"{sum(r['stops'] for r in on) / steps:.3f} | {by} |"
            )


def main() -> None:
    have = any((RUNS / f"frozen_seed{k}").is_dir() for k in SEEDS)
    reruns = pack() if have else json.loads(gzip.decompress(PACKED.read_bytes()))
    frozen = sum(
        bool(r["extra"].get("critic", {}).get("frozen_releases"))
        for v in reruns.values()
        for r in v
    )
    checked: list = []
    p_before, p_after = policy_rows(reruns, checked)
    e_before, e_after = expert_rows(reruns, checked)
    sets = ["unseen", "unseen2", "unseen_pooled", "pooled"]
    names = NAMES
    print(
        f"Reruns: {sum(map(len, reruns.values()))} episode-draws, {frozen} with a frozen "
        f"release; the other {len(checked)} equal their records before in "
        f"{sum(checked)} cases ({', '.join(SAME)}).\n"
    )
    print(
        "Success change against the same proposer unshielded over the three draws [95% CI] "
        "(own), shielded cost per episode, max episode cost: before -> with the frozen "
        "release (bold: short of a target)\n"
    )
    print("| proposer | set | before | with the frozen release |\n|---|---|---|---|")
    met = {"before": [0, 0], "after": [0, 0]}  # per set of 100 / pooled
    wins = {"before": 0, "after": 0}
    for p in [*dt.POLICIES, EXPERT]:
        for s in [*sets, "pickup"]:
            if p == EXPERT:
                if s not in e_before:
                    continue
                b, a = e_before[s], e_after[s]
            else:
                if s == "pickup":
                    continue
                b, a = p_before[p, s], p_after[p, s]
            tb, mb, wb = cell(*b)
            ta, ma, wa = cell(*a)
            if s in ("unseen", "unseen2", "pooled"):
                met["before"][0] += mb
                met["after"][0] += ma
                wins["before"] += wb
                wins["after"] += wa
            if s in ("unseen_pooled", "pooled"):
                met["before"][1] += mb
                met["after"][1] += ma
            print(f"| {p} | {names[s]} | {tb} | {ta} |")
    standing(p_after, e_after)
    print(
        f"\nObjectNav rows meeting every target, per set of 100 with the long tail pooled (15): "
        f"{met['before'][0]} -> {met['after'][0]}; unseen and long tail each pooled (10): "
        f"{met['before'][1]} -> {met['after'][1]}. Shielded ObjectNav successes summed over "
        f"the three draws: {wins['before']} -> {wins['after']}."
    )


if __name__ == "__main__":
    main()
