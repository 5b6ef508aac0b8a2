"""(forty-fourth session) The episodes the contact guard's base part can change, as job lines
for `nobase.py`: those whose shielded record in the standing table has a blocked action and a
collision, by proposer and set, in chunks of eight (`objnav-ppo-lag` on the reported long tail
left out: it was run whole).

    python docs/results/contact_base/jobs.py > docs/results/contact_base/jobs.txt
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
PROPOSERS = ["objnav-ppo-lag", "objnav-bc", "objnav-ppo", "objnav-ppo-penalty", "expert-careless"]


def main() -> None:
    reruns = json.loads(gzip.decompress((standing.HERE / "policies.json.gz").read_bytes()))
    for p in PROPOSERS:
        expert = p.startswith("expert")
        for s, path in FILES.items():
            if (s == "pickup" and not expert) or (s == "longtail" and p == "objnav-ppo-lag"):
                continue
            _, on = standing.expert(s) if expert else standing.policy(s, p, reruns)
            ids = [e.episode_id for e in load_episodes(path)]
            cand = [
                ids.index(r["episode_id"]) for r in on if r["blocked"] > 0 and r["collisions"] > 0
            ]
            bundle = "expert:careless" if expert else f"models/{p}"
            for k in range(0, len(cand), 8):
                chunk = ",".join(map(str, cand[k : k + 8]))
                print(f"{bundle} {path} {chunk} runs/s44/nobase/{p}_{s}_{k}.jsonl")


if __name__ == "__main__":
    main()
