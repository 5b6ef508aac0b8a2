"""(thirty-eighth session) How well the critic's learnt head ranks the grazing motions
`graze_head.py` recorded: per motion, the AUC of the head's risk (its largest category, each
over the calibrated threshold) against the exact one-step cost; at the calibrated threshold the
share of costly grazes the head alone would pass (miss) and of harmless ones it would pass; and
the head threshold at which at most 5% of costly grazes pass, with the harmless share it passes.

    python docs/results/longtail_val/graze_head_table.py GRAZE_HEAD.jsonl[.gz] [...]
"""

import sys
from collections import defaultdict

import numpy as np
from grazes_table import load

THRESHOLD = 0.0139  # models/safety-critic: every category


def auc(score: np.ndarray, y: np.ndarray) -> float:
    pos, neg = score[y], score[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1.0
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main() -> None:
    rows = load(sys.argv[1:])
    by = defaultdict(list)
    for r in rows:
        by[r["motion"]].append(r)
        if r["proposed"]:
            by[r["motion"] + " (proposed)"].append(r)
    by["all base motions"] = rows
    print(
        "| motion | pairs | costly | head AUC | head passes at the threshold: costly / harmless "
        "| head threshold for <= 5% costly passing | harmless passing there |"
    )
    print("|---|---|---|---|---|---|---|")
    for motion, rs in sorted(by.items()):
        y = np.array([any(v > 0 for v in r["cost"].values()) for r in rs])
        s = np.array([max(r["head"]) / THRESHOLD for r in rs])
        passes = s < 1.0
        miss = passes[y].mean() if y.any() else float("nan")
        free = passes[~y].mean() if (~y).any() else float("nan")
        t = np.quantile(s[y], 0.05) if y.sum() >= 20 else float("nan")
        free_t = (s[~y] < t).mean() if y.sum() >= 20 and (~y).any() else float("nan")
        print(
            f"| {motion} | {len(rs)} | {int(y.sum())} | {auc(s, y):.3f} | {miss:.3f} / {free:.3f} "
            f"| {t * THRESHOLD:.4f} | {free_t:.3f} |"
        )


if __name__ == "__main__":
    main()
