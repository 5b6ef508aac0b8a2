"""(forty-fifth session) `runs/s45/seed<k>/*.jsonl` (`run.sh`'s output) into `seed<k>.json.gz`
beside this script, by `<proposer>/<set>/<episode id>`; refuses a job of `jobs_<k>.txt` whose
output is missing or short.

    python docs/results/replacement_seed/pack.py K
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    k = sys.argv[1]
    out = {}
    for line in (HERE / f"jobs_{k}.txt").read_text().splitlines():
        _, _, chunk, _, path = line.split()
        f = Path(path)
        recs = [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []
        if len(recs) != len(chunk.split(",")):
            raise SystemExit(f"{path}: {len(recs)} records, want {len(chunk.split(','))}")
        name = f.stem.rsplit("_", 1)[0]  # <proposer>_<set>
        p, s = name.rsplit("_", 1)
        for r in recs:
            out[f"{p}/{s}/{r['episode_id']}"] = r
    blob = json.dumps(out, sort_keys=True).encode()
    (HERE / f"seed{k}.json.gz").write_bytes(gzip.compress(blob, mtime=0))
    print(f"{len(out)} records -> seed{k}.json.gz")


if __name__ == "__main__":
    main()
