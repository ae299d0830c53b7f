"""The local key store of SSE-S3 and SSE-KMS: named master keys, in versions, from a file.

A *key id* names a master key; each key has numbered *versions* of 32 random bytes. The newest
version of a key wraps new data keys; every version still in the store unwraps what it wrapped
(rotation: add a version, and optionally ``rewrap`` stored data keys under it, after which the
old version may be retired). SSE-S3 uses the *default* key; SSE-KMS may name any key
(``x-amz-server-side-encryption-aws-kms-key-id``), or gets the default one.

Two layouts, told apart by whether the path is a directory:

* a JSON file::

      {"format": 1,
       "default_key_id": "sse-s3",
       "keys": {"sse-s3": {"1": "<base64 of 32 bytes>", "2": "<base64 of 32 bytes>"},
                "tenant-a": {"1": "<base64 of 32 bytes>"}}}

  ``format`` is optional (1); ``default_key_id`` may be left out when there is one key.

* a directory, as a Kubernetes Secret mounted as a volume looks: one file per key id, named by
  it, holding one line per version, ``<version>:<base64 of 32 bytes>``; a file holding one bare
  base64 value is version 1 of its key. Blank lines and lines starting with ``#`` are ignored.
  An optional file ``_default`` names the default key id (needed when there are several keys).
  Names starting with ``.`` (the Secret volume's ``..data`` links) and subdirectories are
  skipped. Mount the whole Secret as a directory: a ``subPath`` mount is never updated.

Key ids are 1 to 128 characters of ``A-Z a-z 0-9 . _ -``, starting with a letter or a digit
(every one is a valid Secret data key). The store reloads when its file changes
(``maybe_reload``); a change that does not load is logged and the keys in use are kept.

``python -m nimbus_storage.sse.keystore generate|rotate|add|show PATH`` writes and reads these
files (mode 0600); it never prints key material.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nimbus_storage.sse.errors import KeyStoreInvalid, KeyUnavailable, KmsKeyNotFound
from nimbus_storage.sse.keys import KeyContext, unwrap_data_key, wrap_data_key

__all__ = [
    "DEFAULT_FILE_KEY_ID",
    "MASTER_KEY_SIZE",
    "KeyStore",
    "LoadedKeys",
    "WrappedKey",
    "dump_json",
    "load_keys",
    "main",
    "new_master_key",
    "write_dir",
]

log = logging.getLogger("nimbus.sse")

MASTER_KEY_SIZE = 32
DEFAULT_FILE_KEY_ID = "sse-s3"  # the key id ``generate`` writes unless told another
DEFAULT_MARKER = "_default"  # the file of a key directory naming the default key id
MAX_VERSION = 2**31 - 1
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
AWS_MANAGED_ALIAS = "aws/s3"  # AWS's own SSE-KMS key: here, the default key
PROG = "python -m nimbus_storage.sse.keystore"

Versions = Mapping[int, bytes]


def new_master_key() -> bytes:
    return os.urandom(MASTER_KEY_SIZE)


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key wrapped by version ``version`` of master key ``key_id``."""

    key_id: str
    version: int
    wrapped: bytes


@dataclass(frozen=True, slots=True)
class LoadedKeys:
    """One loaded state of the store; replaced whole on a reload."""

    default_key_id: str
    keys: Mapping[str, Versions]


# --- parsing ----------------------------------------------------------------------------------


def _material(where: str, text: object) -> bytes:
    if not isinstance(text, str):
        raise KeyStoreInvalid(f"{where}: key material must be a base64 string")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyStoreInvalid(f"{where}: key material is not valid base64") from None
    if len(raw) != MASTER_KEY_SIZE:
        raise KeyStoreInvalid(
            f"{where}: key material is {len(raw)} bytes, a master key is {MASTER_KEY_SIZE}"
        )
    return raw


def _version(where: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_VERSION:
        raise KeyStoreInvalid(f"{where}: version {text!r} is not a whole number from 1")
    return int(text)


def _key_id(where: str, key_id: object) -> str:
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        raise KeyStoreInvalid(
            f"{where}: {key_id!r} is not a key id (1-128 of A-Z a-z 0-9 . _ -, starting with a"
            " letter or digit)"
        )
    return key_id


def _settle(where: str, keys: dict[str, dict[int, bytes]], default: str | None) -> LoadedKeys:
    if not keys:
        raise KeyStoreInvalid(f"{where}: holds no key")
    if default is None:
        if len(keys) > 1:
            raise KeyStoreInvalid(
                f"{where}: {len(keys)} keys and no default key id: name the SSE-S3 key"
            )
        default = next(iter(keys))
    if default not in keys:
        raise KeyStoreInvalid(f"{where}: the default key id {default!r} is not one of its keys")
    return LoadedKeys(default, {key_id: dict(versions) for key_id, versions in keys.items()})


def _parse_json(where: str, text: str) -> tuple[dict[str, dict[int, bytes]], str | None]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise KeyStoreInvalid(f"{where}: not JSON ({error})") from None
    if not isinstance(document, dict):
        raise KeyStoreInvalid(f"{where}: the key file must be a JSON object")
    unknown = set(document) - {"format", "default_key_id", "keys"}
    if unknown:
        raise KeyStoreInvalid(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if document.get("format", 1) != 1:
        raise KeyStoreInvalid(f"{where}: format {document['format']!r} is not 1")
    default = document.get("default_key_id")
    if default is not None:
        default = _key_id(f"{where}: default_key_id", default)
    entries = document.get("keys")
    if not isinstance(entries, dict):
        raise KeyStoreInvalid(f"{where}: 'keys' must be an object of key ids")
    keys: dict[str, dict[int, bytes]] = {}
    for key_id, versions in entries.items():
        _key_id(where, key_id)
        if not isinstance(versions, dict) or not versions:
            raise KeyStoreInvalid(
                f'{where}: key {key_id!r} must be an object of versions ("1": base64, ...)'
            )
        keys[key_id] = {
            _version(f"{where}: key {key_id!r}", str(v)): _material(
                f"{where}: key {key_id!r} version {v}", material
            )
            for v, material in versions.items()
        }
    return keys, default


def _parse_key_file(where: str, text: str) -> dict[int, bytes]:
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if not lines:
        raise KeyStoreInvalid(f"{where}: holds no key material")
    if len(lines) == 1 and ":" not in lines[0][1]:
        return {1: _material(where, lines[0][1])}
    versions: dict[int, bytes] = {}
    for number, line in lines:
        version_text, colon, material = line.partition(":")
        at = f"{where} line {number}"
        if not colon:
            raise KeyStoreInvalid(
                f"{at}: with several lines, each must be <version>:<base64 of 32 bytes>"
            )
        version = _version(at, version_text.strip())
        if version in versions:
            raise KeyStoreInvalid(f"{at}: version {version} appears twice")
        versions[version] = _material(at, material)
    return versions


def _key_dir_entries(path: Path) -> list[Path]:
    return sorted(
        entry for entry in path.iterdir() if not entry.name.startswith(".") and entry.is_file()
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise KeyStoreInvalid(f"{path}: cannot be read ({error})") from None


def load_keys(path: str | os.PathLike[str], default_key_id: str | None = None) -> LoadedKeys:
    """The keys of a JSON key file or a key directory; ``KeyStoreInvalid`` naming the file
    and the fault. ``default_key_id`` overrides the one the file names."""
    path = Path(path)
    if path.is_dir():
        keys: dict[str, dict[int, bytes]] = {}
        default: str | None = None
        for entry in _key_dir_entries(path):
            if entry.name == DEFAULT_MARKER:
                default = _key_id(str(entry), _read_text(entry).strip())
                continue
            key_id = _key_id(str(path), entry.name)
            keys[key_id] = _parse_key_file(str(entry), _read_text(entry))
    elif path.exists():
        keys, default = _parse_json(str(path), _read_text(path))
    else:
        raise KeyStoreInvalid(f"{path}: no such key file or directory")
    if default_key_id is not None:
        default = _key_id("the configured default key id", default_key_id)
    return _settle(str(path), keys, default)


def _signature(path: Path) -> tuple[object, ...]:
    """What changes when the key file (or a file of the key directory) is replaced or edited;
    stat follows the symbolic links of a Secret volume to the files of its current version."""

    def of(st: os.stat_result) -> tuple[int, int, int, int]:
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    try:
        st = path.stat()
        if not stat.S_ISDIR(st.st_mode):
            return (of(st),)
        return (of(st), *((entry.name, of(entry.stat())) for entry in _key_dir_entries(path)))
    except OSError as error:
        return (repr(error),)


# --- the store -------------------------------------------------------------------------------


def _wanted_key_id(requested: str) -> str:
    """``key-id``, ``alias/key-id`` or an ARN ending ``:key/key-id`` or ``:alias/key-id``."""
    name = requested.strip()
    if name.startswith("arn:"):
        resource = name.split(":", 5)[-1] if name.count(":") >= 5 else ""
        name = resource.partition("/")[2] if resource.startswith(("key/", "alias/")) else ""
    elif name.startswith("alias/"):
        name = name[len("alias/") :]
    return name


class KeyStore:
    """Master keys by id and version; wraps, unwraps and re-wraps data keys.

    Build it with ``KeyStore.load(path)`` (reloadable) or ``KeyStore(keys, default_key_id)``
    (``keys``: key id -> version -> 32 bytes).
    """

    def __init__(
        self,
        keys: Mapping[str, Versions],
        default_key_id: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        check_interval: float = 5.0,
    ) -> None:
        where = str(path) if path is not None else "key store"
        checked: dict[str, dict[int, bytes]] = {}
        for key_id, versions in keys.items():
            _key_id(where, key_id)
            if not versions:
                raise KeyStoreInvalid(f"{where}: key {key_id!r} has no version")
            checked[key_id] = {}
            for version, material in versions.items():
                if not 1 <= version <= MAX_VERSION:
                    raise KeyStoreInvalid(f"{where}: key {key_id!r}: bad version {version}")
                if len(material) != MASTER_KEY_SIZE:
                    raise KeyStoreInvalid(
                        f"{where}: key {key_id!r} version {version}: not 32 bytes"
                    )
                checked[key_id][version] = bytes(material)
        self._keys = _settle(where, checked, default_key_id)
        self.path = Path(path) if path is not None else None
        self.check_interval = check_interval
        self.last_reload_error: str | None = None
        self._configured_default = default_key_id
        self._signature: tuple[object, ...] = _signature(self.path) if self.path else ()
        self._checked_at = time.monotonic()

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        default_key_id: str | None = None,
        check_interval: float = 5.0,
    ) -> KeyStore:
        """The key store of a key file or directory (see the module's docstring)."""
        signature = _signature(Path(path))
        loaded = load_keys(path, default_key_id)
        store = cls(
            loaded.keys,
            loaded.default_key_id,
            path=path,
            check_interval=check_interval,
        )
        store._configured_default = default_key_id
        store._signature = signature
        return store

    # --- what is in it

    @property
    def default_key_id(self) -> str:
        """The key of SSE-S3, and of SSE-KMS when the request names none."""
        return self._keys.default_key_id

    def key_ids(self) -> list[str]:
        return sorted(self._keys.keys)

    def versions(self, key_id: str) -> list[int]:
        versions = self._keys.keys.get(key_id)
        if versions is None:
            raise KeyUnavailable(key_id)
        return sorted(versions)

    def newest_version(self, key_id: str) -> int:
        return self.versions(key_id)[-1]

    def resolve_kms_key_id(self, requested: str | None) -> str:
        """The key id an SSE-KMS request names (``x-amz-server-side-encryption-aws-kms-key-id``:
        a key id, ``alias/<key id>``, or an ARN ending ``:key/<key id>`` or
        ``:alias/<key id>``), the default key when it names none (or AWS's ``aws/s3``);
        ``KmsKeyNotFound`` for any other."""
        if requested is None or not requested.strip():
            return self.default_key_id
        name = _wanted_key_id(requested)
        if name == AWS_MANAGED_ALIAS:
            return self.default_key_id
        if name not in self._keys.keys:
            raise KmsKeyNotFound(requested)
        return name

    # --- wrapping

    def _material(self, key_id: str, version: int) -> bytes:
        versions = self._keys.keys.get(key_id)
        if versions is None:
            raise KeyUnavailable(key_id)
        material = versions.get(version)
        if material is None:
            raise KeyUnavailable(key_id, version)
        return material

    def wrap(self, data_key: bytes, context: KeyContext, key_id: str | None = None) -> WrappedKey:
        """``data_key`` wrapped by the newest version of ``key_id`` (the default key if None)."""
        keys = self._keys  # one state for the whole call, whatever a reload does meanwhile
        key_id = keys.default_key_id if key_id is None else key_id
        versions = keys.keys.get(key_id)
        if versions is None:
            raise KmsKeyNotFound(key_id)
        version = max(versions)
        return WrappedKey(key_id, version, wrap_data_key(versions[version], data_key, context))

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes:
        """The data key; ``KeyUnavailable`` when its key id or version has left the store,
        ``WrappedKeyInvalid`` when it does not open for ``context``."""
        return unwrap_data_key(
            self._material(wrapped.key_id, wrapped.version), wrapped.wrapped, context
        )

    def needs_rewrap(self, wrapped: WrappedKey) -> bool:
        """Whether a newer version of its key than the one that wrapped it is in the store."""
        return wrapped.version < self.newest_version(wrapped.key_id)

    def rewrap(
        self,
        wrapped: WrappedKey,
        context: KeyContext,
        new_context: KeyContext | None = None,
        *,
        key_id: str | None = None,
    ) -> WrappedKey:
        """The same data key wrapped by the newest version of its key (or of ``key_id``), for
        ``new_context`` (a CopyObject's destination) or the same object; the data key is never
        returned, the object's ciphertext stays valid."""
        data_key = self.unwrap(wrapped, context)
        return self.wrap(
            data_key, context if new_context is None else new_context, key_id or wrapped.key_id
        )

    # --- reloading

    def maybe_reload(self, *, force: bool = False) -> bool:
        """Reload when the key file changed (checked at most every ``check_interval``
        seconds unless ``force``); True when new keys are in use. A file that does not load is
        logged, kept in ``last_reload_error``, and the keys in use stay."""
        if self.path is None:
            return False
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_interval:
            return False
        self._checked_at = now
        signature = _signature(self.path)
        if signature == self._signature:
            return False
        try:
            loaded = load_keys(self.path, self._configured_default)
        except KeyStoreInvalid as error:
            if self.last_reload_error != error.message:
                log.error("key store %s not reloaded, keeping its keys: %s", self.path, error)
            self.last_reload_error = error.message
            return False
        self._signature = signature
        retired = [
            f"{key_id} v{version}"
            for key_id, versions in self._keys.keys.items()
            for version in versions
            if version not in loaded.keys.get(key_id, {})
        ]
        if retired:
            log.warning(
                "key store %s reloaded without %s: objects they wrapped no longer open",
                self.path,
                ", ".join(retired),
            )
        self._keys = loaded
        self.last_reload_error = None
        log.info("key store %s reloaded: keys %s", self.path, ", ".join(self.key_ids()))
        return True


# --- writing key files ------------------------------------------------------------------------


def _b64(material: bytes) -> str:
    return base64.b64encode(material).decode("ascii")


def dump_json(keys: Mapping[str, Versions], default_key_id: str) -> str:
    """A JSON key file holding ``keys``."""
    document = {
        "format": 1,
        "default_key_id": default_key_id,
        "keys": {
            key_id: {str(v): _b64(versions[v]) for v in sorted(versions)}
            for key_id, versions in sorted(keys.items())
        },
    }
    return json.dumps(document, indent=2) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_dir(path: Path, keys: Mapping[str, Versions], default_key_id: str) -> None:
    """A key directory (as a Secret volume would hold) for ``keys``."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key_id, versions in keys.items():
        lines = [f"{v}:{_b64(versions[v])}" for v in sorted(versions)]
        _write_private(path / key_id, "\n".join(lines) + "\n")
    _write_private(path / DEFAULT_MARKER, default_key_id + "\n")


def _save(path: Path, keys: Mapping[str, Versions], default_key_id: str, as_dir: bool) -> None:
    if as_dir:
        write_dir(path, keys, default_key_id)
    else:
        _write_private(path, dump_json(keys, default_key_id))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write and inspect the SSE-S3/SSE-KMS key files of Nimbus (docs/encryption.md)."
        " Key material is never printed.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser(
        "generate", help="write a new key file (or directory) holding one fresh key"
    )
    generate.add_argument("path", type=Path, help="the JSON key file, or directory with --dir")
    generate.add_argument(
        "--key-id",
        default=DEFAULT_FILE_KEY_ID,
        help=f"the key's id (default {DEFAULT_FILE_KEY_ID})",
    )
    generate.add_argument(
        "--dir",
        action="store_true",
        help="write a directory of key files, as a mounted Kubernetes Secret looks",
    )
    generate.add_argument("--force", action="store_true", help="replace an existing key file")
    rotate = commands.add_parser("rotate", help="add a new newest version to a key")
    rotate.add_argument("path", type=Path)
    rotate.add_argument("--key-id", help="the key to rotate (default: the default key)")
    add = commands.add_parser("add", help="add a new key (for SSE-KMS key ids)")
    add.add_argument("path", type=Path)
    add.add_argument("--key-id", required=True)
    add.add_argument("--default", action="store_true", help="make it the default key")
    show = commands.add_parser("show", help="list the key ids and versions (no material)")
    show.add_argument("path", type=Path)
    return parser


def _describe(keys: LoadedKeys) -> str:
    lines = []
    for key_id in sorted(keys.keys):
        versions = sorted(keys.keys[key_id])
        marker = " (default)" if key_id == keys.default_key_id else ""
        lines.append(
            f"{key_id}{marker}: versions {', '.join(map(str, versions))};"
            f" newest {versions[-1]} wraps new data keys"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    path: Path = args.path
    try:
        if args.command == "generate":
            if path.exists() and not args.force:
                raise KeyStoreInvalid(f"{path}: exists (pass --force to replace it)")
            key_id = _key_id("--key-id", args.key_id)
            keys: dict[str, dict[int, bytes]] = {key_id: {1: new_master_key()}}
            _save(path, keys, key_id, args.dir)
            print(f"wrote {path}: key {key_id} version 1 (default)")
            return 0
        loaded = load_keys(path)
        if args.command == "show":
            print(_describe(loaded))
            return 0
        keys = {key_id: dict(versions) for key_id, versions in loaded.keys.items()}
        default = loaded.default_key_id
        if args.command == "rotate":
            key_id = args.key_id or default
            if key_id not in keys:
                raise KeyStoreInvalid(f"{path}: has no key {key_id!r}")
            version = max(keys[key_id]) + 1
            keys[key_id][version] = new_master_key()
            message = f"key {key_id} version {version} now wraps new data keys"
        else:
            key_id = _key_id("--key-id", args.key_id)
            if key_id in keys:
                raise KeyStoreInvalid(f"{path}: already has a key {key_id!r}")
            keys[key_id] = {1: new_master_key()}
            default = key_id if args.default else default
            message = f"added key {key_id} version 1" + (" (default)" if args.default else "")
        _save(path, keys, default, path.is_dir())
        print(f"wrote {path}: {message}")
        return 0
    except KeyStoreInvalid as error:
        print(f"{PROG}: error: {error.message}", file=sys.stderr)
        return 1


def _entry() -> None:  # pragma: no cover - the module run as a program
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _entry()
