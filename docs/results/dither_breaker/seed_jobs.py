"""(forty-sixth session) Job lines for another draw of the shield (replacement seed SEED) on the
breaker's shielded rows: only the episodes whose seed-0 shielded record has a veto can draw
(the rest run the same under any seed), in chunks of eight, for `runs.sh`.

    python docs/results/dither_breaker/seed_jobs.py SEED > runs/s46/jobs_seed1.txt
    JOB='{"critic_seed": 1}' bash docs/results/dither_breaker/runs.sh runs/s46/jobs_seed1.txt
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "replacement_seed"))
from jobs import FILES  # noqa: E402

from sim_bridge.episodes import load_episodes  # noqa: E402


def main() -> None:
    seed = int(sys.argv[1])
    runs = json.loads(gzip.decompress((HERE / "dither.json.gz").read_bytes()))
    for key, recs in runs.items():
        parts = key.split("/")
        if len(parts) != 3 or parts[2] != "1":
            continue  # unshielded, or a draw already packed
        proposer, set_, _ = parts
        ids = [e.episode_id for e in load_episodes(FILES[set_])]
        idx = [ids.index(r["episode_id"]) for r in recs if r["vetoes"] > 0]
        for k in range(0, len(idx), 8):
            chunk = ",".join(map(str, idx[k : k + 8]))
            print(
                f"models/{proposer} {FILES[set_]} {chunk} 1 6 12 "
                f"runs/s46/brk6_seed{seed}/{proposer}_{set_}_1_{k}.jsonl"
            )


if __name__ == "__main__":
    main()
