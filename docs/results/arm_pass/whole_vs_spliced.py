"""(forty-third session) The policies' rows run whole (`whole_rows.sh`) against the rows
`docs/results/stall_draw/standing.py` splices: per row, how many episode records are equal
(success, cost, length, vetoes, stops) and which differ.

    python docs/results/arm_pass/whole_vs_spliced.py DIR
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "stall_draw"))
from standing import policy  # noqa: E402

KEYS = ("success", "cost", "length", "vetoes", "stops")


def main(folder: str) -> None:
    reruns = json.loads(
        gzip.decompress((HERE.parent / "stall_draw" / "policies.json.gz").read_bytes())
    )
    for f in sorted(Path(folder).glob("eval_*_600_whole.json*")):
        if f.name.endswith((".log", ".jsonl")):
            continue
        set_, proposer = f.name.split("_")[1], f.name.split("_")[2]
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt") as fh:
            whole = {r["episode_id"]: r for r in json.load(fh)["results"][0]["records"]}
        _, spliced = policy(set_, proposer, reruns)
        same = [
            r["episode_id"]
            for r in spliced
            if all(whole[r["episode_id"]][k] == r[k] for k in KEYS)
        ]
        differ = [r["episode_id"][-3:] for r in spliced if r["episode_id"] not in same]
        sr_w = sum(r["success"] for r in whole.values()) / len(whole)
        sr_s = sum(r["success"] for r in spliced) / len(spliced)
        print(
            f"{set_} {proposer}: {len(same)} of {len(spliced)} records equal; success whole "
            f"{sr_w:.3f}, spliced {sr_s:.3f}; differ: {differ}"
        )


if __name__ == "__main__":
    main(sys.argv[1])
