"""From a launch to a running guest, and back down (see the package's docstring)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.guest.qemu import (
    BOOT_DEADLINE_SECONDS,
    SHUTDOWN_DEADLINE_SECONDS,
    ExtraDisk,
    Guest,
    GuestError,
    GuestSpec,
    PortForward,
)
from e2e.kubevirt_standin.launcher import report

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
SECRET_KEYS = {"userdata": ("userdata", "userData"), "networkdata": ("networkdata", "networkData")}
"""The Secret keys KubeVirt reads for NoCloud user and network data."""


class LaunchError(Exception):
    """The launch cannot be booted as asked; the message is the VMI's failure."""


@dataclass(frozen=True)
class Outcome:
    phase: str
    message: str
    exit_code: int


def guest_spec(launch: dict[str, Any], pod_ip: str) -> GuestSpec:
    """The QEMU guest of ``launch``, its ports forwarded from ``pod_ip``."""
    if launch.get("problems"):
        raise LaunchError("; ".join(launch["problems"]))
    root, *others = launch["disks"]
    cloud_init = launch.get("cloudInit") or {}
    ports = [port for port in launch.get("ports") or [] if port["port"] != 22]
    return GuestSpec(
        name=launch["name"],
        base_disk=Path(root.get("base") or root["path"]),
        base_format=root.get("format") or "qcow2",
        disk_path=Path(root["path"]) if root.get("path") else None,
        kernel=None,
        initrd=None,
        extra_disks=tuple(
            ExtraDisk(Path(disk["path"]), serial=disk.get("serial") or "") for disk in others
        ),
        cpus=int(launch["cpus"]),
        memory_mib=int(launch["memoryMiB"]),
        user_data=_cloud_init_text(cloud_init, "userData") or "",
        network_config=_cloud_init_text(cloud_init, "networkData"),
        instance_id=launch["instanceId"],
        hostname=launch["hostname"],
        ssh_port=22,
        forwards=tuple(
            PortForward(port["port"], port["port"], port["protocol"].lower()) for port in ports
        ),
        host_address=pod_ip,
    )


def _cloud_init_text(cloud_init: dict[str, Any], kind: str) -> str | None:
    if cloud_init.get(kind) is not None:
        return str(cloud_init[kind])
    directory = cloud_init.get(f"{kind}Dir")
    if not directory:
        return None
    for key in SECRET_KEYS[kind.lower()]:
        path = Path(directory) / key
        if path.exists():
            return path.read_text()
    raise LaunchError(
        f"the cloud-init Secret mounted at {directory} has no key "
        + " or ".join(SECRET_KEYS[kind.lower()])
    )


def run(launch: dict[str, Any], pod_ip: str, stop: threading.Event) -> Outcome:
    """Boot ``launch``, report, and return once the guest is gone (or never came)."""
    workdir = Path(launch["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        spec = guest_spec(launch, pod_ip)
    except LaunchError as error:
        return _report(workdir, report.FAILED, str(error), 1)
    try:
        return _boot(spec, launch, workdir, stop)
    except Exception as error:  # whatever it was, the VMI must learn why it failed
        log.exception("launcher failed")
        return _report(workdir, report.FAILED, f"the launcher failed: {error!r}", 1)
    finally:
        if spec.disk_path is None:
            # A containerDisk's overlay: what the guest wrote goes with the instance.
            (workdir / "disk.qcow2").unlink(missing_ok=True)


def _boot(spec: GuestSpec, launch: dict[str, Any], workdir: Path, stop: threading.Event) -> Outcome:
    with Guest(spec, workdir) as guest:
        report.write(workdir, report.BOOTING, message="starting QEMU")
        try:
            boot = guest.start()
        except GuestError as error:
            return _report(workdir, report.FAILED, f"QEMU did not start: {_first_line(error)}", 1)
        facts = {
            "accel": boot.accel,
            "kvmError": boot.kvm_error,
            "qemuPid": boot.pid,
            "address": f"{boot.host_address}",
            "forwards": [f"{f.protocol}/{f.host_port}->{f.guest_port}" for f in boot.forwards],
        }
        report.write(workdir, report.BOOTING, message=f"booting under {boot.accel}", **facts)
        failure = _wait_until_up(guest, stop, boot.started_at)
        if failure is not None:
            guest.kill()
            return _report(workdir, report.FAILED, failure, 1, **facts)
        if not stop.is_set():
            up = time.monotonic() - boot.started_at
            report.write(
                workdir, report.RUNNING, message=f"up after {up:.0f} s", upSeconds=up, **facts
            )
            log.info("guest %s up after %.1f s (%s)", spec.name, up, boot.accel)
            while not stop.wait(POLL_SECONDS):
                if not guest.is_running():
                    return _ended_by_itself(guest, workdir, facts)
        return _shut_down(guest, workdir, launch, facts)


def _wait_until_up(guest: Guest, stop: threading.Event, started_at: float) -> str | None:
    """None once the guest is up (or a stop was asked), else why it will not come up."""
    deadline = started_at + BOOT_DEADLINE_SECONDS
    while not stop.is_set():
        failure = guest.boot_failure()
        if failure is not None:
            return f"the guest did not boot: {failure}"
        if guest.is_up():
            return None
        if not guest.is_running():
            return f"QEMU exited ({guest.returncode}) before the guest was up"
        if time.monotonic() >= deadline:
            return (
                f"the guest was not up {BOOT_DEADLINE_SECONDS:.0f} s after it started "
                "(no login prompt or cloud-init result on its console)"
            )
        stop.wait(POLL_SECONDS)
    return None


def _ended_by_itself(guest: Guest, workdir: Path, facts: dict[str, Any]) -> Outcome:
    code = guest.returncode
    if code == 0:
        return _report(workdir, report.STOPPED, "the guest powered off", 0, **facts)
    return _report(workdir, report.FAILED, f"QEMU exited with status {code}", 1, **facts)


def _shut_down(
    guest: Guest, workdir: Path, launch: dict[str, Any], facts: dict[str, Any]
) -> Outcome:
    """SIGTERM: the ACPI power button, then QEMU killed once the grace period is over."""
    grace = min(float(launch.get("graceSeconds", 0)), SHUTDOWN_DEADLINE_SECONDS)
    report.write(workdir, report.RUNNING, message="shutting down", **facts)
    how = "shut down"
    if grace <= 0:
        how = "stopped at once (grace period 0)"
        guest.kill()
    else:
        try:
            guest.powerdown()
            guest.wait_for_exit(grace)
        except GuestError as error:
            how = f"killed ({_first_line(error)})"
            guest.kill()
    return _report(workdir, report.STOPPED, f"the guest was {how} on request", 0, **facts)


def _report(workdir: Path, phase: str, message: str, code: int, **facts: Any) -> Outcome:
    report.write(workdir, phase, message=message, **facts)
    (log.warning if phase == report.FAILED else log.info)("%s: %s", phase, message)
    return Outcome(phase, message, code)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
