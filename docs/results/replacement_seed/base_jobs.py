"""(forty-fifth session) The contact guard's base part off (`critic_contact_guard_base` false)
judged in expectation over the shield's draws: the episodes it can change under seed K, as
job lines for `run.sh` (with `JOB='{"critic_contact_guard_base": false}'` in the environment):
those whose shielded record under seed K has a blocked action and a collision (a superset of
those with a base motion blocked by contact; the rule the forty-fourth session's
`contact_base/jobs.py` applied to seed 0), every proposer and ObjectNav set, in chunks of
eight.

    python docs/results/replacement_seed/base_jobs.py K \
        > docs/results/replacement_seed/base_jobs_K.txt
"""

import gzip
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
_spec = importlib.util.spec_from_file_location("seed_table", HERE / "table.py")
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)

from jobs import print_jobs  # noqa: E402

from sim_bridge.episodes import load_episodes  # noqa: E402


def main() -> None:
    k = int(sys.argv[1])
    files = {k: json.loads(gzip.decompress((HERE / f"seed{k}.json.gz").read_bytes()))}
    for (p, s), (_, runs) in table.rows(files).items():
        if s in ("pooled", "pickup"):
            continue
        ids = [e.episode_id for e in load_episodes(table.FILES[s])]
        cand = [ids.index(r["episode_id"]) for r in runs[k] if r["blocked"] and r["collisions"]]
        print_jobs(p, s, cand, k, f"base{k}")


if __name__ == "__main__":
    main()
