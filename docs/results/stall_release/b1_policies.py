"""(forty-first session) The policies' stalled episodes (`sub_<set>_<policy>.json.gz`: the
shipped shielded episodes with 6 stops or more) with the stall release at its default bound
(`critic_stall_stops` 6, `critic_stall_below` 1), for every proposer, each at its own index.

    python docs/results/stall_release/b1_policies.py OUT.json

Run from the repository root with `PYTHONPATH` a snapshot of the tree at commit c58a836 with
the release's one-hot limit taken out (the rule of the commit that lifted it)
(`MUJOCO_GL=egl OMP_NUM_THREADS=1`); the output, gzipped, is `b1_policies.json.gz`: the record
of each episode by `<policy>/<episode id>`.
"""

import dataclasses
import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from subset import FILES  # noqa: E402

from safevla_eval.agents import make_agent, parse_policy, render_settings  # noqa: E402
from safevla_eval.runner import Job, make_env, run_episode  # noqa: E402
from sim_bridge.episodes import load_episodes  # noqa: E402


def main() -> None:
    out = {}
    for f in sorted(HERE.glob("sub_*.json.gz")):
        set_, policy = f.name[len("sub_") : -len(".json.gz")].split("_", 1)
        with gzip.open(f, "rt") as fh:
            rows = json.load(fh)
        spec = parse_policy(f"models/{policy}")
        size, manip = render_settings(spec)
        env, agent = make_env(600, size, manip), make_agent(spec)
        eps = load_episodes(FILES[set_])
        for r in rows:
            i = r["index"]
            job = Job(spec, eps[i], i, True, (), 600, critic="models/safety-critic", nav_hw=size)
            job = dataclasses.replace(
                job, manip=manip, critic_stall_stops=6, critic_stall_below=1.0
            )
            rec = dataclasses.asdict(run_episode(env, agent, job))
            n = rec["extra"]["critic"]["releases"]
            print(
                f"{policy} {set_} {r['episode_id']} shipped {r['stored']['success']} release "
                f"{rec['success']} cost {rec['cost']} releases {n}",
                flush=True,
            )
            out[f"{policy}/{r['episode_id']}"] = rec
        env.close()
    Path(sys.argv[1]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
