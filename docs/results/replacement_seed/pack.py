"""(forty-fifth session) `run.sh`'s output for `jobs_<k>.txt` into `seed<k>.json.gz` beside
this script (with `base`: `base_jobs_<k>.txt` into `base<k>.json.gz`), by
`<proposer>/<set>/<episode id>`; refuses a job whose output is missing or short.

    python docs/results/replacement_seed/pack.py K [base]
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    k = sys.argv[1]
    base = len(sys.argv) > 2 and sys.argv[2] == "base"
    jobs, name = (f"base_jobs_{k}.txt", f"base{k}") if base else (f"jobs_{k}.txt", f"seed{k}")
    out = {}
    for line in (HERE / jobs).read_text().splitlines():
        _, _, chunk, _, path = line.split()
        f = Path(path)
        recs = [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []
        if len(recs) != len(chunk.split(",")):
            raise SystemExit(f"{path}: {len(recs)} records, want {len(chunk.split(','))}")
        p, s = f.stem.rsplit("_", 1)[0].rsplit("_", 1)  # <proposer>_<set>_<chunk>
        for r in recs:
            out[f"{p}/{s}/{r['episode_id']}"] = r
    blob = json.dumps(out, sort_keys=True).encode()
    (HERE / f"{name}.json.gz").write_bytes(gzip.compress(blob, mtime=0))
    print(f"{len(out)} records -> {name}.json.gz")


if __name__ == "__main__":
    main()
