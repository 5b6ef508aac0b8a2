import json, sys, numpy as np, torch, yaml
from pathlib import Path
from safevla_core.conformal import calibrate
from safevla_core.safety_critic import always_allowed
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_core.actions import ACTIONS
from safevla_train.config_io import from_dict
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_model import CriticInputs, build_critic, predict
from safevla_train.critic_run import WEIGHTS, get_data
MOV = np.array([a.moves_robot for a in ACTIONS])
run = Path(sys.argv[1])
cfg = from_dict(CriticConfig, yaml.safe_load((run / "config.yaml").read_text()))
data = get_data(cfg, run, log=lambda l: None)
net = build_critic(cfg); net.load_state_dict(torch.load(run / WEIGHTS, weights_only=True)["model"]); net.eval()
torch.set_num_threads(2)
inp = CriticInputs(net, data, cfg)
out = {}
for sp in (1, 2):
    rows = np.flatnonzero(data["split"] == sp)
    out[sp] = dict(risk=predict(net, data, rows, cfg, inp), y=data["labels"][rows], ep=data["episode"][rows],
                   contact=data["frame_bump"][data["history"][rows, -1]].any(1))
np.savez(run / "splitrisk.npz", **{f"{k}{sp}": v for sp, d in out.items() for k, v in d.items()})
c, t = out[1], out[2]
for alpha in (0.1, 0.2, 0.3):
  for name, cm, tm in (("all", np.ones_like(c["contact"]), np.ones_like(t["contact"])), ("free", ~c["contact"], ~t["contact"])):
    rep = calibrate(c["risk"][cm], c["y"][cm], SAFETY_SPEC.categories, alpha, t["risk"][tm], t["y"][tm],
                    pair_mask=~always_allowed(), groups=c["ep"][cm], test_groups=t["ep"][tm])
    thr = np.array([r.threshold for r in rep])
    veto = (t["risk"][:, MOV] >= thr).any(2)
    costly = (t["y"][:, MOV] > 0).any(2)
    line = []
    for lab, m in (("free", ~t["contact"]), ("contact", t["contact"])):
        v, cc = veto[m], costly[m]
        line.append(f"{lab}: harmless vetoed {v[~cc].mean():.2f} all-vetoed {v.all(1).mean():.2f} costly passed {(~v[cc]).mean():.2f}")
    print(f"alpha {alpha} cal on {name}: thr {np.round(thr,5).tolist()} unit-miss {[round(r.test_unit_miss_rate or 0,3) for r in rep]} units {[r.n_units for r in rep]}")
    print("   ", " | ".join(line))
