"""A server's status in Nova's words, from what KubeVirt reports."""

from __future__ import annotations

import time
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.models.compute.virtualserver import ServerStatus, VirtualServer
from nimbus_operator.reconcilers.status import ConditionTuple, Report, now_text
from nimbus_operator.render.compute import ServerState

ZONE_LABEL = "topology.kubernetes.io/zone"
PHASES = {"ACTIVE": "Ready", "SHUTOFF": "Ready", "ERROR": "Failed"}


def error_report(previous: dict[str, Any], reason: str, message: str, code: int) -> Report:
    """ERROR with a fault a person can act on (the fault keeps its time while it holds)."""
    old = previous.get("fault") or {}
    created = old.get("created") if old.get("message") == message else None
    fields = {
        "status": "ERROR",
        "fault": {"message": message, "code": code, "created": created or now_text()},
        "taskState": None,
    }
    conditions: list[ConditionTuple] = [
        ("Ready", False, reason, message),
        ("Progressing", False, reason, "Waiting for the spec (or what it names) to be fixed."),
    ]
    events = (
        []
        if previous.get("fault", {}).get("message") == message
        else [("Warning", reason, message)]
    )
    return Report("Failed", fields, conditions, events)


def state_report(
    kube: Kube,
    server: VirtualServer,
    previous: dict[str, Any],
    state: ServerState,
    fields: dict[str, Any],
) -> Report:
    placement = _placement(kube, state)
    if state.status == ServerStatus.ERROR:
        fault = state.fault.message if state.fault else state.message
        code = (state.fault.code if state.fault else None) or 500
        report = error_report(previous, state.reason, fault, code)
        report.fields.update(placement)
        return report
    fields.update(placement)
    fields.update(
        {
            "status": state.status.value,
            "fault": None,
            "vmStatus": state.vm_status,
            "powerState": state.power_state.value if state.power_state else None,
        }
    )
    if state.launched_at:
        fields["launchedAt"] = state.launched_at
    status = state.status.value
    message = _says(status, server) if state.settled else state.message
    if state.degraded:
        message = f"{message} {state.degraded}"
    events = []
    if previous.get("status") != status:
        events.append(("Normal", status.title().replace("_", ""), message))
    phase = PHASES.get(status, "Progressing")
    done = phase == "Ready"
    conditions: list[ConditionTuple] = [
        ("Ready", done, state.reason, message),
        ("Progressing", not done, state.reason, message if not done else "Nothing left to do."),
        (
            "Degraded",
            bool(state.degraded),
            "DiskFailed" if state.degraded else "Healthy",
            state.degraded or "Every disk is healthy.",
        ),
    ]
    return Report(phase, fields, conditions, events)


_zones: dict[str, tuple[str | None, float]] = {}
ZONE_CACHE_SECONDS = 60.0
"""A node's zone label rarely changes: read it at most once a minute, not per server."""


def _zone(kube: Kube, node_name: str) -> str | None:
    cached = _zones.get(node_name)
    if cached is not None and time.monotonic() - cached[1] < ZONE_CACHE_SECONDS:
        return cached[0]
    node = kube.get("v1", "Node", node_name)
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
    _zones[node_name] = (zone, time.monotonic())
    return zone


def _placement(kube: Kube, state: ServerState) -> dict[str, Any]:
    zone = _zone(kube, state.node) if state.node else None
    return {
        "addresses": [
            {
                key: value
                for key, value in (
                    ("network", a.network),
                    ("ip", a.ip),
                    ("family", a.family.value if a.family else None),
                )
                if value is not None
            }
            for a in state.addresses
        ],
        "ip": state.ip,
        "node": state.node,
        "zone": zone,
    }


def _says(status: str, server: VirtualServer) -> str:
    name = server.metadata.name
    return {
        "BUILD": f"Building {name}: its virtual machine is being created and started.",
        "ACTIVE": f"{name} is running.",
        "SHUTOFF": f"{name} is stopped (powerState Stopped); set powerState Running to start it.",
        "REBOOT": f"Rebooting {name}.",
        "HARD_REBOOT": f"Hard-rebooting {name}.",
        "RESIZE": f"Resizing {name} to flavor {server.spec.flavor}: it restarts with it.",
        "REBUILD": f"Rebuilding {name} from image {server.spec.image.name}: a new root disk.",
    }.get(status, f"{name} is {status}.")
