"""e2e.nodeagent.atomic_writer: the kubelet's atomic layout of projected volume files."""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from pathlib import Path

import pytest

from e2e.nodeagent.atomic_writer import DATA_DIR_LINK, write_volume

TIMESTAMPED = re.compile(r"\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\..+")


def data_dirs(target: Path) -> list[str]:
    return sorted(name for name in os.listdir(target) if TIMESTAMPED.fullmatch(name))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_write_creates_the_layout(tmp_path: Path) -> None:
    target = tmp_path / "volumes" / "config"

    assert write_volume(target, {"app.conf": (b"port=1\n", 0o644), "token": (b"t0k", 0o600)})

    (data_dir,) = data_dirs(target)
    assert os.readlink(target / DATA_DIR_LINK) == data_dir
    assert os.readlink(target / "app.conf") == "..data/app.conf"
    assert os.readlink(target / "token") == "..data/token"
    assert sorted(os.listdir(target)) == sorted([DATA_DIR_LINK, data_dir, "app.conf", "token"])
    assert (target / "app.conf").read_bytes() == b"port=1\n"
    assert (target / "token").read_bytes() == b"t0k"
    assert mode_of(target / "app.conf") == 0o644
    assert mode_of(target / "token") == 0o600
    assert mode_of(target / data_dir) == 0o755


def test_an_unchanged_payload_writes_nothing(tmp_path: Path) -> None:
    files = {"a": (b"1", 0o644), "d/b": (b"2", 0o400)}
    assert write_volume(tmp_path, files)
    before = data_dirs(tmp_path)

    assert not write_volume(tmp_path, dict(files))

    assert data_dirs(tmp_path) == before


@pytest.mark.parametrize(
    "change",
    [
        {"a": (b"changed", 0o644), "d/b": (b"2", 0o400)},
        {"a": (b"1", 0o600), "d/b": (b"2", 0o400)},
        {"a": (b"1", 0o644)},
        {"a": (b"1", 0o644), "d/b": (b"2", 0o400), "c": (b"", 0o644)},
    ],
)
def test_any_change_of_content_mode_or_file_set_is_written(
    tmp_path: Path, change: dict[str, tuple[bytes, int]]
) -> None:
    assert write_volume(tmp_path, {"a": (b"1", 0o644), "d/b": (b"2", 0o400)})
    (old_dir,) = data_dirs(tmp_path)

    assert write_volume(tmp_path, change)

    (new_dir,) = data_dirs(tmp_path)
    assert new_dir != old_dir
    assert os.readlink(tmp_path / DATA_DIR_LINK) == new_dir
    for path, (content, mode) in change.items():
        assert (tmp_path / path).read_bytes() == content
        assert mode_of(tmp_path / path) == mode


def test_removed_keys_disappear(tmp_path: Path) -> None:
    write_volume(tmp_path, {"keep": (b"k", 0o644), "drop": (b"d", 0o644), "sub/x": (b"x", 0o644)})

    assert write_volume(tmp_path, {"keep": (b"k", 0o644)})

    assert not os.path.lexists(tmp_path / "drop")
    assert not os.path.lexists(tmp_path / "sub")
    assert sorted(os.listdir(tmp_path)) == sorted([DATA_DIR_LINK, *data_dirs(tmp_path), "keep"])


def test_nested_paths_share_one_top_level_link(tmp_path: Path) -> None:
    files = {
        "etc/app/main.conf": (b"main", 0o644),
        "etc/app/extra.conf": (b"extra", 0o640),
        "etc/other": (b"other", 0o444),
        "top": (b"top", 0o644),
    }

    assert write_volume(tmp_path, files)

    assert os.readlink(tmp_path / "etc") == "..data/etc"
    assert (tmp_path / "etc").is_dir()
    assert (tmp_path / "etc/app/main.conf").read_bytes() == b"main"
    assert (tmp_path / "etc/app/extra.conf").read_bytes() == b"extra"
    assert mode_of(tmp_path / "etc/app/extra.conf") == 0o640
    assert mode_of(tmp_path / "etc/other") == 0o444
    assert sorted(os.listdir(tmp_path / "etc")) == ["app", "other"]

    assert write_volume(tmp_path, {"etc/other": (b"other", 0o444), "top": (b"top", 0o644)})
    assert not (tmp_path / "etc/app").exists()
    assert os.listdir(tmp_path / "etc") == ["other"]


def test_a_file_can_become_a_directory(tmp_path: Path) -> None:
    write_volume(tmp_path, {"conf": (b"flat", 0o644)})

    assert write_volume(tmp_path, {"conf/nested": (b"deep", 0o644)})

    assert (tmp_path / "conf" / "nested").read_bytes() == b"deep"


def test_modes_ignore_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        write_volume(tmp_path, {"shared": (b"s", 0o666), "run": (b"#!/bin/sh\n", 0o755)})
    finally:
        os.umask(previous)

    assert mode_of(tmp_path / "shared") == 0o666
    assert mode_of(tmp_path / "run") == 0o755


@pytest.mark.parametrize(
    "path", ["", "/etc/passwd", "../escape", "a/../../b", "a/..", "..data", "..hidden/x", "."]
)
def test_invalid_paths_are_refused_before_anything_is_written(tmp_path: Path, path: str) -> None:
    target = tmp_path / "vol"

    with pytest.raises(ValueError, match="invalid path"):
        write_volume(target, {"ok": (b"1", 0o644), path: (b"x", 0o644)})

    assert not target.exists()


def test_a_path_that_is_both_a_file_and_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'a' is also a file"):
        write_volume(tmp_path, {"a": (b"1", 0o644), "a/b": (b"2", 0o644)})
    with pytest.raises(ValueError, match="duplicate"):
        write_volume(tmp_path, {"a": (b"1", 0o644), "./a": (b"2", 0o644)})


def test_dotted_names_that_are_not_reserved_are_fine(tmp_path: Path) -> None:
    assert write_volume(tmp_path, {".hidden": (b"h", 0o644), "a/..b": (b"b", 0o644)})

    assert (tmp_path / ".hidden").read_bytes() == b"h"
    assert (tmp_path / "a" / "..b").read_bytes() == b"b"


def test_a_leftover_temporary_link_does_not_block_the_update(tmp_path: Path) -> None:
    write_volume(tmp_path, {"a": (b"1", 0o644)})
    os.symlink("..stale", tmp_path / "..data_tmp")

    assert write_volume(tmp_path, {"a": (b"2", 0o644)})

    assert (tmp_path / "a").read_bytes() == b"2"
    assert not os.path.lexists(tmp_path / "..data_tmp")


def test_a_data_link_pointing_elsewhere_is_replaced_but_its_target_is_not_deleted(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_bytes(b"keep me")
    target = tmp_path / "vol"
    target.mkdir()
    os.symlink(elsewhere, target / DATA_DIR_LINK)

    assert write_volume(target, {"a": (b"1", 0o644)})

    assert (elsewhere / "precious").read_bytes() == b"keep me"
    assert (target / "a").read_bytes() == b"1"


def test_an_empty_payload_gives_an_empty_volume(tmp_path: Path) -> None:
    assert write_volume(tmp_path, {})
    assert not write_volume(tmp_path, {})

    assert sorted(os.listdir(tmp_path)) == sorted([DATA_DIR_LINK, *data_dirs(tmp_path)])


def test_a_concurrent_reader_only_ever_sees_a_whole_version(tmp_path: Path) -> None:
    # Large, distinct contents so that a torn or truncated read could not pass for a version.
    versions = [bytes([ord("a") + index]) * 512 * 1024 for index in range(4)]
    write_volume(tmp_path, {"key": (versions[0], 0o644)})
    seen: set[bytes] = set()
    torn: list[int] = []
    done = threading.Event()

    def read_continuously() -> None:
        while not done.is_set():
            try:
                content = (tmp_path / "key").read_bytes()
            except FileNotFoundError:
                # As with the kubelet: a reader that resolved ..data just before the swap can
                # find the old directory already removed. It never gets partial content.
                continue
            if content in versions:
                seen.add(content)
            else:
                torn.append(len(content))

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        round_number = 0
        deadline = time.monotonic() + 10
        while round_number < 60 or (len(seen) < 3 and time.monotonic() < deadline):
            round_number += 1
            write_volume(tmp_path, {"key": (versions[round_number % len(versions)], 0o644)})
    finally:
        done.set()
        reader.join()

    assert torn == []
    assert len(seen) >= 3
    assert (tmp_path / "key").read_bytes() == versions[round_number % len(versions)]
    assert len(data_dirs(tmp_path)) == 1
