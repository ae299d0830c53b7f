"""The server as a KubeVirt ``kubevirt.io/v1`` VirtualMachine (pure).

Field names are those of kubevirt.io/api core/v1 (v1.7): ``runStrategy`` (never the
deprecated ``running``), ``domain.cpu.dedicatedCpuPlacement``, ``domain.memory.hugepages
.pageSize``, ``devices.gpus`` / ``devices.hostDevices`` ``{name, deviceName}``,
``cloudInitNoCloud.secretRef``, ``dataVolumeTemplates``.

Networking: the server's one network is the pod network with KubeVirt's masquerade binding;
its interface forwards the declared ports only (KubeVirt's own rule: with no ports listed, the
guest gets every port). KubeVirt's masquerade forwards TCP and UDP ports only (its webhook
rejects any other protocol), so when an SCTP port is declared the list is left out and every
port reaches the guest; the Service still exposes the declared ports alone.
"""

from __future__ import annotations

from typing import Any

from nimbus_operator.models.compute.serverparts import PowerState, Protocol
from nimbus_operator.render.compute.design import ServerDesign
from nimbus_operator.render.compute.disks import data_volume_templates, disks, volumes
from nimbus_operator.render.compute.meta import owner_reference
from nimbus_operator.render.compute.names import KUBEVIRT_API_VERSION
from nimbus_operator.render.compute.placement import (
    affinity,
    node_selector,
)

RUN_STRATEGIES = {PowerState.RUNNING: "Always", PowerState.STOPPED: "Halted"}
FORWARDED_PROTOCOLS = (Protocol.TCP, Protocol.UDP)


def run_strategy(power_state: PowerState) -> str:
    """KubeVirt's runStrategy for a power state: Always (restarted if it stops) or Halted."""
    return RUN_STRATEGIES[power_state]


def _cpu(design: ServerDesign) -> dict[str, Any]:
    spec = design.flavor.spec
    cpu: dict[str, Any] = {"cores": spec.vcpus, "sockets": 1, "threads": 1}
    if spec.extra_specs.dedicated_cpus:
        cpu["dedicatedCpuPlacement"] = True
    return cpu


def _memory(design: ServerDesign) -> dict[str, Any]:
    spec = design.flavor.spec
    memory: dict[str, Any] = {"guest": spec.memory}
    if spec.extra_specs.hugepages is not None:
        memory["hugepages"] = {"pageSize": spec.extra_specs.hugepages.page_size.value}
    return memory


def _interface(design: ServerDesign) -> dict[str, Any]:
    interface: dict[str, Any] = {"name": design.network.name, "masquerade": {}}
    ports = design.ports
    if ports and all(port.protocol in FORWARDED_PROTOCOLS for port in ports):
        interface["ports"] = [
            {"name": port.name, "port": port.port, "protocol": port.protocol.value}
            for port in ports
        ]
    return interface


def _devices(design: ServerDesign) -> dict[str, Any]:
    extra = design.flavor.spec.extra_specs
    devices: dict[str, Any] = {
        "disks": disks(design),
        "interfaces": [_interface(design)],
    }
    if extra.gpus:
        devices["gpus"] = [{"name": d.name, "deviceName": d.device_name} for d in extra.gpus]
    if extra.host_devices:
        devices["hostDevices"] = [
            {"name": d.name, "deviceName": d.device_name} for d in extra.host_devices
        ]
    return devices


def _template_spec(design: ServerDesign) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "domain": {
            "cpu": _cpu(design),
            "memory": _memory(design),
            "resources": {"requests": {"memory": design.flavor.spec.memory}},
            "devices": _devices(design),
        },
        "networks": [{"name": design.network.name, "pod": {}}],
        "volumes": volumes(design),
    }
    selector = node_selector(design)
    if selector:
        spec["nodeSelector"] = selector
    placement = affinity(design)
    if placement:
        spec["affinity"] = placement
    return spec


def build_virtual_machine(design: ServerDesign) -> dict[str, Any]:
    """The server's VirtualMachine, named as the server and owned by it."""
    labels = design.labels()
    annotations = design.annotations()
    spec: dict[str, Any] = {"runStrategy": run_strategy(design.server.spec.power_state)}
    templates = data_volume_templates(design)
    if templates:
        spec["dataVolumeTemplates"] = templates
    spec["template"] = {
        "metadata": {"labels": dict(labels), "annotations": dict(annotations)},
        "spec": _template_spec(design),
    }
    return {
        "apiVersion": KUBEVIRT_API_VERSION,
        "kind": "VirtualMachine",
        "metadata": {
            "name": design.name,
            "namespace": design.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(design)],
        },
        "spec": spec,
    }
