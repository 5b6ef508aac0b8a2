"""ROS 2 message definitions as ``ros2msg`` schemas for MCAP files.

The schema of a type is its ``.msg`` text followed by the text of every type it uses, each
after a line of 80 ``=`` and ``MSG: pkg/msg/Type`` (the layout ``ros2 bag record`` writes).
The ``.msg`` files are read where a ROS install keeps them (``share/<pkg>/msg/`` under
``AMENT_PREFIX_PATH`` or this Python's prefix, where the PyPI ROS wheels and
``scripts/setup.sh`` put them) or, for this package's own messages, from ``msg/`` of the
source checkout. Nothing is copied here: the definitions have one home, the ``.msg`` files.
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

from safevla_core.recording import Schema

SEPARATOR = "=" * 80
_NUMBERS = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
PRIMITIVES = frozenset(("bool", "byte", "char", "float32", "float64", "string", "wstring"))
PRIMITIVES |= frozenset(_NUMBERS)
_SOURCE_MSG = Path(__file__).resolve().parents[1] / "msg"  # a source checkout's msg/


class DefinitionError(LookupError):
    """A message type whose ``.msg`` file cannot be found; names the places searched."""


def _prefixes() -> list[Path]:
    paths = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [Path(p) for p in [*paths, sys.prefix]]


@cache
def msg_text(type_name: str) -> str:
    """The ``.msg`` text of ``pkg/msg/Type`` (or ``pkg/Type``).

    Raises:
        DefinitionError: no such file under any prefix, naming the paths tried.
    """
    pkg, name = _split(type_name)
    tried = [p / "share" / pkg / "msg" / f"{name}.msg" for p in _prefixes()]
    if pkg == "safevla_ros":
        tried.append(_SOURCE_MSG / f"{name}.msg")
    for path in tried:
        if path.is_file():
            return path.read_text()
    raise DefinitionError(
        f"no definition of {type_name!r}; looked in {[str(p) for p in tried]}. Install the "
        "message package (e.g. `pip install ros-<pkg>` or the ROS distribution) or set "
        "AMENT_PREFIX_PATH"
    )


def _split(type_name: str) -> tuple[str, str]:
    parts = type_name.split("/")
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    raise DefinitionError(f"type {type_name!r} is not of the form pkg/msg/Type")


def field_types(text: str, package: str) -> list[str]:
    """The non-primitive types (``pkg/msg/Type``) used by the fields of a ``.msg`` text, in
    order, without repeats. Constants (``uint8 X=1``) and comments are skipped."""
    found: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if len(words) < 2 or "=" in words[1]:
            continue  # a constant
        base = re.sub(r"\[.*\]$", "", words[0])
        base = re.sub(r"<=\d+$", "", base)
        if base in PRIMITIVES:
            continue
        pkg, name = base.split("/", 1) if "/" in base else (package, base)
        full = f"{pkg}/msg/{name.split('/')[-1]}"
        if full not in found:
            found.append(full)
    return found


@cache
def schema(type_name: str) -> Schema:
    """The ros2msg schema of ``pkg/msg/Type``: its text, then each type it uses (depth first,
    each once).

    Raises:
        DefinitionError: a type (or one it uses) has no ``.msg`` file.
    """
    pkg, name = _split(type_name)
    root = f"{pkg}/msg/{name}"
    order: list[str] = []

    def visit(t: str) -> None:
        p, _ = _split(t)
        for dep in field_types(msg_text(t), p):
            if dep != root and dep not in order:
                order.append(dep)
                visit(dep)

    visit(root)
    parts = [msg_text(root).rstrip("\n")]
    parts += [f"{SEPARATOR}\nMSG: {t}\n{msg_text(t).rstrip(chr(10))}" for t in order]
    return Schema(root, "\n".join(parts) + "\n")


def type_name_of(msg_class) -> str:
    """``pkg/msg/Type`` of a generated rclpy message class."""
    module = msg_class.__module__.split(".")
    return f"{module[0]}/msg/{msg_class.__name__}"
