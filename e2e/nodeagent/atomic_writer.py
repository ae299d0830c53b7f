"""The kubelet's AtomicWriter: (re)writes a volume's files so readers never see a partial update.

Layout of a target directory (pkg/volume/util/atomic_writer.go)::

    ..2026_12_06_10_31_05.123456/    the payload, one timestamped directory per version
    ..data -> ..2026_12_06_10_31_05.123456
    key -> ..data/key                 one symlink per top-level entry of the payload

An update writes a new timestamped directory and swaps ``..data`` to it with a rename, which
is atomic: a reader opening ``key`` resolves either the old version or the new one, whole.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

DATA_DIR_LINK = "..data"
_NEW_DATA_DIR_LINK = "..data_tmp"
_DATA_DIR_MODE = 0o755


def write_volume(target_dir: Path, files: Mapping[str, tuple[bytes, int]]) -> bool:
    """Make ``target_dir`` show exactly ``files`` (relative path -> (content, mode)).

    Returns False, writing nothing, when it already does. Raises ValueError for a path that is
    absolute, contains ``..`` or starts with the reserved ``..``.
    """
    payload = _clean_payload(files)
    target_dir.mkdir(parents=True, exist_ok=True)
    old_dir = _current_data_dir(target_dir)
    visible = _top_level_names(payload)
    if (
        old_dir is not None
        and _read_payload(old_dir) == payload
        and all(os.path.lexists(target_dir / name) for name in visible)
    ):
        return False

    timestamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    new_dir = Path(tempfile.mkdtemp(prefix=timestamp, dir=target_dir))
    try:
        new_dir.chmod(_DATA_DIR_MODE)
        _write_payload(new_dir, payload)
    except BaseException:
        shutil.rmtree(new_dir, ignore_errors=True)
        raise
    new_data_link = target_dir / _NEW_DATA_DIR_LINK
    new_data_link.unlink(missing_ok=True)  # left over by an interrupted write
    os.symlink(new_dir.name, new_data_link)
    os.rename(new_data_link, target_dir / DATA_DIR_LINK)

    for name in sorted(visible):
        if not os.path.lexists(target_dir / name):
            os.symlink(f"{DATA_DIR_LINK}/{name}", target_dir / name)
    previously_visible = (
        set(os.listdir(old_dir)) if old_dir is not None and old_dir.is_dir() else set()
    )
    for name in sorted(previously_visible - visible):
        if (target_dir / name).is_symlink():
            (target_dir / name).unlink()
    if old_dir is not None:
        shutil.rmtree(old_dir, ignore_errors=True)
    return True


def _current_data_dir(target_dir: Path) -> Path | None:
    """The directory ``..data`` points to, unless it is missing or not one of ours."""
    data_link = target_dir / DATA_DIR_LINK
    if not data_link.is_symlink():
        return None
    name = os.readlink(data_link)
    # Only a sibling "..<timestamp>" directory: never follow a link elsewhere (and delete it).
    if "/" in name or not name.startswith("..") or name in ("..", DATA_DIR_LINK):
        return None
    return target_dir / name


def _clean_payload(files: Mapping[str, tuple[bytes, int]]) -> dict[str, tuple[bytes, int]]:
    """The payload with normalised paths; ValueError for paths the kubelet would refuse."""
    payload: dict[str, tuple[bytes, int]] = {}
    for path, (content, mode) in files.items():
        if not path or path.startswith("/"):
            raise ValueError(f"invalid path {path!r}: must be a non-empty relative path")
        parts = path.split("/")
        if ".." in parts:
            raise ValueError(f"invalid path {path!r}: must not contain '..'")
        if parts[0].startswith(".."):
            raise ValueError(f"invalid path {path!r}: must not start with '..'")
        clean = posixpath.normpath(path)
        if clean == "." or clean in payload:
            raise ValueError(f"invalid path {path!r}: empty or duplicate after normalisation")
        payload[clean] = (bytes(content), stat.S_IMODE(mode))
    for path in payload:
        parent = posixpath.dirname(path)
        while parent:
            if parent in payload:
                raise ValueError(f"invalid path {path!r}: {parent!r} is also a file")
            parent = posixpath.dirname(parent)
    return payload


def _top_level_names(payload: Mapping[str, object]) -> set[str]:
    return {path.split("/", 1)[0] for path in payload}


def _read_payload(data_dir: Path) -> dict[str, tuple[bytes, int]] | None:
    """The files under ``data_dir`` as a payload; None if they cannot all be read."""
    if not data_dir.is_dir():
        return None
    payload: dict[str, tuple[bytes, int]] = {}
    try:
        for directory, _, names in os.walk(data_dir):
            for name in names:
                file = Path(directory, name)
                relative = file.relative_to(data_dir).as_posix()
                payload[relative] = (file.read_bytes(), stat.S_IMODE(file.lstat().st_mode))
    except OSError:
        return None
    return payload


def _write_payload(data_dir: Path, payload: Mapping[str, tuple[bytes, int]]) -> None:
    for relative, (content, mode) in payload.items():
        file = data_dir / relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content)
        # chmod after writing: the mode given to open() would be masked by the umask.
        file.chmod(mode)
