"""(forty-first session) A policy's shielded episodes the stall release could change: those of
the shipped rows (`docs/results/longtail_s2/pooled.py`'s `runs`) that stopped 6 times or more
(with fewer the release, at `stall_stops` 6, never fires, so the rest of each row is the
shipped one). Each is run again at its own index (the seeds of `safevla eval`), without the
release (it must equal the shipped record) and with it (`critic_stall_stops` 6, the rule as it
was before it was limited to one-hot proposers: these runs are why it was).

    python docs/results/stall_release/subset.py POLICY SET OUT.json

POLICY: `objnav-ppo-lag`, `objnav-bc`, `objnav-ppo` or `objnav-ppo-penalty`; SET: `unseen`,
`unseen2`, `longtail`, `ltval` or `lt2`. Run from the repository root with `PYTHONPATH` a
snapshot of the tree at commit 570a713 (`MUJOCO_GL=egl OMP_NUM_THREADS=1`).
"""

import dataclasses
import json
import sys
from pathlib import Path

R = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(R / "longtail_s2"))
sys.path.insert(0, str(R / "critic_onpolicy"))
sys.path.insert(0, str(R / "oracle"))
from pooled import runs  # noqa: E402

from safevla_eval.agents import make_agent, parse_policy, render_settings  # noqa: E402
from safevla_eval.runner import Job, make_env, run_episode  # noqa: E402
from sim_bridge.episodes import load_episodes  # noqa: E402

FILES = {
    "unseen": "sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz",
    "unseen2": "sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz",
    "longtail": "sim_bridge/data/episodes/longtail_objnav.jsonl.gz",
    "ltval": "sim_bridge/data/episodes/longtail_objnav_val.jsonl.gz",
    "lt2": "docs/results/longtail_s2/longtail_s2.jsonl.gz",
}
KEYS = ("success", "cost", "length", "vetoes", "stops")


def main() -> None:
    policy, set_, out = sys.argv[1:4]
    steps = 600
    _, shipped = runs(set_, policy, steps)
    eps = load_episodes(FILES[set_])
    index = {e.episode_id: i for i, e in enumerate(eps)}
    spec = parse_policy(f"models/{policy}")
    size, manip = render_settings(spec)
    env = make_env(steps, size, manip)
    agent = make_agent(spec)
    rows = []
    for r in (r for r in shipped if r["stops"] >= 6):
        i = index[r["episode_id"]]
        job = Job(spec, eps[i], i, True, (), steps, critic="models/safety-critic", nav_hw=size)
        job = dataclasses.replace(job, manip=manip)
        recs = {}
        for tag, stall in (("off", 0), ("on", 6)):
            rec = run_episode(env, agent, dataclasses.replace(job, critic_stall_stops=stall))
            recs[tag] = dataclasses.asdict(rec)
        same = all(recs["off"][k] == r[k] for k in KEYS)
        on = recs["on"]
        print(
            f"{r['episode_id']} shipped {r['success']} {r['length']} {r['stops']} | rerun "
            f"equal: {same} | release {on['success']} {on['length']} {on['cost']} {on['stops']} "
            f"releases {on['extra']['critic']['releases']}",
            flush=True,
        )
        rows.append({"episode_id": r["episode_id"], "index": i, "stored": r, "off_same": same})
        rows[-1] |= recs
    Path(out).write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
