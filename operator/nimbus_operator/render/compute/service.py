"""The Service in front of a server's declared ports (pure)."""

from __future__ import annotations

from typing import Any

from nimbus_operator.render.compute.design import ServerDesign
from nimbus_operator.render.compute.meta import owned_meta


def build_service(design: ServerDesign) -> dict[str, Any] | None:
    """A ClusterIP Service named as the server, selecting its virt-launcher pod by the server
    label (KubeVirt copies the VM template's labels to the pod), one port per declared port;
    None when the server declares no port."""
    ports = design.ports
    if not ports:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owned_meta(design, design.name),
        "spec": {
            "type": "ClusterIP",
            "selector": design.selector(),
            "ports": [
                {
                    "name": port.name,
                    "port": port.port,
                    "targetPort": port.port,
                    "protocol": port.protocol.value,
                }
                for port in ports
            ],
        },
    }
