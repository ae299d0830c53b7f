"""The files a guest boots from besides its base image: the copy-on-write overlay (its disk)
and the cloud-init NoCloud seed (an ISO 9660 volume labelled ``cidata``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from e2e.guest import host_tools
from e2e.guest.spec import COMMAND_SECONDS, GuestError


def meta_data(instance_id: str, hostname: str) -> str:
    """NoCloud ``meta-data`` (JSON is YAML: values are quoted safely)."""
    return f"instance-id: {json.dumps(instance_id)}\nlocal-hostname: {json.dumps(hostname)}\n"


def make_overlay(base: Path, base_format: str, disk: Path, size: str | None = None) -> None:
    """``disk``: a qcow2 overlay over ``base`` (``size``: its virtual size; None: the base's)."""
    disk.parent.mkdir(parents=True, exist_ok=True)
    command = [
        host_tools.program("qemu-img"),
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        str(base.resolve()),
        "-F",
        base_format,
        str(disk),
    ]
    if size:
        command.append(size)
    check_call(command)


def make_seed(
    seed_dir: Path,
    iso: Path,
    *,
    user_data: str,
    meta: str,
    network_config: str | None = None,
) -> None:
    """The seed's files in ``seed_dir`` (made anew) and the ``cidata`` volume ``iso``."""
    shutil.rmtree(seed_dir, ignore_errors=True)
    seed_dir.mkdir(parents=True)
    files = [seed_dir / "user-data", seed_dir / "meta-data"]
    files[0].write_text(user_data)
    files[1].write_text(meta)
    if network_config is not None:
        files.append(seed_dir / "network-config")
        files[-1].write_text(network_config)
    tool = host_tools.program("genisoimage", "xorriso")
    prefix = [tool] if Path(tool).name == "genisoimage" else [tool, "-as", "mkisofs"]
    iso.unlink(missing_ok=True)
    check_call(
        [
            *prefix,
            "-quiet",
            "-output",
            str(iso),
            "-volid",
            "cidata",
            "-joliet",
            "-rock",
            *map(str, files),
        ]
    )


def check_call(command: list[str]) -> None:
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=COMMAND_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GuestError(f"`{' '.join(command)}` failed: {error}") from error
    if completed.returncode != 0:
        raise GuestError(
            f"`{' '.join(command)}` failed ({completed.returncode}):\n"
            + (completed.stdout + completed.stderr)[-2000:]
        )
