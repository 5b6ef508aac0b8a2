"""Output paths of the ``safevla`` commands, checked before a run starts.

A run that can only write its results at the end loses all of them when the path turns out to
be unwritable. Every command checks each output (``--json``, ``--report``, ``--out``, episode
sets) with these helpers first, by really creating and removing a probe file where the output
will go (permission bits alone say nothing for root or on a read-only mount), and stops with
a one-line :class:`~safevla_core.errors.UserError` (exit 2) naming the option and the path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from safevla_core.errors import UserError


def _probe_dir(folder: Path, option: str, shown: Path) -> None:
    """Create ``folder`` (and its parents) if needed and write a probe file into it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".safevla-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(
            f"{option} {shown}: cannot write into {folder} ({reason}); pick a writable path"
        ) from None


def check_output_file(path: str | os.PathLike | None, option: str) -> Path | None:
    """Check that the file ``path`` can be written (its folder is created if missing).

    Args:
        path: the output file; None (option not given) passes.
        option: the option's name for the message, e.g. ``--json``.

    Raises:
        UserError: the path is a folder, an existing file that cannot be written, or its
            folder cannot be created or written.
    """
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{option} {p} is a folder; give a file name, e.g. {p / 'results.json'}")
    _probe_dir(p.parent if str(p.parent) else Path("."), option, p)
    if p.exists() and not os.access(p, os.W_OK):
        raise UserError(f"{option} {p} exists and is not writable; pick another path")
    return p


def check_output_dir(path: str | os.PathLike | None, option: str) -> Path | None:
    """Check that the folder ``path`` can be created and written into.

    Raises:
        UserError: the path is an existing file, or the folder cannot be created or written.
    """
    if path is None:
        return None
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{option} {p} is a file, not a folder; pick a folder path")
    _probe_dir(p, option, p)
    return p
