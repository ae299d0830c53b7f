"""Which VMIs boot a real guest, and where the stand-in keeps disks and launcher files.

Booting a guest under TCG costs about a minute of one core, so the stand-in boots them only
where asked (``--guests``):

- ``none``: no VMI boots; the launcher pod runs a sleeping process (the fast tier);
- ``all``: every VMI boots (the demo cluster of ``make up``);
- ``labelled``: VMIs in namespaces labelled ``standin.e2e.nimbus.dev/guests=qemu`` boot (the
  e2e test cluster, where most tests only need KubeVirt's states).

In a namespace that boots guests, DataVolumes are really imported (`importer`) and the launcher
pod runs `e2e.kubevirt_standin.launcher`, which boots QEMU from the VMI's spec. Their files
live in the stand-in's state directory (``--state-dir``, inside the cluster's run directory,
so the node agent lets a launcher pod mount it):

- ``datavolumes/<namespace>/<name>-<uid>/``: a DataVolume's claim contents: ``source.img``
  (what was imported, as downloaded, or a flattened clone) and ``disk.qcow2`` (a copy-on-write
  overlay over it, of the claim's size: what the guest writes; kept across VMIs, so a stopped
  server starts again with its disk);
- ``launchers/<vmi uid>/``: one VMI's launcher: ``status.json``, the console and QEMU logs.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from e2e.kubevirt_standin.kube import Kube
from e2e.kubevirt_standin.objects import Obj, labels, name_of, namespace_of, uid_of

GUEST_CONTAINER_DISK = "localhost/nimbus-guest"
"""The one containerDisk repository the launcher boots (any tag): the cached guest image of
e2e/guest (``python -m e2e.guest build``), since no registry can be pulled from here."""
GUESTS_LABEL = "standin.e2e.nimbus.dev/guests"
GUESTS_LABEL_VALUE = "qemu"
NAMESPACE_CACHE_SECONDS = 10.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class GuestMode(StrEnum):
    NONE = "none"
    ALL = "all"
    LABELLED = "labelled"


@dataclass
class Guests:
    """The ``--guests`` policy and the state directory."""

    mode: GuestMode
    state_dir: Path
    kube: Kube | None = None
    _namespaces: dict[str, tuple[bool, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def boot_in(self, namespace: str) -> bool:
        """Whether VMIs of ``namespace`` boot real guests."""
        if self.mode == GuestMode.NONE:
            return False
        if self.mode == GuestMode.ALL:
            return True
        with self._lock:
            cached = self._namespaces.get(namespace)
        if cached is not None and time.monotonic() - cached[1] < NAMESPACE_CACHE_SECONDS:
            return cached[0]
        found = self.kube.read("namespace", "", namespace) if self.kube is not None else None
        boots = found is not None and labels(found).get(GUESTS_LABEL) == GUESTS_LABEL_VALUE
        with self._lock:
            self._namespaces[namespace] = (boots, time.monotonic())
        return boots

    def datavolume_dir(self, namespace: str, name: str, uid: str) -> Path:
        return self.state_dir / "datavolumes" / _safe(namespace) / f"{_safe(name)}-{_safe(uid)[:8]}"

    def datavolume_dir_of(self, dv: Obj) -> Path:
        return self.datavolume_dir(namespace_of(dv), name_of(dv), uid_of(dv))

    def forget_datavolume(self, namespace: str, name: str) -> None:
        """Remove the files of every DataVolume ``namespace/name`` that is gone (CDI deletes a
        claim's data with the claim). A guest still running on them keeps its open files."""
        pattern = f"{_safe(name)}-*"
        for directory in (self.state_dir / "datavolumes" / _safe(namespace)).glob(pattern):
            if directory.name.rpartition("-")[0] == _safe(name):
                shutil.rmtree(directory, ignore_errors=True)

    def launcher_dir(self, vmi: Obj) -> Path:
        return self.state_dir / "launchers" / _safe(uid_of(vmi))

    def resolve_disk(
        self, namespace: str, volume: Obj, find_dv: Callable[[str, str], Obj | None]
    ) -> dict[str, str] | str:
        """Where a VMI volume's disk is (``{"path"}``, or ``{"base", "format"}`` for a
        containerDisk), or why the launcher cannot attach it."""
        name = volume.get("name", "")
        if "containerDisk" in volume:
            reference = str(volume["containerDisk"].get("image", ""))
            if reference.rpartition(":")[0] != GUEST_CONTAINER_DISK and reference != (
                GUEST_CONTAINER_DISK
            ):
                return (
                    f"containerDisk {reference} cannot be pulled: the stand-in launcher "
                    f"boots only {GUEST_CONTAINER_DISK}:<tag> (the cached guest image)"
                )
            from e2e.guest.image import cached_image  # the guest tier's own modules

            image = cached_image()
            if image is None:
                return (
                    f"containerDisk {reference}: no guest image is cached; build it with "
                    "python -m e2e.guest build"
                )
            return {"base": str(image.disk), "format": "qcow2"}
        if "dataVolume" in volume:
            claim = str(volume["dataVolume"].get("name", ""))
        elif "persistentVolumeClaim" in volume:
            claim = str(volume["persistentVolumeClaim"].get("claimName", ""))
        else:
            kinds = ", ".join(key for key in volume if key != "name")
            return f"volume {name}: the stand-in launcher cannot attach {kinds} volumes"
        dv = find_dv(namespace, claim)
        if dv is None:
            return (
                f"volume {name}: claim {claim} was not made by a DataVolume the stand-in imported"
            )
        disk = disk_of(self.datavolume_dir_of(dv))
        if not disk.exists():
            return f"volume {name}: DataVolume {claim} holds no imported disk"
        return {"path": str(disk)}


def disk_of(datavolume_dir: Path) -> Path:
    """The disk a guest uses: the overlay over what was imported."""
    return datavolume_dir / "disk.qcow2"


def source_of(datavolume_dir: Path) -> Path:
    return datavolume_dir / "source.img"


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)
