"""``safevla train critic``: the independent safety critic (collect, train, calibrate, export).

Registered under ``safevla train`` by :func:`safevla_ros.cli.train.add_parser`; the run itself
is :func:`safevla_train.critic_run.run_critic` (run folder layout in its docstring). Config:
:class:`safevla_train.critic_config.CriticConfig` defaults, then ``--config FILE.yaml``, then
``--set key=value`` (e.g. ``--set states=5000 --set alpha=0.05``). ``--sign-key KEY`` signs
the exported bundle (``critic.json.sig``, :mod:`safevla_core.signing`), as ``safevla export
--sign-key`` signs a policy bundle; the key is checked before anything is collected or trained.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from safevla_train.critic_config import CORNER_GUARD_CLEARANCE_M, CORNER_GUARD_MIN_FREE

CRITIC = "critic"
HELP = "the independent safety critic: probe-labelled data, training, conformal calibration"
GUARD = "corner-guard"
GUARD_HELP = (
    "add the corner guard to a critic bundle: the benchmark's corner predicate from the range "
    "scan, inside the critic graph (vetoes a base motion into anything where the scan's free "
    "floor within 1 m is small)"
)


def cmd_critic(args, resolve_config, write_run_files) -> int:
    """Collect (or reuse) probed states, train, calibrate and export the critic bundle."""
    from safevla_core.bundle import BundleError
    from safevla_core.conformal import CalibrationError
    from safevla_core.errors import UserError
    from safevla_core.signing import SigningError, load_private_key
    from safevla_train.critic_config import CriticConfig
    from safevla_train.critic_run import run_critic

    if args.sign_key:  # one line now, not after minutes of collection and training
        try:
            load_private_key(args.sign_key)
        except SigningError as exc:
            raise UserError(str(exc)) from None
    cfg = resolve_config(CriticConfig(), args)
    out = Path(args.out)
    write_run_files(out, cfg)
    log = (lambda msg: None) if args.no_progress else (lambda msg: print(msg, flush=True))
    try:
        metrics = run_critic(cfg, out, log, sign_key=args.sign_key or None)
    except (CalibrationError, BundleError) as exc:  # too few events; a bad policy_bundle
        raise UserError(str(exc)) from None
    print(json.dumps({k: v for k, v in metrics.items() if k != "calibration"}, indent=2))
    return 0


def cmd_corner_guard(args) -> int:
    """Write ``--out``: the critic ``--critic`` with the corner guard spliced into its graph."""
    from safevla_core.bundle import BundleError
    from safevla_core.errors import UserError
    from safevla_core.signing import SigningError, load_private_key
    from safevla_train.critic_guard import add_corner_guard

    if args.sign_key:
        try:
            load_private_key(args.sign_key)
        except SigningError as exc:
            raise UserError(str(exc)) from None
    try:
        add_corner_guard(
            args.critic,
            args.out,
            clearance_m=args.clearance,
            min_free=args.min_free,
            sign_key=args.sign_key or None,
        )
    except (BundleError, ValueError) as exc:
        raise UserError(str(exc)) from None
    return 0


def add_critic_parser(algos, common, resolve_config, write_run_files) -> None:
    """Add ``critic`` to the ``safevla train`` subcommands with the train command's own helpers
    (passed in, so this module does not import its parent back): ``common`` adds the shared
    options (``--out``, ``--config``, ``--set``, ``--no-progress``, ``--no-tensorboard``),
    ``resolve_config`` merges defaults, ``--config`` and ``--set``, ``write_run_files`` writes
    config.yaml and command.txt."""
    p = algos.add_parser(CRITIC, help=HELP, description=HELP + " (docs/safety_critic.md)")
    common(p)
    p.add_argument(
        "--sign-key",
        metavar="KEY",
        help="Ed25519 private key (PEM, from `safevla keygen`): write bundle/critic.json.sig; "
        "robots verify it with the public key (the safety monitor's verify_key, --verify-key "
        "of `safevla run` / `safevla eval`)",
    )
    p.set_defaults(
        func=functools.partial(
            cmd_critic, resolve_config=resolve_config, write_run_files=write_run_files
        )
    )
    desc = GUARD_HELP + " (docs/safety_critic.md)"
    g = algos.add_parser(GUARD, help=GUARD_HELP, description=desc)
    g.add_argument("--critic", required=True, help="critic bundle folder (reads the range scan)")
    g.add_argument("--out", required=True, help="bundle folder to write (replaced atomically)")
    g.add_argument(
        "--clearance",
        type=float,
        default=CORNER_GUARD_CLEARANCE_M,
        metavar="M",
        help="a floor point counts as free (the robot's centre can stand there) at least M from "
        f"every scan return (default {CORNER_GUARD_CLEARANCE_M})",
    )
    g.add_argument(
        "--min-free",
        type=float,
        default=CORNER_GUARD_MIN_FREE,
        metavar="N",
        help="guard where the scan's free floor within 1 m is below N benchmark points (0.15 m "
        "grid; the benchmark's corner is below 40 reachable points; default "
        f"{CORNER_GUARD_MIN_FREE:g})",
    )
    g.add_argument("--sign-key", metavar="KEY", help="Ed25519 private key: sign critic.json")
    g.set_defaults(func=cmd_corner_guard)
