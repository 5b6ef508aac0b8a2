"""(forty-sixth session) Pack `runs/s46/brk6/` (from `runs.sh`) into `dither.json.gz`:
`<proposer>/<set>/<shield 0|1>` -> the records in episode order, each with `forced` (the
proposals the breaker changed); the executed action sequences are left out.

    python docs/results/dither_breaker/pack.py [RUNS]
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/s46/brk6")
    out: dict[str, list] = {}
    files = sorted(
        runs.glob("*.jsonl"),
        key=lambda f: (f.stem.rsplit("_", 1)[0], int(f.stem.rsplit("_", 1)[1])),
    )
    for f in files:
        proposer, set_, shield, _ = f.stem.rsplit("_", 3)
        key = f"{proposer}/{set_}/{shield}"
        for line in f.read_text().splitlines():
            r = json.loads(line)
            r.pop("executed", None)
            out.setdefault(key, []).append(r)
    (HERE / "dither.json.gz").write_bytes(
        gzip.compress(json.dumps(out, sort_keys=True).encode(), mtime=0)
    )
    print({k: len(v) for k, v in out.items()})


if __name__ == "__main__":
    main()
