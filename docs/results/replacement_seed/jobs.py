"""(forty-fifth session) The shielded episodes a replacement seed can change, as job lines for
`seeded.py`: those whose shielded record in the standing table has a veto (an episode without
one never draws, so it runs the same under any seed), every proposer and set, in chunks of
eight, set by set.

    python docs/results/replacement_seed/jobs.py SEED > docs/results/replacement_seed/jobs_SEED.txt
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "stall_draw"))
sys.path.insert(0, str(HERE.parent / "stall_release"))
import standing  # noqa: E402
from subset import FILES as OBJNAV_FILES  # noqa: E402

from sim_bridge.episodes import load_episodes  # noqa: E402

FILES = {**OBJNAV_FILES, "pickup": "sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz"}
PROPOSERS = ["expert-careless", "objnav-ppo-lag", "objnav-bc", "objnav-ppo", "objnav-ppo-penalty"]


def vetoed(proposer: str, set_: str, reruns: dict) -> list[str]:
    """The episode ids of the standing table's shielded row that had a veto."""
    expert = proposer.startswith("expert")
    _, on = standing.expert(set_) if expert else standing.policy(set_, proposer, reruns)
    return [r["episode_id"] for r in on if r["vetoes"] > 0]


def print_jobs(proposer: str, set_: str, indices: list[int], seed: int, folder: str) -> None:
    """Job lines for `run.sh` (BUNDLE EPISODES I,J,... SEED OUT): ``indices`` of the set's
    episode file in chunks of eight, each writing `runs/s45/<folder>/<proposer>_<set>_<k>`."""
    bundle = "expert:careless" if proposer.startswith("expert") else f"models/{proposer}"
    for k in range(0, len(indices), 8):
        chunk = ",".join(map(str, indices[k : k + 8]))
        print(
            f"{bundle} {FILES[set_]} {chunk} {seed} runs/s45/{folder}/{proposer}_{set_}_{k}.jsonl"
        )


def main() -> None:
    seed = int(sys.argv[1])
    reruns = json.loads(gzip.decompress((standing.HERE / "policies.json.gz").read_bytes()))
    for s, path in FILES.items():
        ids = [e.episode_id for e in load_episodes(path)]
        for p in PROPOSERS:
            if s == "pickup" and not p.startswith("expert"):
                continue
            print_jobs(p, s, [ids.index(i) for i in vetoed(p, s, reruns)], seed, f"seed{seed}")


if __name__ == "__main__":
    main()
