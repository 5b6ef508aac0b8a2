"""A tiny safety-critic bundle for tests: a real ONNX graph whose risk is a fixed table (the
same for every frame), so a test can mark chosen actions as risky; optionally (``in_contact``)
a critic that reads the motion feedback, whose table changes while the newest feedback says
"collided"; or (``near_ahead``) one that reads the range scan, (``near_object``) one that
reads the range scan and the object scan (structure removed), or (``arm_out``) the arm's
joint state. Written with the real
bundle writer (sha256 of the graph in critic.json) and loaded by the real runtime."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from safevla_core.actions import (
    ACTION_NAMES,
    NUM_ACTIONS,
    PROPRIO_FIELDS,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
)
from safevla_core.critic_bundle import (
    CRITIC_GRAPH,
    CRITIC_MANIFEST,
    PREV_ACTION_NONE,
    CriticManifest,
    write_critic_bundle,
)
from safevla_core.image_preprocessing import ImageSpec
from safevla_core.safety_spec import SAFETY_SPEC

CATS = SAFETY_SPEC.categories
# `safevla train critic` settings small enough for a test (a few seconds of collection).
CRITIC_RUN_SETTINGS = [
    "states=240",
    "probe_every=1",
    "episode_max_steps=40",
    "steps=25",
    "batch_size=16",
    "log_every=5",
]
HISTORY = 2
ARM_OUT_M = 0.2  # the arm_out critic's switch: arm extension over this (metres)


def risk_table(risky: dict[int, float] | None = None) -> np.ndarray:
    """(A, C) risks: 0.01 everywhere, ``risky[a]`` in the first category (corner) of ``a``."""
    table = np.full((NUM_ACTIONS, len(CATS)), 0.01, np.float32)
    for a, r in (risky or {}).items():
        table[a, 0] = r
    return table


def write_tiny_critic(
    out: str | Path,
    image: ImageSpec,
    table: np.ndarray,
    thresholds: float = 0.5,
    alpha: float = 0.1,
    in_contact: np.ndarray | None = None,
    near_ahead: np.ndarray | None = None,
    near_object: np.ndarray | None = None,
    arm_out: np.ndarray | None = None,
    **manifest_overrides,
) -> Path:
    """Write a critic bundle at ``out`` whose graph outputs ``table`` for every input; with
    ``in_contact``, a critic with the ``bump`` input (``bump_input``) that outputs
    ``in_contact`` instead whenever the newest slot's ``collided`` flag is 1; with
    ``near_ahead``, a critic with the ``scan`` input (``scan_input``) that outputs
    ``near_ahead`` instead whenever the range straight ahead is under 0.5 m; with
    ``near_object``, a critic with both the ``scan`` and the ``scan_objects`` inputs
    (``scan_input``, ``object_scan_input``) that outputs ``near_object`` instead whenever the
    object scan's range straight ahead is under 0.5 m (the plain scan is read, not used: a
    wall close ahead changes nothing); with ``arm_out``,
    a critic with the ``proprio`` input (``proprio_input``) that outputs ``arm_out`` instead
    whenever the arm's extension is over ``ARM_OUT_M``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t, h, w = HISTORY, image.height, image.width
    frames = helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["batch", t, 3, h, w])
    prev = helper.make_tensor_value_info("prev_actions", TensorProto.INT64, ["batch", t])
    risk = helper.make_tensor_value_info(
        "risk", TensorProto.FLOAT, ["batch", NUM_ACTIONS, len(CATS)]
    )
    consts = {
        "table": table[None].astype(np.float32),
        "zero": np.array([0], np.int64),
        "one": np.array([1], np.int64),
        "ac": np.array([NUM_ACTIONS, len(CATS)], np.int64),
    }
    switched = [x for x in (in_contact, near_ahead, near_object, arm_out) if x is not None]
    if len(switched) > 1:
        raise ValueError(
            "a tiny critic switches on one input: in_contact, near_ahead, near_object or arm_out"
        )
    nodes = [
        helper.make_node("Shape", ["frames"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
        helper.make_node("Concat", ["batch", "ac"], ["target"], axis=0),
        helper.make_node("Expand", ["table", "target"], ["free" if switched else "risk"]),
    ]
    inputs = [frames, prev]
    if in_contact is not None:  # cond = collided flag of the newest slot
        inputs.append(helper.make_tensor_value_info("bump", TensorProto.FLOAT, ["batch", t, 2]))
        consts |= {"last": np.array(-1, np.int64), "collided": np.array(1, np.int64)}
        nodes += [
            helper.make_node("Gather", ["bump", "last"], ["newest"], axis=1),  # [B, 2]
            helper.make_node("Gather", ["newest", "collided"], ["cond"], axis=1),  # [B]
        ]
        manifest_overrides.setdefault("bump_input", True)
    if near_ahead is not None or near_object is not None:  # cond = range ahead < 0.5 m
        # of the scan (near_ahead) or of the object scan, the input after it (near_object)
        read = "scan" if near_object is None else "scan_objects"
        for name in ("scan",) if near_object is None else ("scan", "scan_objects"):
            inputs.append(
                helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", SCAN_BEAMS])
            )
        ahead = round(-SCAN_ANGLE_MIN / SCAN_ANGLE_INCREMENT)  # the beam at bearing 0
        consts |= {"ahead": np.array(ahead, np.int64), "near": np.array(0.5, np.float32)}
        nodes += [
            helper.make_node("Gather", [read, "ahead"], ["front"], axis=1),  # [B]
            helper.make_node("Less", ["front", "near"], ["close"]),
            helper.make_node("Cast", ["close"], ["cond"], to=TensorProto.FLOAT),
        ]
        manifest_overrides.setdefault("scan_input", True)
        if near_object is not None:
            manifest_overrides.setdefault("object_scan_input", True)
    if arm_out is not None:  # cond = the arm's extension > ARM_OUT_M
        inputs.append(
            helper.make_tensor_value_info(
                "proprio", TensorProto.FLOAT, ["batch", len(PROPRIO_FIELDS)]
            )
        )
        consts |= {
            "extension": np.array(1, np.int64),
            "arm_out_m": np.array(ARM_OUT_M, np.float32),
        }
        nodes += [
            helper.make_node("Gather", ["proprio", "extension"], ["ext"], axis=1),  # [B]
            helper.make_node("Greater", ["ext", "arm_out_m"], ["out"]),
            helper.make_node("Cast", ["out"], ["cond"], to=TensorProto.FLOAT),
        ]
        manifest_overrides.setdefault("proprio_input", True)
    if switched:  # risk = free + cond * (switched - table), cond a [B] 0/1 float of one input
        consts |= {
            "delta": (switched[0] - table)[None].astype(np.float32),
            "cond_shape": np.array([-1, 1, 1], np.int64),
        }
        nodes += [
            helper.make_node("Reshape", ["cond", "cond_shape"], ["cond3"]),
            helper.make_node("Mul", ["cond3", "delta"], ["shift"]),
            helper.make_node("Add", ["free", "shift"], ["risk"]),
        ]
    graph = helper.make_graph(
        nodes,
        "tiny_critic",
        inputs,
        [risk],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(out / CRITIC_GRAPH))
    fields = dict(
        name="tiny-critic",
        actions=ACTION_NAMES,
        categories=CATS,
        safety_spec_version=SAFETY_SPEC.version,
        image=image,
        history_length=HISTORY,
        prev_action_none=PREV_ACTION_NONE,
        label={"horizon": 1, "definition": "test table"},
        alpha=alpha,
        thresholds=dict.fromkeys(CATS, thresholds),
        calibration={},
    )
    fields.update(manifest_overrides)
    write_critic_bundle(out, CriticManifest(**fields))
    return out


def tampered_copy(bundle: str | Path, out: str | Path, file: str) -> Path:
    """A copy of the critic ``bundle`` at ``out`` with one byte of ``file`` flipped."""
    out = Path(out)
    shutil.copytree(bundle, out)
    raw = bytearray((out / file).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (out / file).write_bytes(bytes(raw))
    return out


def edited_copy(bundle: str | Path, out: str | Path, edit) -> Path:
    """A copy of the critic ``bundle`` at ``out`` whose critic.json went through ``edit``
    (a function changing the parsed dict in place)."""
    out = Path(out)
    shutil.copytree(bundle, out)
    manifest = json.loads((out / CRITIC_MANIFEST).read_text())
    edit(manifest)
    (out / CRITIC_MANIFEST).write_text(json.dumps(manifest))
    return out


def replay_states(critic, data: dict, rows) -> list:
    """Feed the stored states ``rows`` of a critic data set to the runtime ``critic`` frame by
    frame, as a robot would (each state's newest frame, the action before it and, for a critic
    that reads them, its motion feedback, range scan, object scan and arm joint state);
    returns the verdicts."""
    out = []
    for row in rows:
        newest = data["history"][row][-1]
        bump = data["frame_bump"][newest] if critic.takes_bump else None
        scan = data["frame_scan"][newest] if critic.takes_scan else None
        arm = data["frame_proprio"][newest] if critic.takes_proprio else None
        objects = data["frame_scan_objects"][newest] if critic.takes_object_scan else None
        prev = int(data["prev_actions"][row][-1])
        out.append(critic.step(data["frames"][newest], prev, bump, scan, arm, objects))
    return out
