"""What the launcher boots for a VMI, resolved by the stand-in (pure: dicts in, a dict out).

virt-handler turns a VMI into a libvirt domain and hands it to virt-launcher; here the
stand-in turns it into a *launch*, a JSON document the launcher pod gets in `LAUNCH_ENV`:

- ``cpus`` (``domain.cpu`` sockets x cores x threads, else the CPU request rounded up, else 1)
  and ``memoryMiB`` (``domain.memory.guest``, else the memory request or limit);
- ``disks`` in boot order (``bootOrder`` first, then as listed): each a ``path`` to the qcow2
  the guest writes (a DataVolume's or claim's disk, kept across VMIs) or, for a containerDisk,
  a ``base`` that the launcher overlays in its own directory (lost with the VMI, as a
  containerDisk's writes are), and the disk's ``serial``;
- ``cloudInit``: NoCloud ``userData``/``networkData`` (inline, base64, or a file of the
  Secret mounted at `secret_mount`);
- ``ports``: the pod network interface's declared ports, forwarded from the pod IP (with none
  declared KubeVirt forwards every port; the launcher forwards 22 only);
- ``problems``: what the launcher cannot do for this VMI; a launch with problems fails the VMI
  with them as its message, instead of booting something else than was asked.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from e2e.kubevirt_standin.objects import Obj, name_of, namespace_of, spec, uid_of
from e2e.nodeagent.downward import parse_quantity

LAUNCH_ENV = "STANDIN_LAUNCH"
POD_IP_ENV = "STANDIN_POD_IP"
SECRET_MOUNT_ROOT = "/var/run/kubevirt-private/secret"
DEFAULT_PORTS = ({"port": 22, "protocol": "TCP"},)
MIB = 1 << 20
DEFAULT_GRACE_SECONDS = 180
"""KubeVirt's terminationGracePeriodSeconds when a VMI does not say."""
DiskResolver = Callable[[Obj], Mapping[str, Any] | str]
"""A VMI volume -> ``{"path": ...}`` or ``{"base": ..., "format": ...}``, or a problem."""


def secret_mount(volume_name: str, kind: str) -> str:
    """Where the launcher pod mounts the Secret behind a cloud-init volume's secret ref."""
    return f"{SECRET_MOUNT_ROOT}/{volume_name}/{kind}"


def launch_for(vmi: Obj, workdir: Path, resolve_disk: DiskResolver) -> Obj:
    """The launch of ``vmi``; what cannot be read from its spec (no webhook checked it here)
    is one of its ``problems``, never an exception."""
    try:
        return _launch(vmi, workdir, resolve_disk)
    except (ValueError, TypeError, KeyError, binascii.Error) as error:
        return {
            "name": name_of(vmi),
            "namespace": namespace_of(vmi),
            "workdir": str(workdir),
            "problems": [f"the VMI's spec cannot be launched: {error}"],
        }


def _launch(vmi: Obj, workdir: Path, resolve_disk: DiskResolver) -> Obj:
    vmi_spec = spec(vmi)
    domain = vmi_spec.get("domain") or {}
    devices = domain.get("devices") or {}
    volumes = {volume.get("name"): volume for volume in vmi_spec.get("volumes") or []}
    problems: list[str] = []
    disks: list[Obj] = []
    cloud_init: Obj = {}
    for disk in _boot_ordered(devices.get("disks") or []):
        name = str(disk.get("name", ""))
        volume = volumes.get(name)
        if volume is None:
            problems.append(f"disk {name} has no volume")
            continue
        if "cloudInitNoCloud" in volume:
            cloud_init = _cloud_init(name, volume["cloudInitNoCloud"])
            continue
        resolved = resolve_disk(volume)
        if isinstance(resolved, str):
            problems.append(resolved)
            continue
        if disks and "path" not in resolved:
            problems.append(f"disk {name}: a containerDisk is booted only as the root disk")
            continue
        disks.append({"name": name, "serial": disk.get("serial") or "", **resolved})
    if not disks:
        problems.append("the VMI has no disk the launcher can boot")
    return {
        "name": name_of(vmi),
        "namespace": namespace_of(vmi),
        "uid": uid_of(vmi),
        "hostname": vmi_spec.get("hostname") or name_of(vmi),
        # KubeVirt's NoCloud instance-id: the same across restarts, so cloud-init's
        # once-per-instance modules run once per server, not once per boot.
        "instanceId": f"{name_of(vmi)}.{namespace_of(vmi)}",
        "cpus": vcpus(domain),
        "memoryMiB": memory_mib(domain),
        "disks": disks,
        "cloudInit": cloud_init,
        "ports": ports(devices),
        "workdir": str(workdir),
        "graceSeconds": _grace(vmi_spec),
        "problems": problems,
    }


def _grace(vmi_spec: Obj) -> int:
    """The VMI's termination grace period: KubeVirt's default when unset; 0 means at once."""
    grace = vmi_spec.get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE_SECONDS if grace is None else int(grace)


def secret_volumes(vmi: Obj) -> list[tuple[str, str, str]]:
    """(volume name, kind, Secret name) of every cloud-init secret ref, to mount in the pod."""
    found = []
    for volume in spec(vmi).get("volumes") or []:
        source = volume.get("cloudInitNoCloud")
        if not source:
            continue
        for kind, field in (("userdata", "secretRef"), ("networkdata", "networkDataSecretRef")):
            ref = source.get(field) or {}
            if ref.get("name"):
                found.append((str(volume["name"]), kind, str(ref["name"])))
    return found


def vcpus(domain: Obj) -> int:
    cpu = domain.get("cpu") or {}
    if any(cpu.get(key) for key in ("sockets", "cores", "threads")):
        return (
            int(cpu.get("sockets") or 1) * int(cpu.get("cores") or 1) * int(cpu.get("threads") or 1)
        )
    resources = domain.get("resources") or {}
    for group in ("requests", "limits"):
        wanted = (resources.get(group) or {}).get("cpu")
        if wanted:
            return max(1, math.ceil(parse_quantity(str(wanted))))
    return 1


def memory_mib(domain: Obj) -> int:
    resources = domain.get("resources") or {}
    wanted = (
        (domain.get("memory") or {}).get("guest")
        or (resources.get("requests") or {}).get("memory")
        or (resources.get("limits") or {}).get("memory")
        or "1Gi"
    )
    return max(64, int(parse_quantity(str(wanted)) // MIB))


def ports(devices: Obj) -> list[Obj]:
    interfaces = devices.get("interfaces") or []
    declared = (interfaces[0].get("ports") or []) if interfaces else []
    found = [
        {"port": int(port["port"]), "protocol": str(port.get("protocol") or "TCP").upper()}
        for port in declared
        if port.get("port")
    ]
    return found or [dict(port) for port in DEFAULT_PORTS]


def _boot_ordered(disks: list[Obj]) -> list[Obj]:
    ordered = sorted(
        (disk for disk in disks if disk.get("bootOrder")), key=lambda disk: int(disk["bootOrder"])
    )
    return ordered + [disk for disk in disks if not disk.get("bootOrder")]


def _cloud_init(volume_name: str, source: Obj) -> Obj:
    found: Obj = {}
    for kind, inline, encoded, ref in (
        ("userData", "userData", "userDataBase64", "secretRef"),
        ("networkData", "networkData", "networkDataBase64", "networkDataSecretRef"),
    ):
        if source.get(inline):
            found[kind] = str(source[inline])
        elif source.get(encoded):
            found[kind] = base64.b64decode(str(source[encoded])).decode()
        elif (source.get(ref) or {}).get("name"):
            found[f"{kind}Dir"] = secret_mount(volume_name, kind.lower())
    return found
