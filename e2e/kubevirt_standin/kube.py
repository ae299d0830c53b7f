"""The stand-in's writes to the API server, through the official Kubernetes Python client.

KubeVirt and CDI objects go through the custom-objects API (no KubeVirt client exists on PyPI).
Every call returns plain JSON dicts. "Already exists" on create and "not found" on delete are
not errors (a level-based controller's retry meets its own earlier work); anything else raises
``ApiException`` for the caller to report.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from e2e.kubevirt_standin.objects import (
    CDI_GROUP,
    CDI_VERSION,
    DVS,
    KUBEVIRT_GROUP,
    KUBEVIRT_VERSION,
    VMIS,
    VMS,
    Obj,
    name_of,
    namespace_of,
    now,
    uid_of,
)

log = logging.getLogger(__name__)

EVENT_SOURCE = "virtualmachine-controller"
"""The component name KubeVirt's VM controller puts on its Events."""
_RESOURCES = {
    VMS: (KUBEVIRT_GROUP, KUBEVIRT_VERSION),
    VMIS: (KUBEVIRT_GROUP, KUBEVIRT_VERSION),
    DVS: (CDI_GROUP, CDI_VERSION),
}
_KINDS = {VMS: "VirtualMachine", VMIS: "VirtualMachineInstance", DVS: "DataVolume"}


def _json(response: Any) -> Obj:
    decoded: Obj = json.loads(response.data)
    return decoded


class Kube:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    # -- KubeVirt and CDI objects -----------------------------------------------------------

    def list_call(self, plural: str) -> Any:
        """The cluster-wide list (and watch) call of ``plural``, for a Reflector."""
        group, version = _RESOURCES[plural]

        def call(**kwargs: Any) -> Any:
            return self.custom.list_cluster_custom_object(group, version, plural, **kwargs)

        return call

    def create(self, plural: str, body: Obj) -> Obj | None:
        """Create ``body``; None when an object of that name already exists."""
        group, version = _RESOURCES[plural]
        try:
            response = self.custom.create_namespaced_custom_object(
                group, version, namespace_of(body), plural, body, _preload_content=False
            )
        except ApiException as error:
            if error.status == 409:
                return None
            raise
        return _json(response)

    def patch(self, plural: str, obj: Obj, body: Obj | list[Obj]) -> Obj | None:
        """A merge patch (dict) or JSON patch (list) of ``obj``; None if it is gone."""
        group, version = _RESOURCES[plural]
        try:
            response = self.custom.patch_namespaced_custom_object(
                group,
                version,
                namespace_of(obj),
                plural,
                name_of(obj),
                body,
                _preload_content=False,
                # The client sends merge patches unless told otherwise.
                _content_type=(
                    "application/json-patch+json"
                    if isinstance(body, list)
                    else "application/merge-patch+json"
                ),
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return _json(response)

    def patch_status(self, plural: str, obj: Obj, status: Obj) -> Obj | None:
        """A merge patch of the status subresource (VirtualMachine, DataVolume)."""
        group, version = _RESOURCES[plural]
        try:
            response = self.custom.patch_namespaced_custom_object_status(
                group,
                version,
                namespace_of(obj),
                plural,
                name_of(obj),
                {"status": status},
                _preload_content=False,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return _json(response)

    def delete(self, plural: str, obj: Obj) -> None:
        """Delete ``obj`` (this uid only, background propagation); gone already is fine."""
        group, version = _RESOURCES[plural]
        options = client.V1DeleteOptions(
            propagation_policy="Background",
            preconditions=client.V1Preconditions(uid=uid_of(obj)),
        )
        try:
            self.custom.delete_namespaced_custom_object(
                group, version, namespace_of(obj), plural, name_of(obj), body=options
            )
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    def set_finalizers(self, plural: str, obj: Obj, wanted: list[str]) -> Obj | None:
        """Replace the finalizers, provided nobody changed them since ``obj`` was read."""
        current = (obj.get("metadata") or {}).get("finalizers")
        operations: list[Obj] = []
        if current is None:
            operations.append({"op": "add", "path": "/metadata/finalizers", "value": wanted})
        else:
            operations.append({"op": "test", "path": "/metadata/finalizers", "value": current})
            operations.append({"op": "replace", "path": "/metadata/finalizers", "value": wanted})
        try:
            return self.patch(plural, obj, operations)
        except ApiException as error:
            if error.status == 422:  # the test failed: someone else changed them; retry later
                log.info("%s %s/%s: finalizers changed meanwhile", plural, *_key(obj))
                return None
            raise

    # -- core objects ----------------------------------------------------------------------

    def pod_list_call(self, label_selector: str) -> Any:
        def call(**kwargs: Any) -> Any:
            return self.core.list_pod_for_all_namespaces(label_selector=label_selector, **kwargs)

        return call

    def create_pod(self, body: Obj) -> Obj | None:
        try:
            response = self.core.create_namespaced_pod(
                namespace_of(body), client.V1Pod.model_validate(body), _preload_content=False
            )
        except ApiException as error:
            if error.status == 409:
                return None
            raise
        return _json(response)

    def delete_pod(self, pod: Obj) -> None:
        options = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid_of(pod)))
        try:
            self.core.delete_namespaced_pod(name_of(pod), namespace_of(pod), body=options)
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    def read(self, kind: str, namespace: str, name: str) -> Obj | None:
        """A Secret, ConfigMap, Service, PersistentVolumeClaim or Namespace (``namespace``
        ignored) as a dict; None if absent."""
        calls: dict[str, Any] = {
            "namespace": lambda name, _namespace, **options: self.core.read_namespace(
                name, **options
            ),
            "secret": self.core.read_namespaced_secret,
            "configmap": self.core.read_namespaced_config_map,
            "service": self.core.read_namespaced_service,
            "persistentvolumeclaim": self.core.read_namespaced_persistent_volume_claim,
        }
        try:
            response = calls[kind](name, namespace, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return _json(response)

    def create_claim(self, body: Obj) -> None:
        """Create a PersistentVolumeClaim (one that already exists is left as it is)."""
        try:
            self.core.create_namespaced_persistent_volume_claim(
                namespace_of(body),
                body,  # type: ignore[arg-type]
                _preload_content=False,
            )
        except ApiException as error:
            if error.status != 409:
                raise

    def event(self, obj: Obj, plural: str, kind: str, reason: str, message: str) -> None:
        """Record an Event on ``obj`` (best effort: a failure is only logged)."""
        namespace = namespace_of(obj)
        timestamp = now()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{name_of(obj)}.{uuid.uuid4().hex[:16]}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": "/".join(_RESOURCES[plural]),
                "kind": _KINDS[plural],
                "name": name_of(obj),
                "namespace": namespace,
                "uid": uid_of(obj),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": EVENT_SOURCE},
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
        }
        try:
            self.core.create_namespaced_event(namespace, client.CoreV1Event.model_validate(body))
        except ApiException as error:
            message = api_message(error)
            log.info("event %s on %s/%s not recorded: %s", reason, namespace, name_of(obj), message)


def api_message(error: ApiException) -> str:
    """The API server's message of a refused request (a 422 names the invalid field)."""
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        return f"{error.status} {error.reason}"
    return str(body.get("message") or f"{error.status} {error.reason}")


def _key(obj: Obj) -> tuple[str, str]:
    return namespace_of(obj), name_of(obj)
