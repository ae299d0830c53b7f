"""Where a blob lives on disk, and which of the files there is the visible one.

Pure naming rules of Swift's object layout, kept apart from the I/O in ``diskfile``:

* ``hash = md5(hash_prefix + name + hash_suffix)`` hex, where prefix and suffix are random and
  fixed per store (``<root>/.nimbus-store.json``, written once at first start). The salt keeps
  clients from choosing names that pile up in one partition.
* ``partition`` = the top ``part_power`` bits of the hash: the unit a replicator moves.
* a blob's files sit in ``<root>/<device>/objects/<partition>/<hash[-3:]>/<hash>/`` and are named
  ``<timestamp>.data`` (content), ``<timestamp>.meta`` (its facts, JSON) or ``<timestamp>.ts``
  (tombstone). The newest ``.data`` or ``.ts`` wins; on a tie the tombstone wins.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from nimbus_storage.ring import hashing as ring_hashing

IDENTITY_FILE = ".nimbus-store.json"
DATA_EXT = ".data"
META_EXT = ".meta"
TOMBSTONE_EXT = ".ts"
# Tie-break among files of one timestamp: a tombstone outranks data.
_RANK = {DATA_EXT: 0, TOMBSTONE_EXT: 1}


@dataclass(frozen=True, slots=True)
class StoreIdentity:
    """The per-store constants every path depends on; changing them orphans every blob."""

    hash_prefix: str
    hash_suffix: str
    part_power: int

    @classmethod
    def load_or_create(cls, root: Path, part_power: int) -> StoreIdentity:
        """Read ``root/.nimbus-store.json``, creating it (atomically) on first start."""
        path = root / IDENTITY_FILE
        if not path.exists():
            root.mkdir(parents=True, exist_ok=True)
            _write_once(root, path, cls(secrets.token_hex(8), secrets.token_hex(8), part_power))
        identity = cls.from_json(json.loads(path.read_text()))
        if identity.part_power != part_power:
            raise ValueError(
                f"store at {root} was created with part_power={identity.part_power},"
                f" not {part_power}"
            )
        return identity

    @classmethod
    def adopt(cls, root: Path, identity: StoreIdentity) -> StoreIdentity:
        """Use ``identity`` (a ring's) for the store at ``root``, recording it on first start.

        A store already created with other constants refuses to start: its blobs sit where the
        old constants put them, and the ring would look for them elsewhere.
        """
        path = root / IDENTITY_FILE
        if not path.exists():
            root.mkdir(parents=True, exist_ok=True)
            _write_once(root, path, identity)
        existing = cls.from_json(json.loads(path.read_text()))
        if existing != identity:
            raise IdentityMismatch(
                f"store at {root} was created with part_power={existing.part_power},"
                f" hash_prefix={existing.hash_prefix!r}, hash_suffix={existing.hash_suffix!r};"
                f" the ring has part_power={identity.part_power},"
                f" hash_prefix={identity.hash_prefix!r}, hash_suffix={identity.hash_suffix!r}"
                f" (remove {path} only if the store holds no blobs)"
            )
        return existing

    def to_json(self) -> dict[str, object]:
        return {
            "hash_prefix": self.hash_prefix,
            "hash_suffix": self.hash_suffix,
            "part_power": self.part_power,
        }

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> StoreIdentity:
        return cls(str(doc["hash_prefix"]), str(doc["hash_suffix"]), int(str(doc["part_power"])))

    def name_hash(self, name: str) -> str:
        return ring_hashing.name_hash(self.hash_prefix, self.hash_suffix, name)

    def partition(self, name_hash: str) -> int:
        return ring_hashing.partition_of(name_hash, self.part_power)


class IdentityMismatch(ValueError):
    """The store on disk was created with other hashing constants than the ones given."""


def _write_once(root: Path, path: Path, identity: StoreIdentity) -> None:
    tmp = root / f"{IDENTITY_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(identity.to_json()))
    # link() never replaces: if another process won the race, its identity stands.
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def hash_dir(objects_dir: Path, identity: StoreIdentity, name_hash: str) -> Path:
    partition = identity.partition(name_hash)
    return objects_dir / str(partition) / name_hash[-3:] / name_hash


@dataclass(frozen=True, slots=True)
class OnDiskFile:
    timestamp: str
    ext: str

    @property
    def filename(self) -> str:
        return self.timestamp + self.ext

    @property
    def order(self) -> tuple[str, int]:
        return self.timestamp, _RANK.get(self.ext, -1)


def parse_filename(filename: str) -> OnDiskFile | None:
    """``1700000000.12345.data`` -> OnDiskFile; None for anything that is not ours."""
    stem, dot, ext = filename.rpartition(".")
    if not dot or f".{ext}" not in (DATA_EXT, META_EXT, TOMBSTONE_EXT):
        return None
    return OnDiskFile(stem, f".{ext}")


def newest_state(filenames: list[str]) -> OnDiskFile | None:
    """The visible ``.data`` or ``.ts`` among a hash dir's files (``.meta`` never decides)."""
    candidates = [f for f in map(parse_filename, filenames) if f is not None and f.ext != META_EXT]
    return max(candidates, key=lambda f: f.order, default=None)


def obsolete_files(filenames: list[str]) -> list[str]:
    """Files a cleanup may delete: everything older than the visible state.

    ``.data`` go before their ``.meta`` (callers delete in the order returned), so a reader that
    sees a ``.data`` and then finds no ``.meta`` knows it lost a race and looks again. A
    ``.meta`` at or after the newest state is kept: it may belong to a write in progress.
    """
    newest = newest_state(filenames)
    if newest is None:
        return []
    doomed: list[OnDiskFile] = []
    for f in map(parse_filename, filenames):
        if f is None:
            continue
        if f.ext == META_EXT:
            if f.timestamp < newest.timestamp or (
                f.timestamp == newest.timestamp and newest.ext == TOMBSTONE_EXT
            ):
                doomed.append(f)
        elif f.order < newest.order:
            doomed.append(f)
    doomed.sort(key=lambda f: f.ext == META_EXT)
    return [f.filename for f in doomed]
