"""``safevla train critic``: collect -> train -> calibrate -> export, in one run folder.

Run folder (``--out``)::

    critic_data.npz    probed states (:mod:`safevla_train.critic_data`), written before training
    critic.pt          the trained weights + config (``torch.load(weights_only=True)``)
    calibration.json   the union ("any", with ``calibration_target=any``) and each category:
                       alpha, threshold, events, calibration and test miss / false-veto
                       rates (:mod:`safevla_core.conformal`)
    bundle/            the critic bundle (critic.onnx + critic.json, with a signing key also
                       critic.json.sig; :mod:`safevla_core.critic_bundle`); load it with
                       :class:`safevla_core.safety_critic.SafetyCritic`
    metrics.json       the run's scalars, with each held-out split's threshold-free quality
                       (``heldout/calibration``, ``heldout/test``: :func:`heldout_quality`)

Resuming: a second run with the same data settings (:meth:`CriticConfig.data_key`) reuses
``critic_data.npz`` instead of collecting again (collecting is the slow part), and with the same
whole config also reuses ``critic.pt``; calibration and export always run again (seconds).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import yaml

from safevla_core.actions import ACTION_NAMES, PROPRIO_FIELDS
from safevla_core.conformal import calibrate, calibrate_any
from safevla_core.footprint import BASE_MOTIONS, LIFT_MOTIONS, TELESCOPE_MOTIONS, clear_pass
from safevla_core.safety_critic import always_allowed
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config_io import from_dict, to_dict
from safevla_train.critic_config import CriticConfig
from safevla_train.critic_data import (
    DATA_FILE,
    SPLITS,
    collect,
    data_meta,
    load_data,
    merge_data,
    save_data,
)
from safevla_train.critic_model import (
    CriticInputs,
    build_critic,
    export_critic,
    predict,
    train_critic,
)
from safevla_train.critic_refit import RefitHead, split_episodes
from safevla_train.detector import auroc, average_precision

WEIGHTS = "critic.pt"
CALIBRATION = "calibration.json"
BUNDLE_DIR = "bundle"


def label_meaning(horizon: int) -> dict:
    """The label definition recorded in the bundle (see :mod:`sim_bridge.action_probe`)."""
    return {
        "horizon": horizon,
        "definition": "risk[a, k] estimates P(category k costs > 0 in some step of: action a, "
        f"then a repeated {horizon - 1} more times, from the current state)",
        "source": "exact simulator labels: every action tried from a snapshot of the state",
        "safety_spec_version": SAFETY_SPEC.version,
    }


def get_data(cfg: CriticConfig, out: Path, log=print) -> dict:
    """The run's data set (reused from ``out`` when its settings match, else collected), with
    the data sets of ``cfg.extra_data`` appended (:func:`merge_data`)."""
    data = _own_data(cfg, out, log)
    if not cfg.extra_data:
        return data
    parts = [data]
    for extra in cfg.extra_data:
        path = Path(extra)
        if path.is_dir():
            path = path / DATA_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"critic.extra_data: {path} is not a critic data set; give the critic_data.npz "
                "(or the run folder) of an earlier `safevla train critic` run"
            )
        part = load_data(path)
        if part["history"].shape[1] < cfg.history_length:
            raise ValueError(
                f"critic.extra_data: {path} holds a history of {part['history'].shape[1]} "
                f"frames, the critic needs {cfg.history_length}; collect it again with "
                f"history_length >= {cfg.history_length}"
            )
        log(f"data: adding {path} ({len(part['labels'])} states)")
        parts.append(with_history(part, cfg.history_length))
    return merge_data(parts)


def _own_data(cfg: CriticConfig, out: Path, log=print) -> dict:
    """The data set this run collects: reused from ``out`` when its settings match."""
    path = out / DATA_FILE
    if path.is_file():
        data = load_data(path)
        stored = data["history"].shape[1]
        # (files written before the history became reusable also list history_length)
        key = {k: v for k, v in data_meta(data)["config"].items() if k != "history_length"}
        if key == cfg.data_key() and stored >= cfg.history_length:
            log(f"data: reusing {path} ({len(data['labels'])} states, history {stored})")
            return with_history(data, cfg.history_length)
        log(f"data: {path} was collected with other settings; collecting again")
    data = collect(cfg, log)
    save_data(data, path)
    log(f"data: wrote {path}")
    n = data_meta(data).get("interrupted_at_states")
    if n:  # kept, not trained on: the run was asked to stop
        log(f"data: interrupted; train on these {n} states with --set states={n}")
        raise KeyboardInterrupt
    return data


def with_history(data: dict, length: int) -> dict:
    """``data`` with each state's history cut to its newest ``length`` slots."""
    if data["history"].shape[1] == length:
        return data
    cut = {k: data[k][:, -length:] for k in ("history", "prev_actions")}
    return {**data, **cut}


def calibration_table(reports) -> str:
    """The calibration reports as a markdown table (the CLI prints it, docs quote it)."""

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}%"

    lines = [
        "| category | alpha | unit | threshold | calib events (units) | test events (units) | "
        "test miss: pairs | test miss: mean per unit | test false veto |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        note = "" if r.sufficient or r.threshold > 0 else " (too few: veto all)"
        lines.append(
            f"| {r.category} | {r.alpha:g} | {r.unit} | {r.threshold:.3g}{note} | "
            f"{r.n_events} ({r.n_units}) | {r.test_events} ({r.test_units}) | "
            f"{pct(r.test_miss_rate)} | {pct(r.test_unit_miss_rate)} | "
            f"{pct(r.test_false_veto_rate)} |"
        )
    return "\n".join(lines)


def fit_refit(net, data, cal_rows, cfg, inputs, metrics, log) -> np.ndarray:
    """Attach and fit the refit (``critic.refit``) on half of the calibration episodes;
    returns the calibration rows of the other half, which calibrate the threshold."""
    fit = split_episodes(data["episode"][cal_rows], cfg.seed)
    rows = cal_rows[fit]
    net.refit = None  # the network's own risks to fit on
    risk = predict(net, data, rows, cfg, inputs)
    refit = RefitHead(net.extras.names)
    per_action = refit.fit(risk, data["labels"][rows], inputs.extras(rows))
    net.refit = refit
    eps = len(np.unique(data["episode"][rows]))
    log(
        f"refit: per-action model fitted on {len(rows)} calibration states ({eps} episodes); "
        f"the other {int((~fit).sum())} states calibrate"
    )
    metrics["refit"] = {"fit_states": len(rows), "fit_episodes": eps, "actions": per_action}
    return cal_rows[~fit]


def with_clear_pass(risk, data, rows, cfg, metrics, split, log) -> np.ndarray:
    """``critic.clear_pass_m``: ``risk`` of the states ``rows`` with the base motions that the
    runtime's clear pass lets through (:func:`safevla_core.footprint.clear_pass`, on each
    state's newest scan and arm extension) set to 0, in every state: the stored states do not
    say whether the gripper held something, so the calibration counts every costly motion the
    pass would let through, also those the runtime keeps (holding). Records how many it passed
    (with ``critic.clear_pass_arm``, the lift's and, where the data hold the arm scan, the
    telescoping arm's motions apart).

    Raises:
        ValueError: the data set lacks the arm's joint state (collected before it was stored).
    """
    if "frame_proprio" not in data:
        raise ValueError(
            "critic.clear_pass_m needs the arm's joint state of every stored frame "
            "('frame_proprio'), which this data set (or one of critic.extra_data) lacks: it "
            "was collected before that was recorded; collect it again"
        )
    newest = data["history"][rows, -1]
    ext = data["frame_proprio"][newest][:, PROPRIO_FIELDS.index("arm_extension")]
    arm_scan = data["frame_scan_arm"][newest] if "frame_scan_arm" in data else None
    passed = clear_pass(
        data["frame_scan"][newest],
        ext,
        cfg.clear_pass_m,
        arm=cfg.clear_pass_arm,
        arm_ranges=arm_scan,
    )
    if cfg.clear_pass_quiet:  # contact in the motion feedback of the last K frames
        slots = data["history"][rows, -cfg.clear_pass_quiet :]
        passed &= ~(data["frame_bump"][slots].max(axis=(1, 2)) > 0)[:, None]
    costly = data["labels"][rows].any(axis=2)
    base = int(BASE_MOTIONS.sum()) * len(rows)
    record = {
        "base_motions": base,
        "passed": int(passed[:, BASE_MOTIONS].sum()),
        "costly_base_motions": int(costly[:, BASE_MOTIONS].sum()),
        "costly_passed": int((passed & costly)[:, BASE_MOTIONS].sum()),
    }
    arm = ""
    if cfg.clear_pass_arm:
        parts = [("lift", LIFT_MOTIONS)]
        if arm_scan is not None:
            parts.append(("telescope", TELESCOPE_MOTIONS))
        else:
            record["telescope"] = "no arm scan in the data: left out of the pass"
        for name, mask in parts:
            record[f"{name}_motions"] = int(mask.sum()) * len(rows)
            record[f"{name}_passed"] = int(passed[:, mask].sum())
            record[f"costly_{name}_motions"] = int(costly[:, mask].sum())
            record[f"costly_{name}_passed"] = int((passed & costly)[:, mask].sum())
            arm += (
                f"; {record[f'{name}_passed']} of {record[f'{name}_motions']} {name} motions, "
                f"{record[f'costly_{name}_passed']} of {record[f'costly_{name}_motions']} "
                "costly ones"
            )
        if arm_scan is None:
            arm += "; the telescoping arm left out (no arm scan in the data)"
    metrics.setdefault("clear_pass", {})[split] = record
    log(
        f"clear pass ({cfg.clear_pass_m:g} m), {split} split: {record['passed']} of "
        f"{base} base motions passed, {record['costly_passed']} of "
        f"{record['costly_base_motions']} costly ones among them" + arm
    )
    return np.where(passed[:, :, None], np.float32(0.0), risk)


def split_risks(
    net, data: dict, rows: np.ndarray, cfg: CriticConfig, inputs, metrics: dict, split: str, log
) -> tuple[np.ndarray, np.ndarray]:
    """(the net's own risks, the risks the shield thresholds: after the clear pass where
    ``critic.clear_pass_m`` sets one) of the states ``rows``, each (len(rows), A, C)."""
    raw = predict(net, data, rows, cfg, inputs)
    if not cfg.clear_pass_m:
        return raw, raw
    return raw, with_clear_pass(raw, data, rows, cfg, metrics, split, log)


def load_run(out: str | Path, log=print, data: dict | None = None, inputs=None) -> tuple:
    """A finished run folder's (config, data, trained net, inputs), the net with its footprint
    floor fitted again as after training, for diagnostics that train nothing. ``data`` and
    ``inputs`` of another run on the same data may be passed to skip reading the data and
    encoding its frames again.

    Raises:
        FileNotFoundError: the folder has no ``config.yaml`` or ``critic.pt``.
        ValueError: the run refits its head on calibration states (``critic.refit``), which this
            does not repeat.
    """
    out = Path(out)
    cfg = from_dict(CriticConfig, yaml.safe_load((out / "config.yaml").read_text()))
    if cfg.refit:
        raise ValueError(f"{out}: critic.refit={cfg.refit!r} runs are not reloaded; rerun it")
    data = get_data(cfg, out, log) if data is None else data
    net = build_critic(cfg)
    inputs = inputs or CriticInputs(net, data, cfg, log)
    net.load_state_dict(torch.load(out / WEIGHTS, weights_only=True)["model"])
    net.eval()
    if cfg.footprint_floor:
        fit_floor(net, data, inputs, {}, log)
    return cfg, data, net, inputs


def heldout_quality(raw: np.ndarray, risk: np.ndarray, labels: np.ndarray) -> dict:
    """How well the critic separates costly from harmless actions on a held-out split, at no
    threshold: the mean binary cross-entropy of the net's own risks (``raw``, (N, A, C)) against
    the exact labels, and the AUROC / average precision of the score the shield thresholds
    (``risk``: max over categories, after any clear pass) for "this action causes some cost",
    over the moving pairs (never-costed actions left out). Lets two critics be compared before
    either is calibrated or run in the loop."""
    moving = ~always_allowed()
    y = labels[:, moving] > 0
    p = np.clip(raw[:, moving].astype(np.float64), 1e-6, 1 - 1e-6)
    bce = -np.mean(np.where(y, np.log(p), np.log1p(-p))) if y.size else float("nan")
    event, score = y.any(-1).ravel(), risk[:, moving].max(-1).ravel()
    return {
        "bce": float(bce),
        "auroc_any": auroc(event, score),
        "ap_any": average_precision(event, score),
        "pairs": int(event.size),
        "events": int(event.sum()),
    }


def fit_floor(net, data, inputs, metrics, log) -> None:
    """``critic.footprint_floor``: fit the floor of the motions that run into a scan point on
    the training split (after training: the floor is not a trained weight)."""
    rows = np.flatnonzero(data["split"] == 0)
    floor = net.extras.fit_floor(inputs.extras(rows), data["labels"][rows])
    cats = SAFETY_SPEC.categories
    table = {
        ACTION_NAMES[a]: {c: round(float(floor[a, k]), 4) for k, c in enumerate(cats)}
        for a in range(len(floor))
        if floor[a].any()
    }
    metrics["footprint_floor"] = table
    log(
        "footprint floor (event rate of motions that run into a scan point, training split): "
        + ", ".join(f"{n} {max(v.values()):.2f}" for n, v in table.items())
    )


def run_critic(
    cfg: CriticConfig, out: str | Path, log=print, sign_key: str | Path | None = None
) -> dict:
    """The whole run; returns the metrics written to ``metrics.json``. ``sign_key``: an
    Ed25519 private key (PEM) to sign the exported bundle's critic.json with
    (:func:`safevla_core.critic_bundle.sign_critic_bundle`); None = unsigned."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = get_data(cfg, out, log)
    counts = {s: int((data["split"] == i).sum()) for i, s in enumerate(SPLITS)}
    log(f"data: states per split {counts}")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net = build_critic(cfg)  # once: the frozen encoder's weights are read from disk
    inputs = CriticInputs(net, data, cfg, log)  # the frozen features do not train
    weights, metrics = out / WEIGHTS, {}
    saved = torch.load(weights, weights_only=True) if weights.is_file() else None
    train_key = json.dumps(cfg.train_key(), sort_keys=True)
    if saved is not None and saved.get("config") == train_key:
        net.load_state_dict(saved["model"])
        net.eval()
        log(f"train: reusing {weights} (same data and training settings)")
    else:
        metrics.update(train_critic(net, data, cfg, log, inputs))
        torch.save({"model": net.state_dict(), "config": train_key}, weights)
    cal_rows, test_rows = (np.flatnonzero(data["split"] == i) for i in (1, 2))
    if cfg.footprint_floor:
        fit_floor(net, data, inputs, metrics, log)
    if cfg.refit:
        cal_rows = fit_refit(net, data, cal_rows, cfg, inputs, metrics, log)
    by_episode = cfg.calibration_unit == "episode"
    union, reports = None, None
    risks = {}
    for split, rows_ in (("calibration", cal_rows), ("test", test_rows)):
        raw, risks[split] = split_risks(net, data, rows_, cfg, inputs, metrics, split, log)
        quality = heldout_quality(raw, risks[split], data["labels"][rows_])
        metrics[f"heldout/{split}"] = quality
        log(
            f"held-out {split}: bce {quality['bce']:.4f}, any-event AUROC "
            f"{quality['auroc_any']:.4f}, AP {quality['ap_any']:.4f} "
            f"({quality['events']} of {quality['pairs']} moving pairs cost)"
        )
    args = (
        risks["calibration"],
        data["labels"][cal_rows],
        SAFETY_SPEC.categories,
        cfg.alpha,
        risks["test"],
        data["labels"][test_rows],
    )
    kwargs = dict(
        pair_mask=~always_allowed(),
        on_too_few=cfg.on_too_few,
        groups=data["episode"][cal_rows] if by_episode else None,
        test_groups=data["episode"][test_rows] if by_episode else None,
    )
    if cfg.calibration_target == "any":
        union, reports = calibrate_any(*args, **kwargs)
    else:
        reports = calibrate(*args, **kwargs)
    rows = ([union] if union else []) + reports
    (out / CALIBRATION).write_text(json.dumps([r.to_dict() for r in rows], indent=2) + "\n")
    what = "one threshold on any event" if union else "per category"
    log(f"calibration (conformal risk control, {what}):\n" + calibration_table(rows))
    meta = data_meta(data)
    manifest = export_critic(
        net,
        out / BUNDLE_DIR,
        out.name,
        reports,
        label_meaning(cfg.horizon),
        union=union,
        training={"config": to_dict(cfg), "data": {**meta, "states_per_split": counts}},
        sign_key=sign_key,
        clear_pass_m=cfg.clear_pass_m,
        clear_pass_quiet=cfg.clear_pass_quiet,
        clear_pass_arm=cfg.clear_pass_arm,
    )
    log(f"export: wrote {out / BUNDLE_DIR}" + (" (signed)" if sign_key is not None else ""))
    metrics.update(
        {
            "data/states": len(data["labels"]),
            "data/episodes": int(meta["episodes"]),
            "data/label_rate_states_per_s": meta["label_rate_states_per_s"],
            **{f"data/{s}_states": n for s, n in counts.items()},
            "export/parity_max_abs_diff": manifest.training["export_parity_max_abs_diff"],
            "calibration": [r.to_dict() for r in rows],
        }
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
