"""(forty-first session) A policy's shielded episodes the stall release could change: those of
the shipped rows (`docs/results/longtail_s2/pooled.py`'s `runs`) that stopped 6 times or more
(with fewer the release, at `stall_stops` 6, never fires, so the rest of each row is the
shipped one). Each is run again at its own index (the seeds of `safevla eval`), without the
release (it must equal the shipped record) and with it (`critic_stall_stops` 6, the rule as it
was before it was limited to one-hot proposers: these runs are why it was).

    python docs/results/stall_release/subset.py POLICY SET OUT.json

POLICY: `objnav-ppo-lag`, `objnav-bc`, `objnav-ppo` or `objnav-ppo-penalty`; SET: `unseen`,
`unseen2`, `longtail`, `ltval` or `lt2`. Run from the repository root
(`MUJOCO_GL=egl OMP_NUM_THREADS=1`); the files here were made at commit 570a713, whose rule
with the bound at 6 is this one's for these episodes.
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
CRITIC = "models/safety-critic"


class Shielded:
    """A proposer's env, agent and shielded jobs at ``steps``: each episode of a set at its own
    index (the seeds of `safevla eval`), rendered as `safevla eval` renders it."""

    def __init__(self, proposer: str, steps: int) -> None:
        self.spec = parse_policy(proposer)
        self.size, self.manip = render_settings(self.spec)
        self.steps = steps
        self.env = make_env(steps, self.size, self.manip)
        self.agent = make_agent(self.spec)
        self.sets: dict[str, tuple] = {}

    def job(self, set_: str, episode_id: str, **settings) -> Job:
        """The shielded job of ``episode_id`` in ``set_`` (a key of FILES), with more Job
        fields (e.g. ``critic_stall_stops``)."""
        if set_ not in self.sets:
            eps = load_episodes(FILES[set_])
            self.sets[set_] = eps, {e.episode_id: i for i, e in enumerate(eps)}
        eps, index = self.sets[set_]
        i = index[episode_id]
        return Job(
            self.spec, eps[i], i, True, (), self.steps, critic=CRITIC, nav_hw=self.size,
            manip=self.manip, **settings,
        )  # fmt: skip


def main() -> None:
    policy, set_, out = sys.argv[1:4]
    steps = 600
    _, shipped = runs(set_, policy, steps)
    sh = Shielded(f"models/{policy}", steps)
    rows = []
    for r in (r for r in shipped if r["stops"] >= 6):
        recs = {}
        for tag, stall in (("off", 0), ("on", 6)):
            job = sh.job(set_, r["episode_id"], critic_stall_stops=stall, critic_stall_below=6.0)
            recs[tag] = dataclasses.asdict(run_episode(sh.env, sh.agent, job))
        same = all(recs["off"][k] == r[k] for k in KEYS)
        on = recs["on"]
        print(
            f"{r['episode_id']} shipped {r['success']} {r['length']} {r['stops']} | rerun "
            f"equal: {same} | release {on['success']} {on['length']} {on['cost']} {on['stops']} "
            f"releases {on['extra']['critic']['releases']}",
            flush=True,
        )
        i = job.index
        rows.append({"episode_id": r["episode_id"], "index": i, "stored": r, "off_same": same})
        rows[-1] |= recs
    Path(out).write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
