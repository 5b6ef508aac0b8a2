"""PolicyRuntime (ONNX Runtime) against the torch model over whole episodes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
import torch

from safevla_core.bundle import BundleError, sha256_file
from safevla_core.image_preprocessing import preprocess_rgb
from safevla_core.instruction_encoder import InstructionEncoder
from safevla_core.policy_runtime import PolicyOutputError, PolicyRuntime, resolve_providers

INSTR = "find an apple"


@pytest.fixture(scope="module")
def encoder():
    return InstructionEncoder()


def test_instruction_encoder_is_semantic_and_cached(encoder):
    a = encoder.embed("find the apple")
    assert a is encoder.embed("find the apple")
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    near = float(a @ encoder.embed("could you locate an apple"))
    far = float(a @ encoder.embed("pick up the knife"))
    assert near > far + 0.2
    with pytest.raises(ValueError, match="non-empty string"):
        encoder.embed("  ")


def test_runtime_matches_torch_sequence(small_model, small_bundle, encoder):
    rt = PolicyRuntime(small_bundle[0], providers=["cuda", "cpu"], encoder=encoder)
    assert rt.provider == "CPUExecutionProvider"
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(7, 48, 40, 3), dtype=np.uint8)
    actions = rng.integers(0, 20, size=7)
    holding = [0, 0, 1, 1, 0, 1, 0]
    steps = []
    for t in range(7):
        prev = None if t == 0 else int(actions[t - 1])
        steps.append(rt.step(frames[t], INSTR, holding=bool(holding[t]), prev_action=prev))
    m = small_model
    img = torch.from_numpy(np.stack([preprocess_rgb(f, rt.bundle.image) for f in frames]))
    instr = torch.from_numpy(encoder.embed(INSTR).copy()).expand(7, -1)
    prev = torch.tensor([20, *actions[:-1].tolist()])
    with torch.no_grad():
        tok = m.fuse(m.encoder(img), instr, prev, torch.tensor(holding, dtype=torch.float32))
        seq = m.forward_sequence(tok[None], torch.zeros(1, 7, dtype=torch.long))
    for t, s in enumerate(steps):
        assert np.abs(s.logits - seq["logits"][0, t].numpy()).max() < 1e-4
        assert np.abs(s.cost_q - seq["cost_q"][0, t].numpy()).max() < 1e-4
        assert abs(s.value - float(seq["value"][0, t])) < 1e-4
        assert s.cost_q.shape == (20, 5) and abs(s.probs.sum() - 1) < 1e-5
    rt.reset()
    again = rt.step(frames[0], INSTR, holding=False)
    np.testing.assert_allclose(again.logits, steps[0].logits, atol=1e-6)


def test_bad_frames_and_nan_outputs(small_bundle, encoder):
    rt = PolicyRuntime(small_bundle[0], providers=["cpu"], encoder=encoder)
    with pytest.raises(ValueError, match="uint8"):
        rt.step(np.zeros((32, 32, 3), np.float32), INSTR)
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        rt.step(np.zeros((32, 32), np.uint8), INSTR)
    with pytest.raises(ValueError, match="out of range"):
        rt.record_action(20)
    rt._cache[:] = np.nan  # a corrupted history must never yield an action
    with pytest.raises(PolicyOutputError, match="NaN/Inf"):
        rt.step(np.zeros((32, 32, 3), np.uint8), INSTR)


def test_provider_resolution():
    assert resolve_providers(["tensorrt", "cuda"])[-1] == "CPUExecutionProvider"
    with pytest.raises(ValueError, match="unknown ONNX Runtime provider"):
        resolve_providers(["tpu"])


@pytest.fixture()
def bundle_copy(small_bundle, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(small_bundle[0], dst)
    return dst


def _edit_manifest(folder, edit) -> None:
    m = folder / "bundle.json"
    manifest = json.loads(m.read_text())
    edit(manifest)
    m.write_text(json.dumps(manifest))


def test_runtime_uses_the_encoder_the_manifest_names(bundle_copy, encoder):
    _edit_manifest(bundle_copy, lambda m: m["instruction_encoder"].update(name="other-encoder"))
    with pytest.raises(BundleError, match="needs the instruction encoder 'other-encoder'"):
        PolicyRuntime(bundle_copy, providers=["cpu"], encoder=encoder)


def test_runtime_loads_the_graph_the_manifest_names(bundle_copy, encoder):
    (bundle_copy / "policy.onnx").rename(bundle_copy / "renamed.onnx")

    def point_at_renamed(m):
        m["graph"]["file"] = "renamed.onnx"
        m["files"]["renamed.onnx"] = m["files"].pop("policy.onnx")

    _edit_manifest(bundle_copy, point_at_renamed)
    rt = PolicyRuntime(bundle_copy, providers=["cpu"], encoder=encoder)
    assert rt.bundle.policy_path.name == "renamed.onnx"
    assert rt.step(np.zeros((32, 32, 3), np.uint8), INSTR).cost_q.shape == (20, 5)


def test_graph_whose_io_differs_from_its_manifest_is_refused(bundle_copy, encoder):
    path = bundle_copy / "policy.onnx"
    graph = onnx.load(str(path))
    old = graph.graph.input[3].name  # "holding"
    for node in graph.graph.node:
        node.input[:] = ["hold" if n == old else n for n in node.input]
    graph.graph.input[3].name = "hold"
    onnx.save(graph, str(path))
    digest, size = sha256_file(path), path.stat().st_size
    _edit_manifest(
        bundle_copy, lambda m: m["files"]["policy.onnx"].update(sha256=digest, bytes=size)
    )
    with pytest.raises(BundleError, match=r"graph's inputs .*'hold'"):
        PolicyRuntime(bundle_copy, providers=["cpu"], encoder=encoder)


def test_a_graph_replaced_after_verification_is_refused(bundle_copy, encoder, monkeypatch):
    """ONNX Runtime gets the bytes that were hashed: a policy.onnx swapped between the bundle's
    verification and the session's start (a node restarted while a copy is under way) is
    refused, not run."""
    import safevla_core.policy_runtime as runtime

    real = runtime.load_bundle

    def verify_then_swap(path, verify_key=None):
        bundle = real(path, verify_key=verify_key)
        graph = bundle.policy_path
        raw = bytearray(graph.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        graph.write_bytes(bytes(raw))
        return bundle

    monkeypatch.setattr(runtime, "load_bundle", verify_then_swap)
    with pytest.raises(BundleError, match=r"policy\.onnx no longer matches"):
        PolicyRuntime(bundle_copy, providers=["cpu"], encoder=encoder)
