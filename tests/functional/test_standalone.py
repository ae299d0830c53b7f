"""Standalone mode as a user runs it: ``nimbus-storage serve`` plus the aws CLI."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.standalone_server import start_standalone

ACCESS_KEY = "STANDALONEKEY"
SECRET_KEY = "standalone-secret-key"
MiB = 1024 * 1024
# The aws CLI installed with the dev dependencies, next to this interpreter.
AWS_CLI = str(Path(sys.executable).with_name("aws"))


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("standalone-data")
    process, url, banner = start_standalone(data, ACCESS_KEY, SECRET_KEY)
    assert ACCESS_KEY in banner[1]
    yield url
    process.terminate()
    assert process.wait(timeout=10) == 0


def aws(endpoint: str, *args: str) -> str:
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    result = subprocess.run(
        [AWS_CLI, "--endpoint-url", endpoint, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            hasher.update(block)
    return hasher.hexdigest()


def make_tree(root: Path) -> dict[str, str]:
    files = {
        "index.html": b"<h1>hi</h1>",
        "css/site.css": b"body{}",
        "docs/a b/with space.txt": b"spaces",
        "docs/unicode-ключ.txt": "юникод".encode(),
        "empty.txt": b"",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    big = root / "media/big.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    with big.open("wb") as handle:
        for _ in range(100):
            handle.write(os.urandom(MiB))
    return {str(p.relative_to(root)): digest(p) for p in root.rglob("*") if p.is_file()}


def test_aws_cli_cp_sync_ls_rm(standalone: str, tmp_path: Path) -> None:
    source = tmp_path / "source"
    expected = make_tree(source)
    aws(standalone, "s3", "mb", "s3://site")
    aws(standalone, "s3", "cp", str(source / "media/big.bin"), "s3://site/single/big.bin")
    aws(standalone, "s3", "sync", str(source), "s3://site/tree")
    listing = aws(standalone, "s3", "ls", "--recursive", "s3://site/tree/")
    listed = sorted(line.split(maxsplit=3)[3] for line in listing.splitlines())
    assert listed == sorted(f"tree/{name}" for name in expected)
    assert "104857600" in aws(standalone, "s3", "ls", "s3://site/single/")
    head = aws(standalone, "s3api", "head-object", "--bucket", "site", "--key", "single/big.bin")
    assert re.search(r'"ETag": "\\"[0-9a-f]{32}-\d+\\""', head), head  # multipart upload
    restored = tmp_path / "restored"
    aws(standalone, "s3", "sync", "s3://site/tree", str(restored))
    assert {
        str(p.relative_to(restored)): digest(p) for p in restored.rglob("*") if p.is_file()
    } == expected
    # A second sync has nothing to do.
    assert aws(standalone, "s3", "sync", str(source), "s3://site/tree").strip() == ""
    aws(standalone, "s3", "rm", "--recursive", "s3://site/")
    assert aws(standalone, "s3", "ls", "--recursive", "s3://site/").strip() == ""
    aws(standalone, "s3", "rb", "s3://site")
    assert "site" not in aws(standalone, "s3", "ls")
