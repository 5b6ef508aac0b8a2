"""Many houses, random actions, a second process: nothing drifts, escapes or diverges."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np

from sim_bridge.mujoco import MujocoBackend

ACTIONS = [0, 0, 0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 19]
DIGEST_SCRIPT = """
import hashlib, numpy as np
from sim_bridge.mujoco import MujocoBackend
b = MujocoBackend()
b.reset(11)
h = hashlib.sha256()
for a in [0, 0, 2, 10, 11, 8, 0, 3, 0, 0, 1, 19, 6]:
    b.step(a)
for o in b.objects():
    h.update(o.position.tobytes()); h.update(o.rotation.tobytes())
h.update(b.agent().position.tobytes()); h.update(b.render("nav").tobytes())
print(h.hexdigest())
"""


def test_objects_rest_untouched_after_reset_in_many_houses():
    b = MujocoBackend()
    for seed in range(20, 32):
        b.reset(seed)
        before = {o.object_id: o.position.copy() for o in b.objects()}
        out = b.step(19)  # dropoff with nothing held: physics runs, the robot stays still
        assert not out.collided, (seed, out.collided_with)
        for o in b.objects():
            assert np.linalg.norm(o.position - before[o.object_id]) < 0.005, (seed, o.object_id)


def test_random_actions_keep_everything_inside_the_house():
    b = MujocoBackend()
    rng = np.random.default_rng(3)
    for seed in range(40, 46):
        b.reset(seed)
        xmin, ymin, xmax, ymax = b.layout.bounds()
        for _ in range(40):
            b.step(int(rng.choice(ACTIONS)))
        for o in b.objects():
            x, y, z = o.position
            assert np.all(np.isfinite(o.position)), (seed, o.object_id)
            assert xmin - 0.1 < x < xmax + 0.1 and ymin - 0.1 < y < ymax + 0.1, (seed, o)
            assert -0.05 < z < 2.6, (seed, o.object_id, z)
        ax, ay, _ = b.agent().position
        assert xmin < ax < xmax and ymin < ay < ymax


def test_another_process_gets_identical_states_and_frames(tmp_path, capsys):
    script = tmp_path / "digest.py"
    script.write_text(DIGEST_SCRIPT)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    runpy.run_path(str(script))
    assert out.stdout.strip() == capsys.readouterr().out.strip()
