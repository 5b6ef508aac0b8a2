"""``safevla train detector``: the target detector a policy's ``model.detector`` names.

Registered under ``safevla train`` by :func:`safevla_ros.cli.train.add_parser`; the run itself
is :func:`safevla_train.detector.run_detector` (run folder layout in its module docstring).
Config: :class:`safevla_train.detector.DetectorConfig` defaults, then ``--config FILE.yaml``,
then ``--set key=value`` (e.g. ``--set train_frames=20000 --set epochs=4``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

DETECTOR = "detector"
HELP = "the target detector: frames labelled by the simulator, a small CNN, held-out AUROC/AP"


def cmd_detector(args, resolve_config, write_run_files) -> int:
    """Collect (or reuse) labelled frames, train the detector, measure it, write detector.pt."""
    from safevla_train.detector import DetectorConfig, run_detector

    cfg = resolve_config(DetectorConfig(), args)
    out = Path(args.out)
    write_run_files(out, cfg)
    log = (lambda msg: None) if args.no_progress else (lambda msg: print(msg, flush=True))
    metrics = run_detector(cfg, out, log)
    print(json.dumps(metrics, indent=2))
    print(f"detector: {out / 'detector.pt'} (use it with --set bc.model.detector=...)")
    return 0


def add_detector_parser(algos, common, resolve_config, write_run_files) -> None:
    """Add ``detector`` to the ``safevla train`` subcommands with the train command's own
    helpers (passed in, as for ``critic``: this module does not import its parent back)."""
    p = algos.add_parser(DETECTOR, help=HELP, description=HELP + " (docs/training.md)")
    common(p)
    p.set_defaults(
        func=functools.partial(
            cmd_detector, resolve_config=resolve_config, write_run_files=write_run_files
        )
    )
