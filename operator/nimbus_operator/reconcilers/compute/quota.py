"""ComputeQuota, enforced as Nova does: check before building, and check again after.

Each ComputeQuota keeps a ledger (``status.reservations``): a server's share is written into
every ComputeQuota of its namespace *before* its VirtualMachine is made, each write conditional
on the quota's resourceVersion. Two servers racing for the last of a limit both read room; the
second write is refused (409), re-reads the ledger with the first one's share in it, and fails
with Nova's "Quota exceeded" message. The loser creates nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import ApiFailure, InvalidSpec, RetryLater
from nimbus_operator.models.compute.quota import (
    ComputeQuota,
    ComputeQuotaSpec,
    QuotaUsage,
    QuotaUsed,
)
from nimbus_operator.models.errors import SpecError
from nimbus_operator.models.modeling import dump_model
from nimbus_operator.models.quantity import format_bytes
from nimbus_operator.reconcilers.compute.refs import COMPUTE_API
from nimbus_operator.reconcilers.status import ConditionTuple, Report, ready

KIND = "ComputeQuota"
WRITE_ATTEMPTS = 20
CONFLICT = 409


@dataclass(frozen=True)
class Demand:
    server: str
    uid: str
    vcpus: int
    memory_bytes: int

    def row(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "uid": self.uid,
            "vcpus": self.vcpus,
            "memoryBytes": self.memory_bytes,
        }


class QuotaExceeded(InvalidSpec):
    def __init__(self, message: str) -> None:
        super().__init__(message, reason="QuotaExceeded")


@dataclass(frozen=True)
class Totals:
    instances: int
    vcpus: int
    memory_bytes: int


def totals(rows: Iterable[dict[str, Any]]) -> Totals:
    listed = list(rows)
    return Totals(
        len(listed),
        sum(int(row.get("vcpus") or 0) for row in listed),
        sum(int(row.get("memoryBytes") or 0) for row in listed),
    )


def over_limit(spec: ComputeQuotaSpec, used: Totals, demand: Demand, quota: str) -> str | None:
    """Nova's message for the first limit ``demand`` would pass, or None."""
    checks = (
        ("instances", spec.instances, used.instances, 1, str),
        ("cores", spec.vcpus, used.vcpus, demand.vcpus, str),
        ("ram", spec.memory_bytes, used.memory_bytes, demand.memory_bytes, format_bytes),
    )
    for name, limit, current, wanted, shown in checks:
        if limit is not None and current + wanted > limit:
            return (
                f"Quota exceeded for {name}: Requested {shown(wanted)}, but already used "
                f"{shown(current)} of {shown(limit)} {name} (ComputeQuota {quota}): delete or "
                "shrink other servers, or raise the quota"
            )
    return None


def _rows(quota: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in (quota.get("status") or {}).get("reservations") or []]


def _ledger_status(spec: ComputeQuotaSpec, rows: list[dict[str, Any]]) -> dict[str, Any]:
    totalled = totals(rows)
    used = QuotaUsed(
        instances=totalled.instances,
        vcpus=totalled.vcpus,
        memory=format_bytes(totalled.memory_bytes),
    )
    return {
        "reservations": rows,
        "used": dump_model(used),
        "usage": dump_model(QuotaUsage.of(used, spec)),
    }


def _write(kube: Kube, quota: dict[str, Any], status: dict[str, Any]) -> bool:
    """False when someone changed the quota since it was read."""
    metadata = quota["metadata"]
    try:
        kube.patch_status(
            COMPUTE_API,
            KIND,
            metadata["name"],
            metadata["namespace"],
            status,
            resource_version=metadata["resourceVersion"],
        )
    except ApiFailure as error:
        if error.status == CONFLICT:
            return False
        raise
    return True


def _spec(quota: dict[str, Any]) -> ComputeQuotaSpec | None:
    try:
        return ComputeQuota.from_body(quota).spec
    except SpecError:
        return None  # its own reconcile says what is wrong; it limits nothing meanwhile


def _reserve_in(kube: Kube, namespace: str, name: str, demand: Demand) -> dict[str, Any] | None:
    """Write ``demand`` into one quota; its previous row for the server (to roll back)."""
    for _ in range(WRITE_ATTEMPTS):
        quota = kube.get(COMPUTE_API, KIND, name, namespace)
        spec = _spec(quota) if quota else None
        if quota is None or spec is None:
            return None
        rows = _rows(quota)
        previous = next((row for row in rows if row["server"] == demand.server), None)
        if previous == demand.row():
            return previous
        others = [row for row in rows if row["server"] != demand.server]
        problem = over_limit(spec, totals(others), demand, name)
        if problem is not None:
            raise QuotaExceeded(problem)
        if _write(kube, quota, _ledger_status(spec, [*others, demand.row()])):
            return previous
    raise RetryLater(f"ComputeQuota {namespace}/{name} is changing too often to reserve in")


def reserve(kube: Kube, namespace: str, demand: Demand) -> None:
    """Hold ``demand`` in every ComputeQuota of the namespace, or none of them
    (``QuotaExceeded`` naming the limit)."""
    done: list[tuple[str, dict[str, Any] | None]] = []
    quotas = sorted(q["metadata"]["name"] for q in kube.list(COMPUTE_API, KIND, namespace))
    try:
        for name in quotas:
            done.append((name, _reserve_in(kube, namespace, name, demand)))
    except QuotaExceeded:
        for name, previous in done:
            _restore(kube, namespace, name, demand.server, previous)
        raise


def release(kube: Kube, namespace: str, server: str) -> None:
    """Free a server's share in every quota of the namespace (it is gone, or failed)."""
    for quota in kube.list(COMPUTE_API, KIND, namespace):
        _restore(kube, namespace, quota["metadata"]["name"], server, None)


def _restore(
    kube: Kube, namespace: str, name: str, server: str, row: dict[str, Any] | None
) -> None:
    for _ in range(WRITE_ATTEMPTS):
        quota = kube.get(COMPUTE_API, KIND, name, namespace)
        spec = _spec(quota) if quota else None
        if quota is None or spec is None:
            return
        rows = [r for r in _rows(quota) if r["server"] != server]
        if row is not None:
            rows.append(row)
        if rows == _rows(quota):
            return
        if _write(kube, quota, _ledger_status(spec, rows)):
            return
    raise RetryLater(f"ComputeQuota {namespace}/{name} is changing too often to release from")


def reconcile_quota(kube: Kube, body: dict[str, Any], servers: list[dict[str, Any]]) -> Report:
    """Drop the shares of servers that are gone, and report the usage."""
    quota = ComputeQuota.from_body(body)
    live = {(s["metadata"]["name"], s["metadata"]["uid"]) for s in servers}
    rows = _rows(body)
    kept = [row for row in rows if (row["server"], row["uid"]) in live]
    ledger = _ledger_status(quota.spec, kept)
    if kept != rows and not _write(kube, body, ledger):
        raise RetryLater("the ledger changed while it was pruned", delay=1.0)
    used = totals(kept)
    over = [
        name
        for name, limit, value in (
            ("instances", quota.spec.instances, used.instances),
            ("vcpus", quota.spec.vcpus, used.vcpus),
            ("memory", quota.spec.memory_bytes, used.memory_bytes),
        )
        if limit is not None and value > limit
    ]
    usage = ledger["usage"]
    summary = f"instances {usage['instances']}, vCPUs {usage['vcpus']}, memory {usage['memory']}"
    fields = {"used": ledger["used"], "usage": usage}
    if over:
        message = (
            f"Usage is over the limit of {', '.join(over)} ({summary}): running servers stay, "
            "new ones and resizes are refused until usage is back under it"
        )
        conditions: list[ConditionTuple] = [
            ("Ready", False, "Exceeded", message),
            ("Progressing", False, "Exceeded", "Waiting for usage to go down."),
        ]
        return Report("Exceeded", fields, conditions)
    return Report("Ready", fields, ready(f"In use: {summary}.", "Enforced"))
