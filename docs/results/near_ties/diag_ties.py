"""Where a DAgger learner disagrees with its explorer teacher: the teacher's steering
internals (the descent of each 30° heading) at each step the learner drives (beta 0.3),
tallied by kind of disagreement (docs/training.md, "Near-ties"). One core, ~2 min per 3,000
steps. From the repository root:

    MUJOCO_GL=egl .venv/bin/python docs/results/near_ties/diag_ties.py RUN STEPS [MODE]

RUN: a `safevla train dagger` run folder (e.g. runs/s14/plain, docs/results/escape/arm.sh);
MODE: the teacher (default: the run's own).
"""

import collections
import sys

import numpy as np

import sim_bridge.explorer as ex
import sim_bridge.vec_env as ve
from safevla_core.actions import ACTIONS
from safevla_train.bc import demo_settings
from safevla_train.checkpoint import load_checkpoint
from safevla_train.config import DAggerConfig, RiskConfig, from_dict
from safevla_train.model import VLAPolicy
from safevla_train.risk import make_envs
from safevla_train.rollout import Stepper
from sim_bridge.explorer_steer import TURN_DEG, heading_progress

LAST = [None]
orig = ex.steer_options


def wrapped(fs, field_, agent, cell, ratio, steady=False, right=False, fine_deg=6.0, band=0.0):
    out = orig(fs, field_, agent, cell, ratio, steady, right, fine_deg=fine_deg, band=band)
    here = float(field_[cell])
    pos, yaw = agent.position[:2], agent.yaw_deg
    prog = {k: heading_progress(fs, field_, pos, yaw + k * TURN_DEG, here) for k in range(-5, 7)}
    best = max(prog, key=lambda k: (prog[k], -abs(k), k))
    LAST[0] = dict(prog=prog, best=best, steady=steady, action=out[0])
    return out


ex.steer_options = wrapped
orig_labels = ve._AutoReset.labels
INFO = []


def labels(self, mode):
    LAST[0] = None
    out = orig_labels(self, mode)
    INFO.append(LAST[0] if LAST[0] is not None and LAST[0]["action"] == out[0] else None)
    return out


ve._AutoReset.labels = labels

run = sys.argv[1]
steps = int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else None
state = load_checkpoint(f"{run}/checkpoint.pt")
cfg = from_dict(DAggerConfig, state["dagger"])
bc = cfg.bc
bc.env.num_envs = 4
if mode:
    bc.expert_mode = mode
model = VLAPolicy(bc.model, detector_weights=False)
model.load_state_dict(state["model"])
model.eval()
venv, _ = make_envs(demo_settings(bc), RiskConfig(enabled=False), subprocess=False)
learner = Stepper(model, 4)
rng = np.random.default_rng(123)
obs, infos = venv.reset(seed=999)
rows = []
for _ in range(0, steps, 4):
    INFO.clear()
    proposed = learner.act(obs)
    lab = venv.expert_labels(bc.expert_mode)
    drives = rng.random(4) >= 0.3
    executed = np.where(drives, proposed, lab.actions)
    for k in range(4):
        if drives[k]:
            rows.append((int(lab.actions[k]), int(proposed[k]), bool(lab.goal[k]), INFO[k]))
    obs, r, c, term, trunc, infos = venv.step(executed)
    learner.episodes_ended(term | trunc)
n = len(rows)
agree = sum(a == p for a, p, g, i in rows)
print(f"learner steps {n}, strict agreement {agree / n:.3f}")
cat = collections.Counter()
for a, p, g, info in rows:
    A, P = ACTIONS[a].name, ACTIONS[p].name
    if a == p:
        cat[("agree", "steer" if info else "other")] += 1
        continue
    if g:
        cat[("disagree", "end would succeed")] += 1
        continue
    if info is None:
        cat[("disagree", f"not steering: teacher {A}, learner {P}")] += 1
        continue
    pr = info["prog"]
    b = info["best"]
    top = pr[b]
    r0 = pr[0] / top if top > 0 else float("nan")
    if A in ("rotate_left", "rotate_right") and P == "move_ahead":
        bucket = "<=0" if pr[0] <= 0 else f"{min(int(r0 * 10), 9) / 10:.1f}"
        why = f"teacher turn, learner ahead, |best| {abs(b)}, prog0/best {bucket}"
        cat[("disagree", why)] += 1
    elif A == "move_ahead" and P.startswith("rotate"):
        ratio = min(int(r0 * 10), 10) / 10
        cat[("disagree", f"teacher ahead, learner {P}, best {b}, prog0/best {ratio:.1f}")] += 1
    else:
        cat[("disagree", f"steer: teacher {A}, learner {P}, best {b}")] += 1
for k, v in sorted(cat.items(), key=lambda kv: -kv[1])[:45]:
    print(f"{v:5d} {v / n:.3f}", *k)
