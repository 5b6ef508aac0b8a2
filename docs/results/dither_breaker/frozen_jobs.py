"""(forty-seventh session) Job lines for the frozen release (safevla_core.critic_gate: a stall
of a whole window with every base motion refused gives the corner guard's raise back): only a
shielded episode that stopped at least STALL_WINDOW times in a draw can reach it (the rest run
the same by construction), so these are rerun, one line per draw, for `runs.sh` with that
draw's seed.

    python docs/results/dither_breaker/frozen_jobs.py SEED > runs/s47/frozen_SEED.txt
    JOB='{"critic_seed": SEED}' bash docs/results/dither_breaker/runs.sh runs/s47/frozen_SEED.txt

The careless expert's rows (the standing table's three draws, `docs/results/replacement_seed/`;
the breaker does not act on it), PickUp included, for that folder's `run.sh`:

    python docs/results/dither_breaker/frozen_jobs.py SEED expert > runs/s47/frozen_expert_SEED.txt
    bash docs/results/replacement_seed/run.sh runs/s47/frozen_expert_SEED.txt
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "replacement_seed"))
from jobs import FILES  # noqa: E402

from safevla_core.critic_gate import STALL_WINDOW  # noqa: E402
from sim_bridge.episodes import load_episodes  # noqa: E402


def expert(seed: int) -> None:
    import importlib.util

    here = HERE.parent / "replacement_seed"
    spec = importlib.util.spec_from_file_location("seed_table", here / "table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    files = {
        k: json.loads(gzip.decompress((here / f"seed{k}.json.gz").read_bytes())) for k in (1, 2)
    }
    for (p, set_), (_, draws) in table.rows(files).items():
        if p != "expert-careless" or set_ == "pooled":
            continue
        ids = [e.episode_id for e in load_episodes(FILES[set_])]
        for r in draws[seed]:
            if r["stops"] >= STALL_WINDOW:
                i = ids.index(r["episode_id"])
                print(
                    f"expert:careless {FILES[set_]} {i} {seed} "
                    f"runs/s47/frozen_expert_seed{seed}/{set_}_{i}.jsonl"
                )


def main() -> None:
    seed = int(sys.argv[1])
    if sys.argv[2:] == ["expert"]:
        return expert(seed)
    runs = json.loads(gzip.decompress((HERE / "dither.json.gz").read_bytes()))
    for key, recs in runs.items():
        parts = key.split("/")
        if parts[2] != "1" or (seed and parts[3:] != [f"seed{seed}"]) or (not seed and parts[3:]):
            continue  # unshielded, or another draw
        proposer, set_ = parts[:2]
        ids = [e.episode_id for e in load_episodes(FILES[set_])]
        for r in recs:
            if r["stops"] >= STALL_WINDOW:
                i = ids.index(r["episode_id"])
                print(
                    f"models/{proposer} {FILES[set_]} {i} 1 6 12 "
                    f"runs/s47/frozen_seed{seed}/{proposer}_{set_}_{i}.jsonl"
                )


if __name__ == "__main__":
    main()
