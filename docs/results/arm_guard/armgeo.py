"""(thirty-seventh session) The arm guard's geometry against the exact one-step cost.

A proposer runs unshielded; in every state where an ``arm_out``'s or ``arm_out_small``'s
extended footprint comes within 5 cm of a return of the full range scan, or where the proposer
proposes one of them, that extension is tried from a snapshot of the simulator
(``sim_bridge.action_probe``: the step's own physics and cost model, then restored). One JSON
row per try: episode, step, action, proposed, lift height, arm extension, and the least signed
distance (m) from the footprint (``safevla_core.footprint._exact_signed_distance``) to the
returns of the full scan (``f0`` now, ``f1`` with the arm out by the step), of the object scan
(``o0``, ``o1``) and of the arm scan (``b0``, ``b1``: the same rays at the arm's heights only,
``safevla_core.footprint.ARM_BAND_M``), and the exact cost by category.

    PYTHONPATH=<tree> MUJOCO_GL=egl OMP_NUM_THREADS=1 python docs/results/arm_guard/armgeo.py \
        PROPOSER EPISODES STEPS OUT.json [I,I,...]

then ``python docs/results/arm_guard/armgeo_table.py OUT.json``.
"""

import json
import sys

import numpy as np

from safevla_core import footprint as fp
from safevla_core.actions import ACTIONS
from safevla_eval.agents import make_agent, parse_policy, render_settings
from safevla_eval.runner import Job, make_env, run_episode
from sim_bridge.action_probe import ActionProbe
from sim_bridge.episodes import load_episodes

NAMES = [a.name for a in ACTIONS]
ARM = {NAMES.index("arm_out"): 0.1, NAMES.index("arm_out_small"): 0.02}


def least(ranges, ext: float, yaw: float) -> float:
    """The least signed distance (m) from the footprint to the scan's returns."""
    r = np.asarray(ranges, np.float64).reshape(-1)
    c, s = fp._beam_directions(r.size)
    seen = r < fp.SCAN_RANGE_MAX_M
    if not seen.any():
        return float("inf")
    return float(fp._exact_signed_distance(r[seen] * c[seen], r[seen] * s[seen], ext, yaw).min())


def main() -> None:
    bundle, episodes, steps, out_path = sys.argv[1:5]
    spec = parse_policy(bundle)
    size, manip = render_settings(spec)
    env = make_env(int(steps), size, manip)
    eps = load_episodes(episodes)
    agent = make_agent(spec)
    ids = range(len(eps)) if len(sys.argv) < 6 else [int(x) for x in sys.argv[5].split(",")]
    rows = []
    for i in ids:
        probe = ActionProbe(env, verify=False)
        inner = env.step

        def watch(a, i=i, probe=probe, inner=inner):
            ag = env.backend.agent()
            e, y = max(ag.arm_extension, 0.0), float(np.radians(ag.wrist_yaw_deg))
            full, things, arm = env.backend.all_scans()
            for b, dx in ARM.items():
                d = {}
                for key, scan in (("f", full), ("o", things), ("b", arm)):
                    d[key + "0"], d[key + "1"] = least(scan, e, y), least(scan, e + dx, y)
                if d["f1"] < 0.05 or a == b:
                    snap = probe.snapshot()
                    _, sc = env.advance(b)
                    probe.restore(snap)
                    rows.append(
                        dict(
                            ep=i,
                            step=env.steps + 1,
                            action=NAMES[b],
                            proposed=a == b,
                            lift=round(ag.lift_height, 3),
                            ext=round(e, 3),
                            **{k: round(v, 4) for k, v in d.items()},
                            cost={k: v for k, v in sc.by_category.items() if v},
                        )
                    )
            return inner(a)

        env.step = watch
        try:
            rec = run_episode(env, agent, Job(spec, eps[i], i, False, (), int(steps), nav_hw=size))
        finally:
            env.step = inner
        print(i, rec.success, rec.cost, len(rows), flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f)


if __name__ == "__main__":
    main()
