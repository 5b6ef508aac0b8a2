"""(forty-first session) The policies' stalled episodes (`sub_<set>_<policy>.json.gz`: the
shipped shielded episodes with 6 stops or more) with the stall release at its default bound
(`critic_stall_stops` 6, `critic_stall_below` 1), for every proposer, each at its own index.

    python docs/results/stall_release/b1_policies.py OUT.json

Run from the repository root (`MUJOCO_GL=egl OMP_NUM_THREADS=1`, commit 00d1d80 or later,
the release for every proposer); the output, gzipped, is `b1_policies.json.gz`: the record of
each episode by `<policy>/<episode id>`.
"""

import dataclasses
import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from subset import Shielded  # noqa: E402

from safevla_eval.runner import run_episode  # noqa: E402


def main() -> None:
    out = {}
    for f in sorted(HERE.glob("sub_*.json.gz")):
        set_, policy = f.name[len("sub_") : -len(".json.gz")].split("_", 1)
        with gzip.open(f, "rt") as fh:
            rows = json.load(fh)
        sh = Shielded(f"models/{policy}", 600)
        for r in rows:
            job = sh.job(set_, r["episode_id"], critic_stall_stops=6, critic_stall_below=1.0)
            rec = dataclasses.asdict(run_episode(sh.env, sh.agent, job))
            n = rec["extra"]["critic"]["releases"]
            print(
                f"{policy} {set_} {r['episode_id']} shipped {r['stored']['success']} release "
                f"{rec['success']} cost {rec['cost']} releases {n}",
                flush=True,
            )
            out[f"{policy}/{r['episode_id']}"] = rec
        sh.env.close()
    Path(sys.argv[1]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
