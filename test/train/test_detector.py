"""The target detector (``safevla train detector``, ``model.detector``): labelled frames from the
real simulator, a trained file that is checked before use, a policy that reads the detector's
logits as its seen head, keeps them frozen, resumes without the file and exports with parity."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from tiny_model import demo_fields, export_and_step

from safevla_train.bc import Demo, bc_loss, frame_features, sample_batch
from safevla_train.checkpoint import model_from_checkpoint
from safevla_train.config import BCConfig, EnvSettings, ModelConfig
from safevla_train.detector import (
    DetectorConfig,
    auroc,
    average_precision,
    collect_frames,
    detection_metrics,
)
from safevla_train.detector_model import (
    DetectorEncoder,
    DetectorError,
    TargetDetector,
    detector_payload,
    load_detector_file,
)
from safevla_train.model import VLAPolicy
from sim_bridge.tasks.objnav import OBJNAV_TARGETS, SEEN_DIM

TINY = DetectorConfig(
    env=EnvSettings(num_envs=1, nav_size=(64, 64)),
    train_frames=40,
    test_frames=30,
    epochs=1,
    batch_size=8,
    episode_max_steps=20,
)
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _policy_cfg(path) -> ModelConfig:
    return ModelConfig(
        encoder="efficientnet_lite0",
        seen_head=True,
        target_readout=True,
        detector=str(path),
        d_model=32,
        num_heads=2,
        num_layers=1,
        context_length=4,
    )


@pytest.fixture(scope="module")
def detector_file(tmp_path_factory):
    """A detector file with known, random weights (no training needed to test the plumbing)."""
    torch.manual_seed(0)
    det = TargetDetector((64, 64))
    path = tmp_path_factory.mktemp("det") / "detector.pt"
    torch.save(detector_payload(det, MEAN, STD, {"note": "random"}), path)
    return path, det


def test_auroc_and_average_precision_by_hand():
    y = np.array([1, 0, 1, 0, 0], bool)
    assert auroc(y, np.array([0.9, 0.8, 0.7, 0.1, 0.0])) == pytest.approx(5 / 6)
    assert auroc(y, np.array([0.5, 0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)  # ties: half
    # ranked: + - + - -: precision 1/1 at the first positive, 2/3 at the second
    assert average_precision(y, np.array([0.9, 0.8, 0.7, 0.1, 0.0])) == pytest.approx(5 / 6)
    assert np.isnan(auroc(np.zeros(3, bool), np.arange(3.0)))
    assert np.isnan(average_precision(np.zeros(3, bool), np.arange(3.0)))


def test_metrics_read_the_instructed_type_column():
    n, types = 4, len(OBJNAV_TARGETS)
    seen = np.zeros((n, SEEN_DIM), bool)
    seen[0, 3] = seen[1, 5] = True  # 2 m: frame 0 sees type 3, frame 1 type 5
    target = np.array([3, 3, 5, 5])  # frame 0 is a goal state, frame 1 is not
    prob = np.zeros((n, SEEN_DIM))
    prob[0, 3], prob[1, 3] = 0.9, 0.8  # the instructed column ranks frame 0 first
    prob[1, 5] = 0.05  # type 5 is in view in frame 1 but scored low: all-types AP suffers
    m = detection_metrics(prob, seen, target)["2m"]
    assert m["positives_instructed"] == 1 and m["positives_all_types"] == 2
    assert m["auroc_instructed"] == pytest.approx(1.0)
    assert m["ap_instructed"] == pytest.approx(1.0)
    assert m["ap_all_types"] < 1.0
    assert types * 2 == SEEN_DIM


def test_collected_frames_carry_the_simulator_labels():
    data = collect_frames(TINY, 25, seed=3, log=lambda m: None)
    assert data["frames"].shape == (25, 64, 64, 3) and data["frames"].dtype == np.uint8
    assert data["seen"].shape == (25, SEEN_DIM) and data["seen"].dtype == bool
    assert ((data["target"] >= 0) & (data["target"] < len(OBJNAV_TARGETS))).all()
    assert (np.diff(data["episode"]) >= 0).all()  # one env: episodes follow each other
    # 2 m is inside 3.5 m: whatever is in view within 2 m is within 3.5 m too
    types = len(OBJNAV_TARGETS)
    assert (data["seen"][:, types:] | ~data["seen"][:, :types]).all()


def test_a_run_writes_a_usable_file_and_reuses_its_frames(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "safevla_ros.cli.main", "train", "detector", "--out", str(out)]
    sets = ["train_frames=40", "test_frames=30", "epochs=1", "batch_size=8"]
    sets += ["env.num_envs=1", "episode_max_steps=20"]
    for s in sets:
        cmd += ["--set", s]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_frames"] == 40 and metrics["test_frames"] == 30
    assert set(metrics["test"]) == {"2m", "3.5m"}
    payload = load_detector_file(out / "detector.pt", (64, 64), MEAN, STD)
    assert payload["metrics"]["train_frames"] == 40
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "reusing" in second.stdout and "frames/s" not in second.stdout


def test_a_bad_detector_file_is_refused_with_the_fix(detector_file, tmp_path):
    path, _ = detector_file
    with pytest.raises(DetectorError, match=r"no such file.*safevla train detector"):
        load_detector_file(tmp_path / "missing.pt", (64, 64), MEAN, STD)
    with pytest.raises(DetectorError, match="image_hw is \\[64, 64\\], the policy needs"):
        load_detector_file(path, (96, 96), MEAN, STD)
    with pytest.raises(DetectorError, match="image_mean"):
        load_detector_file(path, (64, 64), (0.4, 0.5, 0.5), STD)
    other = tmp_path / "other.pt"
    torch.save({"kind": "bc", "model": {}}, other)
    with pytest.raises(DetectorError, match="not a detector file"):
        load_detector_file(other, (64, 64), MEAN, STD)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(DetectorError, match="not a readable detector file"):
        load_detector_file(garbage, (64, 64), MEAN, STD)
    with pytest.raises(DetectorError, match="no such file"):  # a policy needs the file
        VLAPolicy(_policy_cfg(tmp_path / "missing.pt"))


def test_the_config_names_what_a_detector_needs(detector_file):
    path, _ = detector_file
    with pytest.raises(ValueError, match=r"model.detector=.*needs model.encoder=efficientnet"):
        ModelConfig(detector=str(path), seen_head=True, target_readout=True)
    with pytest.raises(ValueError, match="seen_detector=false"):
        ModelConfig(
            encoder="efficientnet_lite0",
            detector=str(path),
            seen_head=True,
            target_readout=True,
            seen_detector=True,
        )


def test_the_policy_reads_the_frozen_detector_as_its_seen_head(detector_file):
    path, det = detector_file
    model = VLAPolicy(_policy_cfg(path)).eval()
    assert isinstance(model.encoder, DetectorEncoder) and model.frozen_encoder
    assert model.seen_head is None and model.reads_seen
    assert model.feature_dim == 112 * 16 + SEEN_DIM
    img = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        feat = model.encoder(img)
        torch.testing.assert_close(model.seen_logits(feat), det(img))
        torch.testing.assert_close(feat[:, : 112 * 16], model.encoder.backbone(img))
    # training: the stage-1 loss moves the readout's type head, never the detector
    rng = np.random.default_rng(0)
    n = 6
    seen = rng.random((n, SEEN_DIM)) < 0.3
    demo = Demo(
        frames=rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8),
        **demo_fields(rng, n),
        goal=seen[:, 0].copy(),
        seen=seen,
        target_type=0,
    )
    cfg = BCConfig(model=model.cfg, batch_chunks=1, chunk_len=n)
    model.train()
    loss, logs = bc_loss(model, sample_batch([demo], cfg, np.random.default_rng(1)), cfg)
    loss.backward()
    assert "losses/readout" in logs and "losses/seen" not in logs
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.type_head.weight.grad is not None and model.type_head.weight.grad.abs().sum() > 0
    with torch.no_grad():  # cached features equal features computed from frames
        frames = torch.from_numpy(demo.frames)[None]
        feats = frame_features(model, frames)
        assert feats.shape == (1, n, model.feature_dim)


def test_a_checkpoint_restores_the_detector_without_its_file(detector_file, tmp_path):
    path, _ = detector_file
    copy = tmp_path / "detector.pt"
    copy.write_bytes(path.read_bytes())
    model = VLAPolicy(_policy_cfg(copy)).eval()
    with torch.no_grad():  # weights that the file does not have
        model.encoder.detector.head[-1].bias.add_(1.0)
    ckpt = {
        "model_config": json.loads(json.dumps(_as_dict(model.cfg))),
        "model": model.state_dict(),
    }
    copy.unlink()  # resume and export must not need the file again
    restored = model_from_checkpoint(ckpt).eval()
    img = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(restored.encoder(img), model.encoder(img))


def _as_dict(cfg: ModelConfig) -> dict:
    from safevla_train.config_io import to_dict

    return to_dict(cfg)


@pytest.mark.slow
def test_exports_into_the_bundle_graph_with_parity(detector_file, tmp_path):
    import dataclasses

    path, _ = detector_file
    torch.manual_seed(0)
    # with the `end` gate on: its comparison runs in the graph too
    model = VLAPolicy(dataclasses.replace(_policy_cfg(path), end_gate=0.3)).eval()
    with torch.no_grad():  # make the detector's readout matter to the output
        model.readout_proj.weight.mul_(50.0)
    export_and_step(model, tmp_path / "b", "detector-test", (96, 96))


@pytest.mark.slow
def test_dagger_resumes_and_refits_without_the_detector_file(detector_file, tmp_path):
    """A DAgger run with a detector: after its file is gone, a resume (with a fresh policy per
    round) continues, and the detector's weights stay the file's, frozen."""
    from safevla_train.checkpoint import load_checkpoint
    from safevla_train.config import DAggerConfig
    from safevla_train.dagger import run_dagger

    path, det = detector_file
    copy = tmp_path / "detector.pt"
    copy.write_bytes(path.read_bytes())

    def cfg(rounds: int) -> DAggerConfig:
        bc = BCConfig(
            model=_policy_cfg(copy),
            env=EnvSettings(num_envs=1, nav_size=(64, 64)),
            demo_steps=10,
            demo_max_steps=10,
            updates=2,
            batch_chunks=2,
            chunk_len=4,
            expert_mode="explorer",
        )
        return DAggerConfig(bc=bc, rounds=rounds, eval_episodes=0, fresh_model=True)

    run_dagger(cfg(1), tmp_path / "run", progress=False)
    copy.unlink()
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    run_dagger(cfg(2), tmp_path / "run", state, progress=False)
    final = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert len(final["history"]) == 2
    for k, v in det.state_dict().items():
        torch.testing.assert_close(final["model"][f"encoder.detector.{k}"], v, rtol=0, atol=0)


def test_the_shipped_detector_recognises_types_in_fresh_frames():
    """``models/objnav-detector`` on frames it never saw (another collection seed): it ranks
    frames where a type is in view within 3.5 m above the others."""
    from pathlib import Path

    from safevla_train.detector import predict

    path = Path(__file__).resolve().parents[2] / "models" / "objnav-detector" / "detector.pt"
    payload = load_detector_file(path, (64, 64), MEAN, STD)
    det = TargetDetector((64, 64))
    det.load_state_dict(payload["state"])
    cfg = DetectorConfig(env=EnvSettings(num_envs=1), episode_max_steps=60)
    data = collect_frames(cfg, 240, seed=99, log=lambda m: None)
    prob = predict(det, data["frames"], cfg.spec)
    types = len(OBJNAV_TARGETS)
    y, p = data["seen"][:, types:].ravel(), prob[:, types:].ravel()
    assert y.sum() >= 20  # enough positives to say
    assert auroc(y, p) > 0.9, auroc(y, p)
