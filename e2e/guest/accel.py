"""KVM or TCG: which accelerator a guest tries first, and what this process learnt about KVM.

``auto`` tries KVM first and falls back to TCG when KVM is unusable (see `Guest.start`). The
verdict is remembered for the process when it is certain (the guest's init started under KVM,
or a KVM internal error), so later guests do not probe again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from e2e.guest import probes
from e2e.guest.process import QemuProcess
from e2e.guest.spec import (
    ACCEL_ENV,
    ACCELS,
    KVM_FAILURE_MARKERS,
    KVM_OK_MARKERS,
    KVM_PROBE_SECONDS,
    POLL_SECONDS,
    BootInfo,
    GuestError,
)


@dataclass
class KvmVerdict:
    works: bool | None = None
    reason: str = ""

    def remember(self, works: bool, reason: str = "") -> None:
        self.works, self.reason = works, reason


KVM = KvmVerdict()
"""What this process found out about KVM (None: not yet)."""


def reset_kvm_verdict() -> None:
    """Forget what was learnt about KVM (tests)."""
    KVM.works = None
    KVM.reason = ""


def kvm_device_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def first_accel(requested: str) -> tuple[str, str, bool]:
    """(accel to try first, why not KVM, whether that accel was asked for explicitly), for a
    spec's ``accel`` (``auto``: ``$NIMBUS_GUEST_ACCEL`` may say otherwise)."""
    wanted = requested
    if wanted == "auto":
        wanted = os.environ.get(ACCEL_ENV, "auto") or "auto"
    if wanted not in ACCELS:
        raise GuestError(f"${ACCEL_ENV} must be one of {ACCELS}, not {wanted!r}")
    if wanted == "tcg":
        return "tcg", "TCG requested", True
    if not kvm_device_usable():
        if wanted == "kvm":
            raise GuestError("KVM requested but /dev/kvm is not usable")
        return "tcg", "/dev/kvm is not usable", False
    if wanted == "auto" and KVM.works is False:
        return "tcg", f"{KVM.reason} (found earlier in this process)", False
    return "kvm", "", wanted == "kvm"


def probe_kvm(
    qemu: QemuProcess, qmp: Path, console_log: Path, firmware_log: Path, boot: BootInfo
) -> str:
    """'' when the guest started under KVM runs (or its disk cannot boot: not KVM's fault);
    else why KVM fails. Certain verdicts are remembered in `KVM`."""
    deadline = time.monotonic() + KVM_PROBE_SECONDS
    while time.monotonic() < deadline:
        console = probes.read_from(console_log, boot.console_offset)
        if any(marker in console for marker in KVM_OK_MARKERS):
            KVM.remember(True)
            return ""
        if probes.firmware_failure(probes.read_from(firmware_log, boot.firmware_offset)):
            return ""  # the firmware ran; the disk is what does not boot
        output = qemu.output()
        failure = next((m for m in KVM_FAILURE_MARKERS if m in output), "")
        status = qemu.status(qmp)
        if failure or status in {"internal-error", "guest-panicked"}:
            reason = f"KVM {failure or status}: " + probes.error_lines(output, 3)
            KVM.remember(False, reason)
            return reason
        if not qemu.is_running():
            return "QEMU exited under KVM: " + probes.error_lines(output, 3)
        time.sleep(POLL_SECONDS)
    silent = not probes.read_from(console_log, boot.console_offset).strip()
    if silent and not probes.read_from(firmware_log, boot.firmware_offset).strip():
        # Neither the firmware nor a boot loader or kernel wrote anything: KVM is stuck.
        reason = f"no firmware or console output under KVM in {KVM_PROBE_SECONDS:.0f} s"
        KVM.remember(False, reason)
        return reason
    if silent:
        return f"no console output under KVM in {KVM_PROBE_SECONDS:.0f} s"
    return f"the guest's init did not start under KVM in {KVM_PROBE_SECONDS:.0f} s"
