"""The corner guard: the benchmark's corner predicate checked from the range scan, in the critic
graph.

The benchmark charges *corner* when a move collides while fewer than 40 reachable points of its
0.15 m grid lie within 1 m of the robot (``SAFETY_SPEC.corner_*``, docs/benchmark.md). Both
halves are geometry a 360-degree range scan shows: whether the motion runs into something (the
swept clearance of :class:`safevla_train.critic_footprint.SweptClearance` on the *full* scan,
walls included) and how much floor is around (the floor points within 1 m that the scan sees
and that keep the robot's clearance from every return: :class:`FreePoints`). A critic that
reads the object scan lets a motion into a wall pass (a wall strike costs nothing in open
space), and a wall strike in a narrow place is exactly the corner cost it then misses:
measured on the long tail (docs/safety_critic.md, twenty-seventh session).

The guard raises the corner risk of every base motion that strikes the full scan in a place
whose scan free area is below ``min_free`` points to 1: it only adds vetoes, so the conformal
guarantee of the critic's thresholds (a bound on the cost-causing actions that pass) still holds.
It is plain tensor arithmetic with two constants, so it exports inside the critic graph
(:func:`add_corner_guard` splices it into an exported one) and the monitor feeds nothing new.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from safevla_core.actions import (
    ACTIONS,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
    ActionKind,
)
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.critic_config import (
    CORNER_GUARD_CLEARANCE_M,
    CORNER_GUARD_MIN_FREE,
    STRIKE_CLEARANCE_M,
)
from safevla_train.critic_footprint import FAR_M, SweptClearance

GRID_M = 0.1  # spacing of the robot-centred grid of candidate floor points


def _grid() -> torch.Tensor:
    """(P, 2) robot-centred grid points within the corner radius (x forward, y left)."""
    r = SAFETY_SPEC.corner_radius_m
    n = round(r / GRID_M)
    g = torch.arange(-n, n + 1, dtype=torch.float64) * GRID_M
    xy = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 2)
    return xy[(xy * xy).sum(1) <= r * r + 1e-9].float()


class FreePoints(nn.Module):
    """[B, SCAN_BEAMS] ranges (m; +inf or >= the sensor's range = no return) -> [B] the
    reachable floor within the corner radius as the scan sees it, in benchmark grid points:
    the robot-centred grid points (``GRID_M``) that the scan sees (nearer than the return of
    their beam) and that lie at least ``clearance_m`` from every return (where the robot's
    centre can stand, as the simulator's free space keeps its clearance from what stands on
    the floor), times the cell area over the benchmark's. Line of sight only: floor behind a
    wall within 1 m, which the benchmark counts when the robot can get there, is not seen."""

    def __init__(self, clearance_m: float) -> None:
        super().__init__()
        self.clearance_m = float(clearance_m)
        p = _grid()
        bearing = torch.atan2(p[:, 1], p[:, 0])
        beam = torch.round((bearing - SCAN_ANGLE_MIN) / SCAN_ANGLE_INCREMENT).long() % SCAN_BEAMS
        self.register_buffer("px", p[:, 0], persistent=False)
        self.register_buffer("py", p[:, 1], persistent=False)
        self.register_buffer("dist", torch.sqrt((p * p).sum(1)), persistent=False)
        self.register_buffer("beam", beam, persistent=False)
        b = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * torch.arange(SCAN_BEAMS)
        self.register_buffer("cos_b", torch.cos(b).float(), persistent=False)
        self.register_buffer("sin_b", torch.sin(b).float(), persistent=False)
        self.scale = (GRID_M / SAFETY_SPEC.corner_grid_size_m) ** 2

    def forward(self, ranges: torch.Tensor) -> torch.Tensor:
        r = ranges.reshape(-1, SCAN_BEAMS)
        r = torch.where(r >= SCAN_RANGE_MAX_M, torch.full_like(r, FAR_M), r)
        sx = (r * self.cos_b)[:, None, :]  # [B, 1, N]
        sy = (r * self.sin_b)[:, None, :]
        dx = self.px[None, :, None] - sx  # [B, P, N]
        dy = self.py[None, :, None] - sy
        near = torch.sqrt(dx * dx + dy * dy).amin(dim=2)  # [B, P]
        seen = self.dist[None] < r[:, self.beam]
        ok = (near >= self.clearance_m) & seen
        return ok.to(r.dtype).sum(dim=1) * self.scale


def _base_mask() -> torch.Tensor:
    kinds = (ActionKind.BASE_TRANSLATE, ActionKind.BASE_ROTATE)
    return torch.tensor([a.kind in kinds for a in ACTIONS], dtype=torch.bool)


class CornerGuard(nn.Module):
    """``(scan [B, SCAN_BEAMS], risk [B, A, C]) -> risk``: the corner column raised to 1 for
    the base motions whose swept clearance in ``scan`` is at most ``STRIKE_CLEARANCE_M`` where
    :class:`FreePoints` (with ``clearance_m``) is below ``min_free``."""

    def __init__(
        self,
        clearance_m: float = CORNER_GUARD_CLEARANCE_M,
        min_free: float = CORNER_GUARD_MIN_FREE,
    ):
        super().__init__()
        if not (math.isfinite(clearance_m) and 0.0 <= clearance_m < SAFETY_SPEC.corner_radius_m):
            raise ValueError(
                f"corner guard clearance {clearance_m!r} m must lie in [0, "
                f"{SAFETY_SPEC.corner_radius_m}) (the corner radius)"
            )
        full = math.pi * SAFETY_SPEC.corner_radius_m**2 / SAFETY_SPEC.corner_grid_size_m**2
        if not (math.isfinite(min_free) and 0.0 < min_free <= full):
            raise ValueError(
                f"corner guard min_free {min_free!r} must lie in (0, {full:.0f}] (benchmark "
                "points in the corner radius)"
            )
        self.min_free = float(min_free)
        self.free = FreePoints(clearance_m)
        self.swept = SweptClearance()
        self.register_buffer("base", _base_mask(), persistent=False)
        col = torch.zeros(len(SAFETY_SPEC.categories))
        col[SAFETY_SPEC.categories.index("corner")] = 1.0
        self.register_buffer("corner_col", col, persistent=False)

    def hits(self, scan: torch.Tensor) -> torch.Tensor:
        """[B, A] bool: the motions the guard vetoes in these scans."""
        strike = self.swept(scan) <= STRIKE_CLEARANCE_M  # [B, A]
        narrow = self.free(scan) < self.min_free  # [B]
        return strike & narrow[:, None] & self.base[None]

    def forward(self, scan: torch.Tensor, risk: torch.Tensor) -> torch.Tensor:
        hit = self.hits(scan).to(risk.dtype)[:, :, None] * self.corner_col
        return torch.maximum(risk, hit)

    def record(self) -> dict:
        """What the manifest records (``corner_guard`` in critic.json)."""
        return {
            "clearance_m": self.free.clearance_m,
            "min_free_points": self.min_free,
            "strike_clearance_m": STRIKE_CLEARANCE_M,
            "radius_m": SAFETY_SPEC.corner_radius_m,
            "grid_m": GRID_M,
            "benchmark_grid_m": SAFETY_SPEC.corner_grid_size_m,
        }


def add_corner_guard(
    bundle: str | Path,
    out: str | Path,
    clearance_m: float = CORNER_GUARD_CLEARANCE_M,
    min_free: float = CORNER_GUARD_MIN_FREE,
    sign_key: str | Path | None = None,
    tolerance: float = 1e-5,
    log=print,
):
    """Write ``out``: the critic bundle ``bundle`` with a :class:`CornerGuard` after its risk
    output, in the same graph (the critic's risks feed the guard; the graph's inputs and output
    are unchanged), its manifest recording the guard (``corner_guard``) and the new hashes,
    signed with ``sign_key`` if given. The result is checked against the original graph
    followed by the guard in torch on random inputs and on the original's thresholds.

    Raises:
        safevla_core.critic_bundle.CriticBundleError: ``bundle`` is not a valid critic, does
            not read the range scan, or already has a guard.
        ValueError: a clearance or minimum outside its range.
    """
    import dataclasses
    import logging

    import onnx
    from onnx import compose, helper

    from safevla_core.critic_bundle import (
        CRITIC_OUTPUTS,
        CRITIC_RISK_BEFORE_GUARD,
        CRITIC_SCAN_INPUT,
        CriticBundleError,
        load_critic_bundle,
        sign_critic_bundle,
        write_critic_bundle,
    )
    from safevla_train.export import staged_dir
    from safevla_train.onnx_encoder import batch_onnx

    for noisy in ("onnxscript", "onnx_ir"):  # one INFO line per graph pass otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    guard = CornerGuard(clearance_m, min_free).eval()
    src, manifest, bid = load_critic_bundle(bundle)
    if not manifest.scan_input:
        raise CriticBundleError(
            f"{src}: critic {bid} does not read the range scan (scan_input false); the corner "
            "guard needs it: train one with critic.scan_input=true"
        )
    if manifest.corner_guard:
        raise CriticBundleError(
            f"{src}: critic {bid} already has a corner guard ({manifest.corner_guard}); add "
            "one to the critic without it"
        )
    critic = onnx.load(str(src / manifest.graph_file))
    (risk_name,) = CRITIC_OUTPUTS
    raw, scan_copy = CRITIC_RISK_BEFORE_GUARD, "critic/scan_for_guard"
    for node in critic.graph.node:  # the critic's risk becomes an inner tensor
        node.output[:] = [raw if o == risk_name else o for o in node.output]
        node.input[:] = [raw if i == risk_name else i for i in node.input]
    (out_vi,) = [o for o in critic.graph.output if o.name == risk_name]
    out_vi.name = raw
    critic.graph.node.append(helper.make_node("Identity", [CRITIC_SCAN_INPUT], [scan_copy]))
    scan_vi = next(i for i in critic.graph.input if i.name == CRITIC_SCAN_INPUT)
    copy_vi = onnx.ValueInfoProto()
    copy_vi.CopyFrom(scan_vi)
    copy_vi.name = scan_copy
    critic.graph.output.append(copy_vi)

    a, c = len(manifest.actions), len(manifest.categories)
    g = torch.Generator().manual_seed(3)
    example = (torch.rand(2, SCAN_BEAMS, generator=g) * 3, torch.rand(2, a, c, generator=g))
    prog = batch_onnx(guard, example, ("scan", "risk_in"), ("risk_out",))
    gm = compose.add_prefix(prog.model_proto, "corner_guard/")
    gm.ir_version = critic.ir_version
    final = "corner_guard/risk_out"
    merged = compose.merge_models(
        critic,
        gm,
        io_map=[(raw, "corner_guard/risk_in"), (scan_copy, "corner_guard/scan")],
        outputs=[final],
    )
    for node in merged.graph.node:  # the guarded risk, named as the contract names it
        node.output[:] = [risk_name if o == final else o for o in node.output]
    (out_vi,) = merged.graph.output
    out_vi.name = risk_name
    onnx.checker.check_model(merged)

    with staged_dir(out, ".critic-") as tmp:
        for name in manifest.files:
            if name != manifest.graph_file:
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes((src / name).read_bytes())
        onnx.save(merged, str(tmp / manifest.graph_file))
        diff, vetoes = _check_splice(src / manifest.graph_file, tmp / manifest.graph_file, guard)
        if not diff < tolerance:
            raise RuntimeError(f"the guarded critic graph differs by {diff} (>= {tolerance})")
        training = {**manifest.training, "corner_guard_parity_max_abs_diff": diff}
        new = dataclasses.replace(
            manifest,
            name=f"{manifest.name}+corner-guard",
            corner_guard=guard.record(),
            training=training,
        )
        write_critic_bundle(tmp, new)
        if sign_key is not None:
            sign_critic_bundle(tmp, sign_key)
    log(f"corner guard added: {out} (parity {diff:.1e}; {vetoes} guard vetoes in the check)")
    return new


def _check_splice(before: Path, after: Path, guard: CornerGuard) -> tuple[float, int]:
    """Max abs difference of ``after`` and ``before`` + the torch guard on random inputs that
    include narrow places, and how many motions the guard raised there."""
    import onnxruntime as ort

    from safevla_core.actions import SCAN_RANGE_MAX_M

    opts = ["CPUExecutionProvider"]
    s0 = ort.InferenceSession(str(before), providers=opts)
    s1 = ort.InferenceSession(str(after), providers=opts)
    rng = np.random.default_rng(5)
    feed = {}
    b = 16
    for t in s0.get_inputs():
        shape = [b if not isinstance(d, int) else d for d in t.shape]
        if t.type == "tensor(int64)":
            feed[t.name] = rng.integers(0, 20, shape).astype(np.int64)
        elif t.name.startswith("scan"):  # half the batch in a tight place
            r = rng.uniform(0.15, SCAN_RANGE_MAX_M, shape)
            r[: b // 2] = rng.uniform(0.17, 0.6, (b // 2, shape[1]))
            feed[t.name] = r.astype(np.float32)
        else:
            feed[t.name] = rng.standard_normal(shape).astype(np.float32)
    (r0,) = s0.run(None, feed)
    (r1,) = s1.run(None, feed)
    with torch.no_grad():
        want = guard(torch.from_numpy(feed["scan"]), torch.from_numpy(r0)).numpy()
    return float(np.abs(r1 - want).max()), int((r1 > r0).sum())
