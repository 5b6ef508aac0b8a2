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


def main() -> None:
    seed = int(sys.argv[1])
    reruns = json.loads(gzip.decompress((standing.HERE / "policies.json.gz").read_bytes()))
    for s, path in FILES.items():
        ids = [e.episode_id for e in load_episodes(path)]
        for p in PROPOSERS:
            if s == "pickup" and not p.startswith("expert"):
                continue
            cand = [ids.index(i) for i in vetoed(p, s, reruns)]
            bundle = "expert:careless" if p.startswith("expert") else f"models/{p}"
            for k in range(0, len(cand), 8):
                chunk = ",".join(map(str, cand[k : k + 8]))
                print(f"{bundle} {path} {chunk} {seed} runs/s45/seed{seed}/{p}_{s}_{k}.jsonl")


if __name__ == "__main__":
    main()
