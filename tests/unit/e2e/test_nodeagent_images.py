"""e2e.nodeagent.images: the image table, image reference lookup and PATH resolution."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from e2e.nodeagent.images import (
    IMAGES,
    PROJECT_REPOSITORY,
    ImageEntry,
    image_path_env,
    lookup,
    which,
)

DIGEST = "sha256:" + "ab12" * 16
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def project_entry() -> ImageEntry:
    (entry,) = [entry for entry in IMAGES if entry.repository == PROJECT_REPOSITORY]
    return entry


def test_the_project_image_runs_nimbus_storage_from_the_running_virtualenv() -> None:
    entry = project_entry()

    assert PROJECT_REPOSITORY == "ghcr.io/nimbus-cloud/nimbus"
    assert entry.entrypoint == ()
    assert entry.cmd == ("nimbus-storage", "--help")
    assert entry.working_dir == "/"
    assert entry.path[0] == str(Path(sys.executable).parent)
    assert [d for d in entry.path if d in SYSTEM_PATH] == list(SYSTEM_PATH)


def test_the_project_path_keeps_the_virtualenv_rather_than_the_resolved_interpreter() -> None:
    executable = Path(sys.executable)
    if not executable.is_symlink():
        pytest.skip("the interpreter is not a symlink (not running from a virtualenv)")

    assert str(executable.resolve().parent) != project_entry().path[0]
    # The venv's python, found through the image's PATH, is the symlink itself.
    assert which(executable.name, project_entry().path) == str(executable)


def test_nimbus_storage_resolves_on_the_project_image_path() -> None:
    installed = Path(sys.executable).parent / "nimbus-storage"
    if not installed.exists():
        pytest.skip("nimbus-storage is not installed next to the interpreter")

    assert which("nimbus-storage", project_entry().path) == str(installed)


@pytest.mark.parametrize(
    "reference",
    [
        "ghcr.io/nimbus-cloud/nimbus",
        "ghcr.io/nimbus-cloud/nimbus:latest",
        "ghcr.io/nimbus-cloud/nimbus:v0.1.0-dev_3",
        f"ghcr.io/nimbus-cloud/nimbus@{DIGEST}",
        f"ghcr.io/nimbus-cloud/nimbus:v1@{DIGEST}",
        "nimbus",
        "nimbus:dev",
        f"nimbus@{DIGEST}",
    ],
)
def test_lookup_finds_the_project_image_by_any_tag_digest_or_alias(reference: str) -> None:
    assert lookup(reference) is project_entry()


@pytest.mark.parametrize(
    "reference",
    [
        "",
        "busybox",
        "busybox:1.36",
        "docker.io/library/nimbus",
        "ghcr.io/nimbus-cloud/nimbus-operator",
        "ghcr.io/nimbus-cloud/nimbus/extra",
        "ghcr.io/nimbus-cloud",
        "nimbus:",
        "nimbus:-bad",
        "ghcr.io/nimbus-cloud/nimbus:" + "x" * 129,
        "ghcr.io/nimbus-cloud/nimbus@sha256:abc",
        "ghcr.io/nimbus-cloud/nimbus@" + DIGEST.upper(),
        "ghcr.io/nimbus-cloud/nimbus@md5:" + "ab" * 16,
        "localhost:5000/nimbus",
    ],
)
def test_lookup_refuses_anything_else(reference: str) -> None:
    assert lookup(reference) is None


def make_program(root: Path, container_path: str, *, executable: bool = True) -> Path:
    host_path = root / container_path.lstrip("/")
    host_path.parent.mkdir(parents=True, exist_ok=True)
    host_path.write_text("#!/bin/sh\n")
    host_path.chmod(0o755 if executable else 0o644)
    return host_path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_program(tmp_path, "/usr/local/bin/tool", executable=False)
    make_program(tmp_path, "/usr/bin/tool")
    make_program(tmp_path, "/bin/tool")
    (tmp_path / "sbin" / "dironly").mkdir(parents=True)
    make_program(tmp_path, "/bin/dironly")
    make_program(tmp_path, "/app/scripts/run.sh")
    (tmp_path / "opt").mkdir()
    (tmp_path / "opt" / "linked").symlink_to(tmp_path / "bin" / "tool")
    return tmp_path


PATH = ("/usr/local/bin", "/usr/bin", "/sbin", "/bin")


def test_which_returns_the_first_executable_on_path_as_seen_in_the_container(root: Path) -> None:
    assert which("tool", PATH, root) == "/usr/bin/tool"
    assert which("tool", ("/bin", "/usr/bin"), root) == "/bin/tool"


def test_which_skips_directories_and_missing_programs(root: Path) -> None:
    assert which("dironly", PATH, root) == "/bin/dironly"
    assert which("absent", PATH, root) is None
    assert which("", PATH, root) is None
    assert which("tool", (), root) is None


def test_which_follows_symlinks_without_resolving_them(root: Path) -> None:
    assert which("linked", ("/opt",), root) == "/opt/linked"


def test_which_takes_programs_with_a_slash_as_paths(root: Path) -> None:
    assert which("/usr/bin/tool", PATH, root) == "/usr/bin/tool"
    assert which("/usr/local/bin/tool", PATH, root) is None
    assert which("/no/such/tool", PATH, root) is None
    assert which("scripts/run.sh", PATH, root, working_dir="/app") == "scripts/run.sh"
    assert which("./scripts/run.sh", PATH, root, working_dir="/app") == "./scripts/run.sh"
    assert which("scripts/run.sh", PATH, root) is None


def test_which_resolves_relative_path_entries_from_the_working_dir(root: Path) -> None:
    assert which("run.sh", ("scripts",), root, working_dir="/app") == "/app/scripts/run.sh"


def test_which_defaults_to_the_real_root() -> None:
    found = which("sh", SYSTEM_PATH)

    assert found is not None
    assert os.access(found, os.X_OK)


def test_image_path_env_joins_the_directories_in_order() -> None:
    entry = ImageEntry("r", (), (), ("/a/bin", "/usr/bin", "/bin"), "/", "test")

    assert image_path_env(entry) == "/a/bin:/usr/bin:/bin"
    assert image_path_env(project_entry()).split(":")[0] == str(Path(sys.executable).parent)


def test_the_project_images_files_are_the_checkout_and_its_virtualenv() -> None:
    checkout = Path(__file__).resolve().parents[3]
    content = [Path(path) for path in project_entry().content]

    assert content[0] == checkout
    assert any(Path(sys.prefix) == path or path in Path(sys.prefix).parents for path in content)
