"""The container shim: ``python -m e2e.nodeagent.shim SPEC.json`` runs one container.

What containerd's shim and runc do for a kubelet, in small. The shim

1. enters a new mount, UTS and PID namespace and sets the pod's hostname;
2. builds the container's root: an overlay whose lower layer is this machine's root filesystem
   (so the project's virtualenv and the system's tools are there, as in the project's image) and
   whose upper layer is the container's own directory, so nothing the container writes outside
   its volumes reaches the host; ``/dev`` and ``/sys`` are bound inside it, and the child mounts
   its own ``/proc``;
3. bind-mounts every volume at its ``mountPath`` (read-only where asked) and the pod's network
   files (``/etc/hosts``) over the image's;
4. forks: the child is PID 1 of the container's PID namespace (so when it ends, the kernel
   ends every process it left behind, and, as in any container, it ignores signals it has no
   handler for); it chroots into the root, changes to the working directory and execs the
   container's command with its environment. The shim stays as the container's parent, passes
   SIGTERM, SIGINT and SIGHUP on, and writes the exit status to ``exit_file`` when it ends.

The shim is its session's leader, so the agent can SIGKILL the whole container with one
``killpg``. The agent finds the shim again after its own restart by PID and command line.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWPID = 0x20000000
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
EXEC_FAILED_EXIT_CODE = 127

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source} on {target}",
    )


def enter_namespaces(hostname: str) -> None:
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    encoded = hostname.encode()
    _check(_libc.sethostname(encoded, ctypes.c_size_t(len(encoded))), "sethostname")


def build_root(rootfs: dict[str, str]) -> Path:
    merged = Path(rootfs["merged"])
    for key in ("upper", "work", "merged"):
        Path(rootfs[key]).mkdir(parents=True, exist_ok=True)
    options = f"lowerdir=/,upperdir={rootfs['upper']},workdir={rootfs['work']}"
    mount("overlay", str(merged), "overlay", 0, options)
    for system_dir in ("dev", "sys"):
        mount(f"/{system_dir}", str(merged / system_dir), None, MS_BIND | MS_REC)
    return merged


def path_in_root(root: Path, target: str, *, make_dirs: bool) -> Path:
    """``target`` as seen from inside ``root``: symlinks on the way are followed within the
    root (``/var/run`` -> ``/run`` is the container's /run, never the host's), missing
    directories are created inside it when ``make_dirs``."""
    current = root
    parts = [part for part in target.split("/") if part not in ("", ".")]
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if candidate.is_symlink():
            hops += 1
            if hops > 40:
                raise OSError(f"too many symlinks resolving {target}")
            link = os.readlink(candidate)
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
            current = root if link.startswith("/") else current
            continue
        if parts and make_dirs and not candidate.exists():
            candidate.mkdir()
        current = candidate
    return current


def bind(root: Path, source: str, target: str, read_only: bool) -> None:
    inside = path_in_root(root, target, make_dirs=True)
    if Path(source).is_dir():
        inside.mkdir(exist_ok=True)
    else:
        if inside.is_dir():
            raise OSError(f"cannot mount file {source} over directory {target}")
        inside.touch(exist_ok=True)
    mount(source, str(inside), None, MS_BIND | MS_REC)
    if read_only:
        mount(None, str(inside), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def run_container(spec: dict[str, Any]) -> int:
    enter_namespaces(spec["hostname"])
    root = build_root(spec["rootfs"])
    for item in spec["mounts"]:
        bind(root, item["source"], item["target"], bool(item.get("read_only")))
    # Signals wait until the forwarding handlers are in place: none may kill the shim alone.
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED_SIGNALS)
    child = os.fork()
    if child == 0:
        _exec_child(root, spec)
    Path(spec["pid_file"]).write_text(str(child))
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, lambda received, _frame: os.kill(child, received))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED_SIGNALS)
    while True:
        try:
            _pid, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    result: dict[str, float] = {"exitCode": os.WEXITSTATUS(status), "signal": 0}
    if os.WIFSIGNALED(status):
        result["exitCode"] = 128 + os.WTERMSIG(status)
        result["signal"] = os.WTERMSIG(status)
    result["finishedAt"] = time.time()
    exit_file = Path(spec["exit_file"])
    partial = exit_file.with_suffix(".tmp")
    partial.write_text(json.dumps(result))
    partial.rename(exit_file)
    return 0


def _exec_child(root: Path, spec: dict[str, Any]) -> None:
    try:
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED_SIGNALS)
        mount("proc", str(root / "proc"), "proc", 0)
        os.chroot(root)
        os.chdir(spec["working_dir"] or "/")
        argv = spec["argv"]
        os.execve(argv[0], argv, spec["env"])
    except OSError as error:
        print(f"nimbus shim: cannot start {spec['argv'][:1]}: {error}", file=sys.stderr)
    os._exit(EXEC_FAILED_EXIT_CODE)


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    try:
        return run_container(spec)
    except OSError as error:
        print(f"nimbus shim: {error}", file=sys.stderr, flush=True)
        exit_file = Path(spec["exit_file"])
        exit_file.write_text(
            json.dumps(
                {"exitCode": 128, "signal": 0, "finishedAt": time.time(), "error": str(error)}
            )
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
