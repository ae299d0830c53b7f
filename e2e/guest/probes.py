"""What a boot's output says (pure, on texts): whether the guest cannot boot
(`firmware_failure`, `console_failure`, `qemu_failure`) or is up (`login_ready`), plus the
probes of files and ports the waits poll."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from e2e.guest.spec import CLOUD_INIT_DONE, SSH_BANNER_TIMEOUT_SECONDS

FIRMWARE_FAILURES = ("No bootable device", "Boot failed")
"""SeaBIOS's lines (on its debug port) when the boot disk, then every device, would not boot.
The disk is first in the boot order, so its failure is the guest's."""
CONSOLE_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Kernel panic - not syncing.*"), "the kernel panicked"),
    (
        re.compile(r"ALERT!.*does not exist.*|Gave up waiting for root.*"),
        "the initramfs did not find the root filesystem",
    ),
    (re.compile(r"Could not find kernel image.*"), "the boot loader did not find the kernel"),
)
"""Console lines that end a boot, and what they mean."""
LOGIN_PROMPT = re.compile(r"(?m)^(?!Last login)[A-Za-z0-9][A-Za-z0-9.-]* login: ?")
"""A getty's prompt on the serial console (``<hostname> login:``; kernel messages may follow
on the same line), not the "Last login:" line of a session."""


def firmware_failure(firmware_log: str) -> str | None:
    """Why the firmware did not boot the disk, from its log; None when it did not say."""
    lines = [line.strip() for line in firmware_log.splitlines()]
    failures = [line for line in lines if line.startswith(FIRMWARE_FAILURES)]
    if not failures:
        return None
    return "the firmware found no bootable disk: " + "; ".join(dict.fromkeys(failures))


def console_failure(console: str) -> str | None:
    """The first console line that ends the boot (a kernel panic, no root filesystem)."""
    found: list[tuple[int, str]] = []
    for pattern, meaning in CONSOLE_FAILURES:
        match = pattern.search(console)
        if match:
            found.append((match.start(), f"{meaning}: {match.group(0).strip()}"))
    return min(found)[1] if found else None


def qemu_failure(returncode: int | None, output: str) -> str | None:
    """QEMU exited by itself with an error (``returncode`` None: it still runs)."""
    if returncode is None or returncode == 0:
        return None
    return f"QEMU exited with status {returncode}: {error_lines(output, 3)}"


def login_ready(console: str) -> bool:
    """A login prompt on the console, or cloud-init's final line: a user can log in."""
    return bool(LOGIN_PROMPT.search(console) or CLOUD_INIT_DONE.search(console))


def error_lines(text: str, count: int) -> str:
    """QEMU's first ``count`` lines of output after its command line, joined."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("$ ")]
    return " | ".join(lines[:count]) or "no output"


def read_from(path: Path, offset: int) -> str:
    """``path``'s text from byte ``offset`` ('' when missing)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def free_port(host_address: str = "127.0.0.1") -> int:
    """A TCP port free on ``host_address`` now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host_address, 0))
        port: int = sock.getsockname()[1]
        return port


def ssh_banner(host: str, port: int, timeout: float = SSH_BANNER_TIMEOUT_SECONDS) -> str:
    """The SSH identification line the server at ``host:port`` sends, or '' (none yet)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = sock.recv(256)
    except OSError:
        return ""
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return line if line.startswith("SSH-") else ""
