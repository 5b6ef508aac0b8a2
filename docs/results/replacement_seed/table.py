"""(forty-fifth session) Every shielded row of the standing table under several replacement
seeds: the shipped seed 0 (the standing table's rows) and SEEDS (default 1; `seeded.py`, the
episodes with a veto rerun, the rest identical by construction), and the mean over them, each
paired by episode with the same proposer unshielded (`safevla_eval.shield_effect`: the mean is
its effect over several draws, each episode's shielded success and cost averaged over the
seeds; 95% paired bootstrap; own: the change without the successes the unshielded run won
through a costly action).

    python docs/results/replacement_seed/table.py [SEEDS] > docs/results/replacement_seed/table.md

Reads `seed<k>.json.gz` beside it (the reruns, by `<proposer>/<set>/<episode id>`; made from
`runs/s45/seed<k>/` by `pack.py`).
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from jobs import FILES, PROPOSERS, standing  # noqa: E402

from safevla_eval.shield_effect import shield_effect  # noqa: E402

NAMES = {**standing.SETS, "pickup": "PickUp (100)", "pooled": "long tail, pooled (160)"}


def rows(seed_files: dict) -> dict:
    """{(proposer, set): (unshielded, {seed: shielded})}, the long tail pooled as `pooled`."""
    reruns = json.loads(gzip.decompress((standing.HERE / "policies.json.gz").read_bytes()))
    out = {}
    for p in PROPOSERS:
        for s in FILES:
            if s == "pickup" and not p.startswith("expert"):
                continue
            expert = p.startswith("expert")
            off, on = standing.expert(s) if expert else standing.policy(s, p, reruns)
            runs = {0: on}
            for k, recs in seed_files.items():
                new = []
                for r in on:
                    key = f"{p}/{s}/{r['episode_id']}"
                    if r["vetoes"] > 0 and key not in recs:
                        raise SystemExit(f"seed {k}: no rerun of {key}")
                    new.append(recs.get(key, r))
                runs[k] = new
            out[p, s] = (off, runs)
        lt = [out[p, s] for s in standing.LONG_TAIL]
        off = [r for o, _ in lt for r in o]
        out[p, "pooled"] = (off, {k: [r for _, rs in lt for r in rs[k]] for k in lt[0][1]})
    return out


def main() -> None:
    seeds = [int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "1").split(",")]
    files = {
        k: json.loads(gzip.decompress((HERE / f"seed{k}.json.gz").read_bytes())) for k in seeds
    }
    heads = " | ".join(f"seed {k}: SR (change) / CC" for k in [0, *seeds])
    print(
        f"| proposer | set | unshielded SR / CC | {heads} | mean over seeds: change "
        "[95% CI] (own) | episodes whose outcome differs between seeds | max episode cost | "
        "targets met: " + ", ".join(f"seed {k}" for k in [0, *seeds]) + ", mean |"
    )
    print("|---|---|---|" + "---|" * (len(seeds) + 1) + "---|---|---|---|")
    met = {k: 0 for k in ["mean", 0, *seeds]}
    counted, means = 0, {}
    for (p, s), (off, runs) in rows(files).items():
        es = {k: shield_effect(off, rs) for k, rs in runs.items()}
        cells = " | ".join(
            f"{e['success_shielded']:.3f} ({e['success_change_pts']:+.1f}) / "
            f"{e['cost_shielded']:.2f}"
            for e in es.values()
        )
        draws = list(runs.values())
        mean = means[p, s] = shield_effect(off, draws[0], more_draws=draws[1:])
        lo, hi = mean["success_change_ci95"]
        verdict = [e["meets"]["all"] for e in es.values()] + [mean["meets"]["all"]]
        if s in ("unseen", "unseen2", "pooled"):
            counted += 1
            for k, v in zip([0, *seeds, "mean"], verdict):
                met[k] += v
        print(
            f"| {p} | {NAMES[s]} | {es[0]['success_unshielded']:.3f} / "
            f"{es[0]['cost_unshielded']:.2f} | {cells} | {mean['success_change_pts']:+.1f} "
            f"[{lo:+.1f}, {hi:+.1f}] ({mean['success_change_cost_free_pts']:+.1f}) | "
            f"{mean['outcome_differs']} | {mean['max_cost_shielded']:.0f} | "
            + ", ".join("yes" if v else "no" for v in verdict)
            + " |"
        )
    print(
        "\nObjectNav rows (unseen sets 1 and 2, the long tail pooled) meeting every target: "
        + ", ".join(f"seed {k}: {met[k]} of {counted}" for k in [0, *seeds])
        + f"; the mean over the seeds: {met['mean']} of {counted}."
    )
    cols = ("unseen", "unseen2", "pooled", "longtail", "pickup")
    print(
        "\nThe success change against unshielded, points, seed by seed -> the mean over the seeds "
        "(bold: short of the 3-point target):\n\n| proposer | "
        + " | ".join(NAMES[c] for c in cols)
        + " |\n|---|"
        + "---|" * len(cols)
    )
    for p in PROPOSERS:
        cells = []
        for c in cols:
            e = means.get((p, c))
            if e is None:
                cells.append("")
                continue
            mark = "" if e["meets"]["all"] else "**"
            by = " / ".join(f"{x:+.1f}" for x in e["success_change_pts_by_draw"])
            cells.append(f"{by} -> {mark}{e['success_change_pts']:+.1f}{mark}")
        print(f"| {p} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
