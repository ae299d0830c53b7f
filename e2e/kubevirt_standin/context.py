"""What every reconciler works with: the caches, the writer, the queue."""

from __future__ import annotations

from dataclasses import dataclass

from e2e.kubevirt_standin.guests import Guests
from e2e.kubevirt_standin.importer import Importer
from e2e.kubevirt_standin.informer import Reflector, WorkQueue
from e2e.kubevirt_standin.kube import Kube
from e2e.kubevirt_standin.objects import CREATED_BY_LABEL, Obj, labels, namespace_of, uid_of

VM_KEY = "vm"
VMI_KEY = "vmi"
DV_KEY = "dv"


@dataclass(frozen=True)
class Context:
    kube: Kube
    vms: Reflector
    vmis: Reflector
    dvs: Reflector
    pods: Reflector
    queue: WorkQueue
    guests: Guests
    importer: Importer

    def launcher_pods(self, vmi: Obj) -> list[Obj]:
        """The launcher pods of this VMI (by uid, so an old VMI's pods never count)."""
        uid = uid_of(vmi)
        namespace = namespace_of(vmi)
        return [
            pod
            for pod in self.pods.items()
            if namespace_of(pod) == namespace and labels(pod).get(CREATED_BY_LABEL) == uid
        ]

    def datavolumes(self, namespace: str, names: list[str]) -> dict[str, Obj]:
        found = {}
        for name in names:
            dv = self.dvs.get(namespace, name)
            if dv is not None:
                found[name] = dv
        return found
