"""Finding a runnable AI2-THOR Unity build before starting a controller.

``ai2thor.controller.Controller`` downloads its Unity build on start; offline (or without a GPU /
X server) it fails deep inside. :func:`locate_build` checks up front and raises
:class:`ThorUnavailableError` with what the user has to provide.
"""

from __future__ import annotations

import ctypes.util
import os
from dataclasses import dataclass
from pathlib import Path

from sim_bridge.backend import BackendUnavailableError

# The Stretch build Safety-CHORES / SPOC run on (benchmark constant STRETCH_COMMIT_ID).
STRETCH_COMMIT_ID = "966bd7758586e05d18f6181f459c0e90ba318bec"
DEFAULT_RELEASES_DIR = Path("~/.ai2thor/releases")
EXECUTABLE_ENV = "SAFEVLA_THOR_EXECUTABLE"

HOW_TO = f"""\
AI2-THOR needs a Unity build and a way to render:
  * a build: pass ThorConfig(local_executable_path="<path of the Unity player>")
    or set ${EXECUTABLE_ENV}, or let ai2thor download it once (online) into
    ~/.ai2thor/releases/thor-<platform>-<commit>/ (commit {STRETCH_COMMIT_ID} is the Stretch
    build of the benchmark: pip install --extra-index-url https://ai2thor-pypi.allenai.org
    ai2thor==0+{STRETCH_COMMIT_ID}, then run it once with network access);
  * rendering: a CloudRendering build (headless; an NVIDIA GPU with Vulkan, libvulkan1) or a
    Linux64 build with an X server on a GPU (DISPLAY set, e.g. :0).
Without them use the embedded MuJoCo backend (sim_bridge.mujoco)."""


class ThorUnavailableError(BackendUnavailableError):
    """No runnable AI2-THOR build here; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class ThorBuild:
    """A located build.

    Attributes:
        executable: path of the Unity player.
        platform: "CloudRendering" or "Linux64" (or "OSXIntel64").
        commit_id: the build's commit, or None for an explicit executable.
    """

    executable: Path
    platform: str
    commit_id: str | None


def _platform_of(name: str) -> str:
    for plat in ("CloudRendering", "Linux64", "OSXIntel64"):
        if plat in name:
            return plat
    return "Linux64"


def _explicit(path: Path) -> ThorBuild:
    if not path.is_file():
        raise ThorUnavailableError(f"THOR executable {str(path)!r} does not exist.\n{HOW_TO}")
    if not os.access(path, os.X_OK):
        raise ThorUnavailableError(
            f"THOR executable {str(path)!r} is not executable (chmod +x it).\n{HOW_TO}"
        )
    # ai2thor runs an explicit executable as an X11 (Linux64) player, whatever its name.
    return ThorBuild(path, "Linux64", None)


def _from_releases(releases_dir: Path, commit_id: str | None) -> list[ThorBuild]:
    if not releases_dir.is_dir():
        return []
    found = []
    for d in sorted(releases_dir.iterdir()):
        if not d.is_dir() or not d.name.startswith("thor-"):
            continue
        if commit_id and not d.name.endswith(commit_id):
            continue
        exe = d / d.name
        if exe.is_file() and os.access(exe, os.X_OK):
            found.append(ThorBuild(exe, _platform_of(d.name), d.name.rsplit("-", 1)[-1]))
    # Prefer headless CloudRendering builds.
    return sorted(found, key=lambda b: b.platform != "CloudRendering")


def check_renderer(build: ThorBuild) -> None:
    """CloudRendering needs the Vulkan loader; Linux64 needs an X display."""
    if build.platform == "CloudRendering" and ctypes.util.find_library("vulkan") is None:
        raise ThorUnavailableError(
            f"THOR build {str(build.executable)!r} renders with Vulkan, but libvulkan is not "
            f"installed (apt-get install libvulkan1; needs an NVIDIA GPU).\n{HOW_TO}"
        )
    if build.platform == "Linux64" and not os.environ.get("DISPLAY"):
        raise ThorUnavailableError(
            f"THOR build {str(build.executable)!r} is a Linux64 (X11) build but DISPLAY is not "
            f"set; start an X server on the GPU or use a CloudRendering build.\n{HOW_TO}"
        )


def locate_build(
    local_executable_path: str | Path | None = None,
    commit_id: str | None = STRETCH_COMMIT_ID,
    releases_dir: str | Path = DEFAULT_RELEASES_DIR,
) -> ThorBuild:
    """Find a THOR build: explicit path, then ``$SAFEVLA_THOR_EXECUTABLE``, then the releases dir.

    Raises:
        ThorUnavailableError: nothing runnable was found (the message lists the options).
    """
    explicit = local_executable_path or os.environ.get(EXECUTABLE_ENV)
    if explicit:
        build = _explicit(Path(explicit).expanduser())
    else:
        rdir = Path(releases_dir).expanduser()
        builds = _from_releases(rdir, commit_id)
        if not builds:
            want = f"commit {commit_id}" if commit_id else "any commit"
            raise ThorUnavailableError(
                f"no AI2-THOR build for {want} in {str(rdir)!r}, no local_executable_path and "
                f"no ${EXECUTABLE_ENV}.\n{HOW_TO}"
            )
        build = builds[0]
    check_renderer(build)
    return build
