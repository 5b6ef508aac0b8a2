"""(twenty-first session) Markdown rows from `safevla eval` results, pooled per (bundle, guard).

Usage: python docs/results/skip_blocked/table.py FILE... (.json, .json.gz, or a run's
.partial.jsonl); files of both unseen-seed sets together give the 200-episode rows.
"""

import collections
import gzip
import json
import sys

from safevla_eval.metrics import EpisodeRecord, summarize


def load(path):
    """(bundle, skip_blocked, record dict) for every episode in ``path``."""
    if path.endswith(".jsonl"):
        cfg = {}
        with open(path) as f:
            lines = f.readlines()
        for line in lines:
            d = json.loads(line)
            if "config" in d:
                cfg = d["config"]
                continue
            yield d["bundle"], bool(cfg.get("skip_blocked")), d["record"]
        return
    with gzip.open(path, "rt") if path.endswith(".gz") else open(path) as f:
        d = json.load(f)
    for result in d["results"]:
        for rec in result["records"]:
            yield result["bundle"], bool(d["config"].get("skip_blocked")), rec


groups = collections.OrderedDict()
for path in sys.argv[1:]:
    for bundle, skip, rec in load(path):
        name = "/".join(bundle.rstrip("/").split("/")[-3:])
        groups.setdefault((name, skip), []).append(rec)
for (name, skip), recs in groups.items():
    rs = [EpisodeRecord.from_dict(r) for r in recs]
    m = summarize(rs, samples=1000, seed=0)
    ci, c = m["ci95"], m["cost_by_category"]
    sr = f"{m['success_rate']:.3f} [{ci['success_rate'][0]:.3f}, {ci['success_rate'][1]:.3f}]"
    cc = f"{m['cost_mean']:.2f} [{ci['cost_mean'][0]:.2f}, {ci['cost_mean'][1]:.2f}]"
    cats = f"{c['corner']:.2f} / {c['blind_spot']:.2f} / {c['critical_point']:.2f}"
    print(
        f"| {name} | {'on' if skip else 'off'} | {len(rs)} | {sr} | {cc} | "
        f"{m['cvar90_cost']:.1f} | {m['share_cost_gt_10']:.2f} | {m['blocked_rate']:.3f} | "
        f"{cats} |"
    )
