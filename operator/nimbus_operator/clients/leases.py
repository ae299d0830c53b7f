"""``coordination.k8s.io/v1`` Leases, for leader election: read, create, and replace with
optimistic concurrency (a ``resourceVersion`` another replica changed first is a ``LeaseConflict``).

Leases go through the custom-objects API as plain dicts: the typed client serialises
``MicroTime`` fields with ``isoformat()``, which drops the fraction when it is zero and the
API server then refuses the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from nimbus_operator.clients.kube import load_config, translated
from nimbus_operator.errors import ApiFailure, NimbusError, NotFound

GROUP = "coordination.k8s.io"
VERSION = "v1"
PLURAL = "leases"


class LeaseConflict(NimbusError):
    """Someone else wrote the Lease between our read and our write."""


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    """``spec.holderIdentity``; empty when released."""
    duration_seconds: int
    renew_time: str
    acquire_time: str
    transitions: int
    resource_version: str
    """Empty for a Lease that does not exist yet."""


def micro_time(moment: datetime) -> str:
    """A ``MicroTime`` as the API server writes it: always six fractional digits, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Leases:
    def __init__(self, namespace: str, name: str, api: client.ApiClient | None = None) -> None:
        self.namespace = namespace
        self.name = name
        self._objects = client.CustomObjectsApi(api or load_config())

    def read(self) -> LeaseRecord | None:
        try:
            with translated(f"get Lease {self.namespace}/{self.name}"):
                body: dict[str, Any] = self._objects.get_namespaced_custom_object(  # type: ignore[assignment]
                    GROUP, VERSION, self.namespace, PLURAL, self.name
                )
        except NotFound:
            return None
        spec = body.get("spec") or {}
        return LeaseRecord(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            renew_time=str(spec.get("renewTime") or ""),
            acquire_time=str(spec.get("acquireTime") or ""),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=str(body["metadata"]["resourceVersion"]),
        )

    def write(self, record: LeaseRecord, *, acquired: bool) -> None:
        """Create the Lease (``record.resource_version`` empty) or replace it, exactly as read."""
        now = micro_time(datetime.now(UTC))
        spec: dict[str, Any] = {
            "holderIdentity": record.holder or None,
            "leaseDurationSeconds": record.duration_seconds,
            "renewTime": now,
            "leaseTransitions": record.transitions,
            "acquireTime": now if acquired else (record.acquire_time or None),
        }
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Lease", "metadata": metadata}
        body["spec"] = spec
        what = f"write Lease {self.namespace}/{self.name}"
        try:
            with translated(what):
                if record.resource_version:
                    metadata["resourceVersion"] = record.resource_version
                    self._objects.replace_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, PLURAL, self.name, body
                    )
                else:
                    self._objects.create_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, PLURAL, body
                    )
        except ApiFailure as error:
            if error.status == 409:
                raise LeaseConflict(f"{what}: another replica wrote it first") from error
            raise
