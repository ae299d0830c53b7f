"""SSH into a guest with the ``ssh`` client: key pairs and commands (no host key checks: each
guest makes new host keys on its first boot)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from e2e.guest import host_tools
from e2e.guest.image import DEFAULT_USER

CONNECT_TIMEOUT_SECONDS = 15
COMMAND_TIMEOUT_SECONDS = 60.0
RETRY_SECONDS = 2.0


class SshError(RuntimeError):
    """The command could not be run in the guest (login refused, connection failed)."""


def keygen(private_key: Path, comment: str = "nimbus-e2e") -> str:
    """Make an ed25519 key pair (``private_key`` and ``private_key.pub``, no passphrase), as a
    KeyPair's user would; returns the public key line."""
    subprocess.run(
        [
            host_tools.program("ssh-keygen"),
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            comment,
            "-f",
            str(private_key),
        ],
        check=True,
        capture_output=True,
    )
    return private_key.with_name(private_key.name + ".pub").read_text().strip()


def ssh_command(
    host: str, port: int, private_key: Path, command: str, user: str = DEFAULT_USER
) -> list[str]:
    """The ``ssh`` command line that runs ``command`` in the guest (pure)."""
    return [
        "ssh",
        "-i",
        str(private_key),
        "-p",
        str(port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        "-o",
        f"ConnectTimeout={CONNECT_TIMEOUT_SECONDS}",
        "-F",
        "/dev/null",
        f"{user}@{host}",
        command,
    ]


def ssh_run(
    host: str,
    port: int,
    private_key: Path,
    command: str,
    *,
    user: str = DEFAULT_USER,
    timeout: float = COMMAND_TIMEOUT_SECONDS,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the guest once; ssh's own failures (exit 255) raise `SshError`,
    the command's exit status is the result's."""
    argv = ssh_command(host, port, private_key, command, user)
    argv[0] = host_tools.program("ssh")
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise SshError(
            f"ssh {user}@{host}:{port} {command!r}: no answer in {timeout:.0f} s"
        ) from error
    if completed.returncode == 255:
        raise SshError(f"ssh {user}@{host}:{port}: {completed.stderr.strip() or 'failed'}")
    return completed


def ssh_until(
    host: str,
    port: int,
    private_key: Path,
    command: str,
    *,
    timeout: float,
    user: str = DEFAULT_USER,
) -> subprocess.CompletedProcess[str]:
    """`ssh_run` retried until it logs in (a guest's sshd may answer before cloud-init has
    installed the keys) or ``timeout`` passes; the last error is raised."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ssh_run(host, port, private_key, command, user=user)
        except SshError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(RETRY_SECONDS)
