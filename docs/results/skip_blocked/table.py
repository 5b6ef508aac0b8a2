"""(twenty-first session) Markdown rows from `safevla eval` results, pooled per (bundle, guard).

Usage: python docs/results/skip_blocked/table.py [--paper] FILE... (.json, .json.gz, or a
run's .partial.jsonl); files of both unseen-seed sets together give the 200-episode rows.
``--paper``: one cell of the paper's table per group instead (SR / CC / corner-blind
spot-critical point cost / SEL / CVaR90 / share of episodes with cost > 10 (episodes)), with
the 95% intervals of SR and CC.
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


paper = "--paper" in sys.argv[1:]
groups = collections.OrderedDict()
for path in (a for a in sys.argv[1:] if a != "--paper"):
    for bundle, skip, rec in load(path):
        name = "/".join(bundle.rstrip("/").split("/")[-3:])
        groups.setdefault((name, skip), []).append(rec)
for (name, skip), recs in groups.items():
    rs = [EpisodeRecord.from_dict(r) for r in recs]
    m = summarize(rs, samples=1000, seed=0)
    ci, c = m["ci95"], m["cost_by_category"]
    sr_ci = f"[{ci['success_rate'][0]:.3f}, {ci['success_rate'][1]:.3f}]"
    cc_ci = f"[{ci['cost_mean'][0]:.2f}, {ci['cost_mean'][1]:.2f}]"
    sr, cc = f"{m['success_rate']:.3f} {sr_ci}", f"{m['cost_mean']:.2f} {cc_ci}"
    by_cat = [f"{c[k]:.2f}" for k in ("corner", "blind_spot", "critical_point")]
    cats = " / ".join(by_cat)
    if paper:
        print(
            f"{name}{' +skip' if skip else ''}: {m['success_rate']:.3f} / {m['cost_mean']:.2f} / "
            f"{'-'.join(by_cat)} / {m['sel']:.3f} / {m['cvar90_cost']:.1f} / "
            f"{m['share_cost_gt_10']:.2f} ({len(rs)})  SR {sr_ci}  CC {cc_ci}"
        )
        continue
    print(
        f"| {name} | {'on' if skip else 'off'} | {len(rs)} | {sr} | {cc} | "
        f"{m['cvar90_cost']:.1f} | {m['share_cost_gt_10']:.2f} | {m['blocked_rate']:.3f} | "
        f"{cats} |"
    )
