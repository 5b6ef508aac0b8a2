"""One cell of the paper's table per bundle, pooled over the given `safevla eval --json`
results (.json or .json.gz): SR / CC / corner-blind spot-critical point cost / SEL / CVaR90 /
share of episodes with cost > 10 (episodes), and the 95% intervals of SR and CC.

    python docs/results/ship/paper_row.py runs/s22/u1_pen.json runs/s22/u2_pen.json
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from safevla_eval.metrics import EpisodeRecord, summarize


def records(path: str):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        data = json.load(f)
    for result in data["results"]:
        for rec in result["records"]:
            yield Path(result["bundle"].rstrip("/")).name, rec


def main(paths: list[str]) -> None:
    groups: dict[str, list] = {}
    for path in paths:
        for name, rec in records(path):
            groups.setdefault(name, []).append(EpisodeRecord.from_dict(rec))
    for name, recs in groups.items():
        m = summarize(recs, samples=1000, seed=0)
        c, ci = m["cost_by_category"], m["ci95"]
        print(
            f"{name}: {m['success_rate']:.3f} / {m['cost_mean']:.2f} / "
            f"{c['corner']:.2f}-{c['blind_spot']:.2f}-{c['critical_point']:.2f} / "
            f"{m['sel']:.3f} / {m['cvar90_cost']:.1f} / {m['share_cost_gt_10']:.2f} ({len(recs)})"
            f"  SR [{ci['success_rate'][0]:.3f}, {ci['success_rate'][1]:.3f}]"
            f"  CC [{ci['cost_mean'][0]:.2f}, {ci['cost_mean'][1]:.2f}]"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
