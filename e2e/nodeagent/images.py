"""The images the node agent can "pull": a table mapping image references to local programs.

The agent runs containers as local processes, so an image is only a description of how to start
one: its entrypoint and cmd (as in an OCI image config), the directories its PATH searches and
its working directory. ``which`` resolves a program on such a PATH the way a container runtime
does.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT_REPOSITORY = "ghcr.io/nimbus-cloud/nimbus"
_PROJECT_ALIAS = "nimbus"

_SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

# Same grammar as the distribution reference library.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class ImageEntry:
    """How to start a container of one image repository as a local process."""

    repository: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    path: tuple[str, ...]  # directories, searched in order
    working_dir: str
    description: str
    content: tuple[str, ...] = ()
    """Host directories that are the image's files: bound read-only at their own paths after
    the pod's volumes, so that a volume (an emptyDir at /tmp) cannot hide them."""


def _project_path() -> tuple[str, ...]:
    # Not resolved: the venv's python is a symlink to the system one, and resolving it would
    # lose the venv's bin directory (where nimbus-storage is installed).
    venv_bin = str(Path(sys.executable).parent)
    return tuple(dict.fromkeys((venv_bin, *_SYSTEM_PATH)))


def _project_content() -> tuple[str, ...]:
    """The checkout (its sources, installed in editable mode) and the virtualenv."""
    checkout = Path(__file__).resolve().parents[2]
    venv = Path(sys.prefix)
    inside = venv == checkout or checkout in venv.parents
    return (str(checkout),) if inside else (str(checkout), str(venv))


IMAGES: tuple[ImageEntry, ...] = (
    ImageEntry(
        repository=PROJECT_REPOSITORY,
        entrypoint=(),
        cmd=("nimbus-storage", "--help"),
        path=_project_path(),
        working_dir="/",
        description="the Nimbus image: the project's console scripts from the running virtualenv",
        content=_project_content(),
    ),
)

_ALIASES = {_PROJECT_ALIAS: PROJECT_REPOSITORY}


def lookup(image: str) -> ImageEntry | None:
    """The entry for an image reference (``repo``, ``repo:tag``, ``repo@sha256:...``), or None."""
    name, has_digest, digest = image.partition("@")
    if has_digest and not _DIGEST.fullmatch(digest):
        return None
    tag_separator = name.rfind(":")
    # A colon before the last slash belongs to a registry host:port, not to a tag.
    if tag_separator > name.rfind("/"):
        name, tag = name[:tag_separator], name[tag_separator + 1 :]
        if not _TAG.fullmatch(tag):
            return None
    repository = _ALIASES.get(name, name)
    return next((entry for entry in IMAGES if entry.repository == repository), None)


def which(
    program: str, path: Sequence[str], root: Path = Path("/"), *, working_dir: str = "/"
) -> str | None:
    """Where ``program`` resolves inside a container whose filesystem is ``root``, or None.

    A program with a slash is taken as a path (relative ones from ``working_dir``) and returned
    unchanged if it is executable; otherwise the first executable ``dir/program`` on ``path``
    is returned, as seen inside the container.
    """
    if not program:
        return None
    if "/" in program:
        container_path = posixpath.join(working_dir, program)
        return program if _is_executable_file(root, container_path) else None
    for directory in path:
        candidate = posixpath.join(working_dir, directory, program)
        if _is_executable_file(root, candidate):
            return candidate
    return None


def image_path_env(entry: ImageEntry) -> str:
    """The PATH a container of this image starts with (unless the pod sets its own)."""
    return ":".join(entry.path)


def _is_executable_file(root: Path, container_path: str) -> bool:
    # Joined, never resolved, so symlinks (like the venv's python) are followed only by the OS.
    host_path = os.path.join(root, container_path.lstrip("/"))
    return os.path.isfile(host_path) and os.access(host_path, os.X_OK)
