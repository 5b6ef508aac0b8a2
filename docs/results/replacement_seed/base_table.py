"""(forty-fifth session) The contact guard's base part on (shipped) and off, each judged in
expectation over draws of the shield (seed 0 and SEEDS, default 1), every proposer on every
ObjectNav set, the long tail pooled. On: the standing table's rows and their reruns under
SEEDS (`seed<k>.json.gz`). Off: seed 0 from the forty-fourth session's reruns
(`docs/results/contact_base/reruns.json.gz`), SEEDS from `base<k>.json.gz` (the
episodes `base_jobs.py` lists run with `seeded.py` and `JOB='{"critic_contact_guard_base":
false}'`, packed by `pack.py base K`); an episode not rerun is the same with the part on or
off (it had no base motion blocked by contact).

    python docs/results/replacement_seed/base_table.py [SEEDS] \
        > docs/results/replacement_seed/base_table.md
"""

import gzip
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("seed_table", HERE / "table.py")
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)

from safevla_eval.shield_effect import shield_effect  # noqa: E402

SEEDS = tuple(int(k) for k in (sys.argv[1] if len(sys.argv) > 1 else "1").split(","))


def load(name: str) -> dict:
    return json.loads(gzip.decompress((HERE / name).read_bytes()))


def main() -> None:
    seeds = " / ".join(map(str, (0, *SEEDS)))
    on = table.rows({k: load(f"seed{k}.json.gz") for k in SEEDS})
    off_runs = {0: load("../contact_base/reruns.json.gz")}
    off_runs.update({k: load(f"base{k}.json.gz") for k in SEEDS})
    print(
        f"| proposer | set | unshielded SR | base part on: seed {seeds} -> mean | "
        f"base part off: seed {seeds} -> mean | shielded successes on -> off "
        f"({len(SEEDS) + 1} draws) | cost on -> off (max) |"
    )
    print("|---|---|---|---|---|---|---|")
    met = {"on": 0, "off": 0}
    total = {"on": 0, "off": 0}
    counted = 0
    for p in table.PROPOSERS:
        pooled_u, pooled = [], {"on": {}, "off": {}}
        for s in [*table.FILES, "pooled"]:
            if s == "pickup":
                continue
            u, runs = on[p, s]
            if s == "pooled":
                u = pooled_u
                draws = {m: [pooled[m][k] for k in (0, *SEEDS)] for m in ("on", "off")}
            else:
                draws = {"on": [runs[k] for k in (0, *SEEDS)], "off": []}
                for k in (0, *SEEDS):
                    key = f"{p}/{s}/"
                    draws["off"].append(
                        [
                            {**r, **off_runs[k][key + r["episode_id"]]}
                            if key + r["episode_id"] in off_runs[k]
                            else r
                            for r in runs[k]
                        ]
                    )
                if s in table.standing.LONG_TAIL:
                    pooled_u += u
                    for m in ("on", "off"):
                        for k, d in zip((0, *SEEDS), draws[m]):
                            pooled[m][k] = pooled[m].get(k, []) + d
            cells, succ, cost = {}, {}, {}
            for m in ("on", "off"):
                e = shield_effect(u, draws[m][0], more_draws=draws[m][1:], samples=0)
                by = " / ".join(f"{x:+.1f}" for x in e["success_change_pts_by_draw"])
                mark = "" if e["meets"]["all"] else "**"
                cells[m] = f"{by} -> {mark}{e['success_change_pts']:+.1f}{mark}"
                succ[m] = sum(bool(r["success"]) for d in draws[m] for r in d)
                cost[m] = (e["cost_shielded"], e["max_cost_shielded"])
                if s in ("unseen", "unseen2", "pooled"):
                    met[m] += e["meets"]["all"]
                if s != "pooled":
                    total[m] += succ[m]
            counted += s in ("unseen", "unseen2", "pooled")
            print(
                f"| {p} | {table.NAMES[s]} | {sum(bool(r['success']) for r in u) / len(u):.3f} "
                f"| {cells['on']} | {cells['off']} | {succ['on']} -> {succ['off']} | "
                f"{cost['on'][0]:.2f} -> {cost['off'][0]:.2f} ({cost['off'][1]:g}) |"
            )
    print(
        f"\nObjectNav rows (unseen sets 1 and 2, the long tail pooled) meeting every target in "
        f"expectation: base part on {met['on']} of {counted}, off {met['off']} of {counted}. "
        f"Shielded ObjectNav successes over the draws: on {total['on']}, off "
        f"{total['off']} ({len(SEEDS) + 1} draws)."
    )


if __name__ == "__main__":
    main()
