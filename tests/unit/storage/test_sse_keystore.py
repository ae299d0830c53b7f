"""The local key store: loading a JSON file or a Kubernetes-Secret-like directory (and refusing
bad ones clearly), KMS key ids, versions and rotation, reloading, and the key file tool."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from nimbus_storage.sse.errors import (
    KeyStoreInvalid,
    KeyUnavailable,
    KmsKeyNotFound,
    WrappedKeyInvalid,
)
from nimbus_storage.sse.keys import KeyContext, new_data_key
from nimbus_storage.sse.keystore import KeyStore, WrappedKey, load_keys, main

M1, M2, M3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
CONTEXT = KeyContext("bucket", "object")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def store() -> KeyStore:
    return KeyStore({"sse-s3": {1: M1, 2: M2}, "tenant-a": {1: M3}}, "sse-s3")


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def secret_volume(root: Path, files: dict[str, str], generation: str = "..2024_01_01") -> Path:
    """A directory laid out as the kubelet mounts a Secret: the files live in a timestamped
    directory, ``..data`` links to it, and each key is a link through ``..data``."""
    root.mkdir(exist_ok=True)
    data = root / generation
    data.mkdir()
    for name, text in files.items():
        (data / name).write_text(text)
    link = root / "..data_tmp"
    link.symlink_to(generation)
    link.replace(root / "..data")
    for name in files:
        if not (root / name).is_symlink():
            (root / name).symlink_to(Path("..data") / name)
    return root


# --- wrapping, versions, rotation ------------------------------------------------------------


def test_the_newest_version_wraps_and_every_version_unwraps() -> None:
    keys = store()
    data_key = new_data_key()
    wrapped = keys.wrap(data_key, CONTEXT)
    assert (wrapped.key_id, wrapped.version) == ("sse-s3", 2)
    assert keys.unwrap(wrapped, CONTEXT) == data_key
    old = KeyStore({"sse-s3": {1: M1}}).wrap(data_key, CONTEXT)
    assert old.version == 1
    assert keys.unwrap(old, CONTEXT) == data_key
    assert keys.needs_rewrap(old)
    assert not keys.needs_rewrap(wrapped)


def test_rewrap_moves_a_data_key_to_the_newest_version() -> None:
    data_key = new_data_key()
    old = KeyStore({"sse-s3": {1: M1}}).wrap(data_key, CONTEXT)
    rotated = KeyStore({"sse-s3": {1: M1, 2: M2, 3: M3}})
    new = rotated.rewrap(old, CONTEXT)
    assert (new.key_id, new.version) == ("sse-s3", 3)
    assert new.wrapped != old.wrapped
    retired = KeyStore({"sse-s3": {3: M3}})  # once every key is rewrapped, v1 may go
    assert retired.unwrap(new, CONTEXT) == data_key
    with pytest.raises(KeyUnavailable, match="version 1"):
        retired.unwrap(old, CONTEXT)


def test_rewrap_for_a_copy_binds_the_destination() -> None:
    keys = store()
    data_key = new_data_key()
    wrapped = keys.wrap(data_key, CONTEXT)
    destination = KeyContext("other-bucket", "copy")
    copied = keys.rewrap(wrapped, CONTEXT, destination, key_id="tenant-a")
    assert copied.key_id == "tenant-a"
    assert keys.unwrap(copied, destination) == data_key
    with pytest.raises(WrappedKeyInvalid):
        keys.unwrap(copied, CONTEXT)


def test_a_version_claimed_by_another_key_does_not_open() -> None:
    keys = store()
    wrapped = keys.wrap(new_data_key(), CONTEXT)
    with pytest.raises(WrappedKeyInvalid):
        keys.unwrap(WrappedKey("sse-s3", 1, wrapped.wrapped), CONTEXT)
    with pytest.raises(WrappedKeyInvalid):
        keys.unwrap(WrappedKey("tenant-a", 1, wrapped.wrapped), CONTEXT)
    with pytest.raises(KeyUnavailable, match="'gone'"):
        keys.unwrap(WrappedKey("gone", 1, wrapped.wrapped), CONTEXT)


def test_kms_key_ids_resolve_or_are_not_found() -> None:
    keys = store()
    assert keys.resolve_kms_key_id(None) == "sse-s3"
    assert keys.resolve_kms_key_id("") == "sse-s3"
    assert keys.resolve_kms_key_id("tenant-a") == "tenant-a"
    assert keys.resolve_kms_key_id("alias/tenant-a") == "tenant-a"
    assert keys.resolve_kms_key_id("arn:aws:kms:us-east-1:123456789012:key/tenant-a") == (
        "tenant-a"
    )
    assert keys.resolve_kms_key_id("arn:aws:kms:us-east-1:123:alias/tenant-a") == "tenant-a"
    assert keys.resolve_kms_key_id("alias/aws/s3") == "sse-s3"
    for unknown in ["tenant-b", "alias/tenant-b", "arn:aws:kms:x:y:key/nope", "arn:bad", "a b"]:
        with pytest.raises(KmsKeyNotFound) as caught:
            keys.resolve_kms_key_id(unknown)
        assert caught.value.key_id == unknown
        assert unknown in caught.value.message
    with pytest.raises(KmsKeyNotFound):
        keys.wrap(new_data_key(), CONTEXT, "tenant-b")


def test_a_store_needs_a_default_among_several_keys() -> None:
    with pytest.raises(KeyStoreInvalid, match="no default"):
        KeyStore({"a": {1: M1}, "b": {1: M2}})
    with pytest.raises(KeyStoreInvalid, match="not one of its keys"):
        KeyStore({"a": {1: M1}}, "b")
    with pytest.raises(KeyStoreInvalid, match="not 32 bytes"):
        KeyStore({"a": {1: b"short"}})
    with pytest.raises(KeyStoreInvalid, match="bad version"):
        KeyStore({"a": {0: M1}})
    with pytest.raises(KeyStoreInvalid, match="no version"):
        KeyStore({"a": {}})
    assert KeyStore({"only": {1: M1}}).default_key_id == "only"


# --- the JSON file ---------------------------------------------------------------------------


def test_a_json_key_file_loads(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "keys.json",
        {
            "format": 1,
            "default_key_id": "tenant-a",
            "keys": {"sse-s3": {"1": b64(M1), "2": b64(M2)}, "tenant-a": {"7": b64(M3)}},
        },
    )
    keys = KeyStore.load(path)
    assert keys.default_key_id == "tenant-a"
    assert keys.key_ids() == ["sse-s3", "tenant-a"]
    assert keys.versions("sse-s3") == [1, 2]
    assert keys.newest_version("tenant-a") == 7
    assert KeyStore.load(path, default_key_id="sse-s3").default_key_id == "sse-s3"


BAD_JSON: list[tuple[object, str]] = [
    ([], "must be a JSON object"),
    ({"keys": {}}, "holds no key"),
    ({"keys": []}, "'keys' must be an object"),
    ({"keys": {"a": {"1": b64(M1)}}, "extra": 1}, "unknown field"),
    ({"format": 2, "keys": {"a": {"1": b64(M1)}}}, "format 2"),
    ({"keys": {"a": {"1": b64(M1)}, "b": {"1": b64(M2)}}}, "no default key id"),
    ({"default_key_id": "c", "keys": {"a": {"1": b64(M1)}}}, "'c' is not one of its keys"),
    ({"keys": {"a": {"1": "not base64!"}}}, "key 'a' version 1: key material is not valid"),
    ({"keys": {"a": {"1": b64(b"x" * 16)}}}, "16 bytes, a master key is 32"),
    ({"keys": {"a": {"1": 12}}}, "must be a base64 string"),
    ({"keys": {"a": {"0": b64(M1)}}}, "version '0'"),
    ({"keys": {"a": {"v1": b64(M1)}}}, "version 'v1'"),
    ({"keys": {"a": {}}}, "must be an object of versions"),
    ({"keys": {"a": b64(M1)}}, "must be an object of versions"),
    ({"keys": {"../evil": {"1": b64(M1)}}}, "is not a key id"),
    ({"keys": {"_default": {"1": b64(M1)}}}, "is not a key id"),
]


@pytest.mark.parametrize(("document", "message"), BAD_JSON)
def test_bad_json_key_files_are_refused_clearly(
    tmp_path: Path, document: object, message: str
) -> None:
    path = write_json(tmp_path / "keys.json", document)
    with pytest.raises(KeyStoreInvalid, match=message) as caught:
        KeyStore.load(path)
    assert str(path) in caught.value.message


def test_unreadable_key_files_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreInvalid, match="no such key file"):
        KeyStore.load(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(KeyStoreInvalid, match="not JSON"):
        KeyStore.load(tmp_path / "broken.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe")
    with pytest.raises(KeyStoreInvalid, match="cannot be read"):
        KeyStore.load(tmp_path / "binary.json")


# --- the Secret directory --------------------------------------------------------------------


def test_a_kubernetes_secret_volume_loads(tmp_path: Path) -> None:
    root = secret_volume(
        tmp_path / "sse-keys",
        {
            "sse-s3": f"# rotated 2024-06\n1:{b64(M1)}\n2:{b64(M2)}\n",
            "tenant-a": b64(M3) + "\n",  # kubectl create secret --from-literal: one bare value
            "_default": "sse-s3\n",
        },
    )
    keys = KeyStore.load(root)
    assert keys.key_ids() == ["sse-s3", "tenant-a"]
    assert keys.versions("sse-s3") == [1, 2]
    assert keys.versions("tenant-a") == [1]
    assert keys.default_key_id == "sse-s3"
    data_key = new_data_key()
    assert keys.unwrap(KeyStore({"tenant-a": {1: M3}}).wrap(data_key, CONTEXT), CONTEXT) == (
        data_key
    )


def test_a_single_key_directory_needs_no_default(tmp_path: Path) -> None:
    root = tmp_path / "keys"
    root.mkdir()
    (root / "master").write_text(b64(M1))
    assert KeyStore.load(root).default_key_id == "master"


BAD_DIRS: list[tuple[dict[str, str], str]] = [
    ({}, "holds no key"),
    ({"a": ""}, "holds no key material"),
    ({"a": "# only a comment\n"}, "holds no key material"),
    ({"a": "not base64!"}, "not valid base64"),
    ({"a": b64(b"x" * 31)}, "31 bytes"),
    ({"a": f"1:{b64(M1)}\n{b64(M2)}"}, "line 2: with several lines"),
    ({"a": f"1:{b64(M1)}\n1:{b64(M2)}"}, "line 2: version 1 appears twice"),
    ({"a": f"x:{b64(M1)}"}, "line 1: version 'x'"),
    ({"a": b64(M1), "b": b64(M2)}, "no default key id"),
    ({"a": b64(M1), "_default": "b"}, "'b' is not one of its keys"),
    ({"a b": b64(M1)}, "'a b' is not a key id"),
]


@pytest.mark.parametrize(("files", "message"), BAD_DIRS)
def test_bad_key_directories_are_refused_clearly(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    root = secret_volume(tmp_path / "keys", files)
    with pytest.raises(KeyStoreInvalid, match=message):
        KeyStore.load(root)


# --- reloading -------------------------------------------------------------------------------


def test_a_changed_key_file_is_reloaded(tmp_path: Path) -> None:
    path = write_json(tmp_path / "keys.json", {"keys": {"k": {"1": b64(M1)}}})
    keys = KeyStore.load(path, check_interval=3600)
    old = keys.wrap(new_data_key(), CONTEXT)
    assert not keys.maybe_reload(force=True)  # unchanged
    write_json(path, {"keys": {"k": {"1": b64(M1), "2": b64(M2)}}})
    assert not keys.maybe_reload()  # not before the check interval
    assert keys.maybe_reload(force=True)
    assert keys.newest_version("k") == 2
    assert keys.wrap(new_data_key(), CONTEXT).version == 2
    assert keys.unwrap(keys.rewrap(old, CONTEXT), CONTEXT)


def test_a_reload_that_fails_keeps_the_keys_in_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_json(tmp_path / "keys.json", {"keys": {"k": {"1": b64(M1)}}})
    keys = KeyStore.load(path, check_interval=0)
    path.write_text('{"keys": {"k": {"1": "trunc')  # a half-written file
    assert not keys.maybe_reload()
    assert keys.last_reload_error is not None
    assert "not JSON" in keys.last_reload_error
    assert "not reloaded" in caplog.text
    assert keys.versions("k") == [1]
    path.unlink()
    assert not keys.maybe_reload()
    assert keys.versions("k") == [1]
    write_json(path, {"keys": {"k": {"1": b64(M1), "2": b64(M2)}}})
    assert keys.maybe_reload()
    assert keys.last_reload_error is None


def test_a_retired_version_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_json(tmp_path / "keys.json", {"keys": {"k": {"1": b64(M1), "2": b64(M2)}}})
    keys = KeyStore.load(path, check_interval=0)
    write_json(path, {"keys": {"k": {"2": b64(M2)}}})
    assert keys.maybe_reload()
    assert "without k v1" in caplog.text


def test_a_secret_update_is_reloaded(tmp_path: Path) -> None:
    """The kubelet updates a Secret volume by writing a new timestamped directory and
    re-pointing ``..data``: the key file links stay, their targets change."""
    root = secret_volume(tmp_path / "keys", {"k": f"1:{b64(M1)}\n"})
    keys = KeyStore.load(root, check_interval=0)
    secret_volume(root, {"k": f"1:{b64(M1)}\n2:{b64(M2)}\n"}, generation="..2024_02_01")
    assert keys.maybe_reload()
    assert keys.versions("k") == [1, 2]


def test_a_store_built_in_memory_never_reloads() -> None:
    assert not store().maybe_reload(force=True)


def test_load_keys_alone_reads_without_a_store(tmp_path: Path) -> None:
    path = write_json(tmp_path / "keys.json", {"keys": {"k": {"3": b64(M3)}}})
    loaded = load_keys(path)
    assert loaded.default_key_id == "k"
    assert dict(loaded.keys["k"]) == {3: M3}


# --- the key file tool -----------------------------------------------------------------------


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nimbus_storage.sse.keystore", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_tool_names_itself_as_it_is_run() -> None:
    result = run_tool("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m nimbus_storage.sse.keystore")
    for command in ("generate", "rotate", "add", "show"):
        assert command in result.stdout
    assert result.stderr == ""  # the module runs once: no runpy warning


def test_generate_writes_a_private_key_file_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    result = run_tool("generate", str(path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = KeyStore.load(path)
    assert keys.key_ids() == ["sse-s3"]
    assert keys.default_key_id == "sse-s3"
    document = json.loads(path.read_text())
    material = document["keys"]["sse-s3"]["1"]
    assert len(base64.b64decode(material)) == 32
    assert material not in result.stdout + result.stderr
    again = run_tool("generate", str(path))
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert run_tool("generate", str(path), "--force").returncode == 0
    assert json.loads(path.read_text())["keys"]["sse-s3"]["1"] != material


@pytest.mark.parametrize("as_dir", [False, True])
def test_rotate_add_and_show(
    tmp_path: Path, as_dir: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / ("keys" if as_dir else "keys.json")
    assert main(["generate", str(path), "--key-id", "main", *(["--dir"] if as_dir else [])]) == 0
    first = KeyStore.load(path)
    assert main(["rotate", str(path)]) == 0
    assert main(["add", str(path), "--key-id", "tenant-a"]) == 0
    assert main(["rotate", str(path), "--key-id", "tenant-a"]) == 0
    keys = KeyStore.load(path)
    assert keys.versions("main") == [1, 2]
    assert keys.versions("tenant-a") == [1, 2]
    assert keys.default_key_id == "main"
    wrapped = first.wrap(new_data_key(), CONTEXT)
    assert keys.unwrap(wrapped, CONTEXT)  # the old version survived the rotation
    assert main(["add", str(path), "--key-id", "b", "--default"]) == 0
    assert KeyStore.load(path).default_key_id == "b"
    capsys.readouterr()
    assert main(["show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "main: versions 1, 2; newest 2 wraps new data keys" in shown
    assert "b (default)" in shown
    if as_dir:
        assert {p.name for p in path.iterdir()} == {"main", "tenant-a", "b", "_default"}
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in path.iterdir())
    for material in (v for vs in load_keys(path).keys.values() for v in vs.values()):
        assert b64(material) not in shown


def test_tool_errors_are_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.json"
    assert main(["show", str(path)]) == 1
    assert "no such key file" in capsys.readouterr().err
    assert main(["generate", str(path)]) == 0
    assert main(["rotate", str(path), "--key-id", "nope"]) == 1
    assert "has no key 'nope'" in capsys.readouterr().err
    assert main(["add", str(path), "--key-id", "sse-s3"]) == 1
    assert "already has a key" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "k2.json"), "--key-id", "bad id"]) == 1
    assert not (tmp_path / "k2.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert os.listdir(tmp_path) == ["keys.json"]
