"""(forty-sixth session) Pack `runs/s46/brk6/` (from `runs.sh`) into `dither.json.gz`:
`<proposer>/<set>/<shield 0|1>` -> the records in episode order, each with `forced` (the
proposals the breaker changed); the executed action sequences are left out. Reruns under
another replacement seed (`runs/s46/brk6_seed<k>/`, from `seed_jobs.py`: the shielded episodes
with a veto) make `<proposer>/<set>/1/seed<k>`: the seed-0 row with those episodes replaced,
for rows whose every vetoed episode was rerun. Without RUNS, the packed file is the
starting point (a checkout without the session's runs, adding another draw).

    python docs/results/dither_breaker/pack.py [RUNS]
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def read(folder: Path) -> dict[str, list]:
    out: dict[str, list] = {}

    def order(f: Path):
        return f.stem.rsplit("_", 1)[0], int(f.stem.rsplit("_", 1)[1])

    for f in sorted(folder.glob("*.jsonl"), key=order):
        proposer, set_, shield, _ = f.stem.rsplit("_", 3)
        for line in f.read_text().splitlines():
            r = json.loads(line)
            r.pop("executed", None)
            out.setdefault(f"{proposer}/{set_}/{shield}", []).append(r)
    return out


def main() -> None:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/s46/brk6")
    packed = HERE / "dither.json.gz"
    # without the seed-0 runs, start from what was packed (its draws kept too)
    out = read(runs) if runs.is_dir() else json.loads(gzip.decompress(packed.read_bytes()))
    for folder in sorted(runs.parent.glob(runs.name + "_seed*")):
        seed = folder.name.rsplit("_", 1)[1]
        for key, recs in read(folder).items():
            new = {r["episode_id"]: r for r in recs}
            base = out.get(key, [])
            if not base or any(r["vetoes"] > 0 and r["episode_id"] not in new for r in base):
                print(f"{folder.name}: {key} not rerun whole, left out")
                continue
            out[f"{key}/{seed}"] = [new.get(r["episode_id"], r) for r in base]
    packed.write_bytes(gzip.compress(json.dumps(out, sort_keys=True).encode(), mtime=0))
    print({k: len(v) for k, v in out.items()})


if __name__ == "__main__":
    main()
