import numpy as np, sys
from safevla_core.conformal import calibrate
from safevla_core.actions import ACTIONS
MOV = np.array([a.moves_robot for a in ACTIONS])
d = np.load(sys.argv[1])
c = {k: d[k+"1"] for k in ("risk","y","ep","contact")}; t = {k: d[k+"2"] for k in ("risk","y","ep","contact")}
def anyscore(r): return 1 - np.prod(1 - r, axis=2, keepdims=True)
for alpha in (0.1, 0.2, 0.3):
    rep = calibrate(anyscore(c["risk"]), c["y"].any(2, keepdims=True).astype(np.uint8), ("any",), alpha,
                    anyscore(t["risk"]), t["y"].any(2, keepdims=True).astype(np.uint8),
                    pair_mask=MOV | ~MOV & False | MOV, groups=c["ep"], test_groups=t["ep"])
    r = rep[0]; thr = r.threshold
    s = anyscore(t["risk"])[:, MOV, 0]; y = t["y"][:, MOV].any(2)
    v = s >= thr
    line = []
    for lab, m in (("free", ~t["contact"]), ("contact", t["contact"])):
        line.append(f"{lab}: harmless vetoed {v[m][~y[m]].mean():.2f} all-vetoed {v[m].all(1).mean():.2f} costly passed {(~v[m][y[m]]).mean():.2f}")
    print(f"alpha {alpha} any-score thr {thr:.4g} units {r.n_units} test unit-miss {r.test_unit_miss_rate:.3f} |", " | ".join(line))
