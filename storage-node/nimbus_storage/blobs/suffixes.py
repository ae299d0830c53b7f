"""Suffix hashes: a cheap summary of a partition for replicators to compare (Swift's hashes.pkl).

A partition dir holds up to 4096 suffix dirs (``<hash[-3:]>``). The hash of a suffix is the md5
of the sorted lines ``<hash>/<timestamp><ext>\\n`` over the ``.data`` and ``.ts`` files of its
hash dirs (``.meta`` sidecars follow their ``.data``; temp or foreign files are ignored). Two
nodes holding the same versions of the same blobs therefore agree on every suffix hash, and a
replicator only looks inside the suffixes whose hashes differ. A suffix without any such file
has no entry.

Hashes are cached per partition in ``<partition>/hashes.json``. Every write, delete or quarantine
appends the suffix it touched to ``<partition>/hashes.invalid``; reading the hashes folds those
lines in and recomputes just those suffixes. The append happens both before and after a write's
renames: before, so that a crash mid-write leaves the suffix marked; after, so that a hash
computed while the write was in flight is not kept. Callers serialise ``invalidate`` and
``read_hashes`` per partition (one process owns a device).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from nimbus_storage.blobs.layout import DATA_EXT, TOMBSTONE_EXT, parse_filename

HASHES_FILE = "hashes.json"
INVALID_FILE = "hashes.invalid"
_FORMAT = "nimbus-suffix-hashes"


def is_suffix(text: str) -> bool:
    return len(text) == 3 and all(c in "0123456789abcdef" for c in text)


def invalidate(partition_dir: Path, suffix: str) -> None:
    """Mark ``suffix`` as changed; ``partition_dir`` must exist."""
    fd = os.open(partition_dir / INVALID_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{suffix}\n".encode())
    finally:
        os.close(fd)


def hash_suffix(suffix_dir: Path) -> str | None:
    """md5 over the sorted ``<hash>/<file>`` names of the suffix; None when it holds nothing."""
    lines: list[str] = []
    for hash_entry in _scandir(suffix_dir):
        if not hash_entry.is_dir():
            continue
        for file_entry in _scandir(Path(hash_entry.path)):
            parsed = parse_filename(file_entry.name)
            if parsed is not None and parsed.ext in (DATA_EXT, TOMBSTONE_EXT):
                lines.append(f"{hash_entry.name}/{file_entry.name}\n")
    if not lines:
        return None
    md5 = hashlib.md5(usedforsecurity=False)
    for line in sorted(lines):
        md5.update(line.encode())
    return md5.hexdigest()


def read_hashes(partition_dir: Path, recalculate: list[str] | None = None) -> dict[str, str]:
    """The partition's ``{suffix: hash}``, recomputing invalidated and requested suffixes."""
    cached = _load(partition_dir)
    invalid_path = partition_dir / INVALID_FILE
    stale = set(recalculate or ())
    with contextlib.suppress(FileNotFoundError):
        stale.update(line for line in invalid_path.read_text().split() if is_suffix(line))
    if cached is None:  # never computed, or unreadable: every suffix
        cached = {}
        stale.update(e.name for e in _scandir(partition_dir) if e.is_dir() and is_suffix(e.name))
    for suffix in stale:
        digest = hash_suffix(partition_dir / suffix)
        if digest is None:
            cached.pop(suffix, None)
        else:
            cached[suffix] = digest
    if stale or not (partition_dir / HASHES_FILE).exists():
        _save(partition_dir, cached)
        # Only once the new hashes are in place: a crash before this recomputes them again.
        with contextlib.suppress(FileNotFoundError):
            invalid_path.unlink()
    return dict(sorted(cached.items()))


def _load(partition_dir: Path) -> dict[str, str] | None:
    try:
        doc = json.loads((partition_dir / HASHES_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        return None
    hashes = doc.get("hashes")
    if not isinstance(hashes, dict):
        return None
    return {str(k): str(v) for k, v in hashes.items()}


def _save(partition_dir: Path, hashes: dict[str, str]) -> None:
    if not partition_dir.is_dir():
        return  # an empty partition that was never written: nothing to cache
    tmp = partition_dir / f"{HASHES_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"format": _FORMAT, "version": 1, "hashes": hashes}))
    os.replace(tmp, partition_dir / HASHES_FILE)


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []
