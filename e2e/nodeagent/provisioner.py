"""Local persistent volumes: the StorageClasses the agent serves and their provisioner.

Two classes, both ``WaitForFirstConsumer`` (the scheduler picks the node first, as for local
disks) with provisioner ``nimbus.dev/local-dir``:

- ``nimbus-local`` (the default class): a directory of the run per volume; its capacity is
  recorded, not enforced.
- ``nimbus-local-sized``: the same, with a tmpfs of exactly the requested size mounted on the
  directory, so a full volume answers ENOSPC as a full disk does (for full-disk tests).

For a claim the scheduler has given a node (``volume.kubernetes.io/selected-node``), the
provisioner creates a ``local`` PersistentVolume pinned to that node, pre-bound to the claim;
kube-controller-manager's PV controller binds the two. A Released volume whose reclaim policy is
Delete has its data removed and its object deleted; Retain keeps both.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from e2e.nodeagent.downward import parse_quantity
from e2e.nodeagent.kubeapi import KubeApi

log = logging.getLogger(__name__)

PROVISIONER = "nimbus.dev/local-dir"
DEFAULT_CLASS = "nimbus-local"
SIZED_CLASS = "nimbus-local-sized"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def storage_classes() -> list[dict[str, Any]]:
    def storage_class(name: str, default: bool) -> dict[str, Any]:
        annotations = {"storageclass.kubernetes.io/is-default-class": str(default).lower()}
        return {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name, "annotations": annotations},
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
            "parameters": {"capacity": "enforced" if name == SIZED_CLASS else "recorded"},
        }

    return [storage_class(DEFAULT_CLASS, True), storage_class(SIZED_CLASS, False)]


def build_volume(
    claim: dict[str, Any], storage_class: dict[str, Any], path: Path
) -> dict[str, Any]:
    """The PersistentVolume for ``claim`` on the node the scheduler chose (pure)."""
    metadata, spec = claim["metadata"], claim["spec"]
    node = metadata["annotations"][SELECTED_NODE]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{metadata['uid']}",
            "annotations": {PROVISIONED_BY: PROVISIONER},
            "labels": {"nimbus.dev/node": node},
        },
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
            "storageClassName": storage_class["metadata"]["name"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata["uid"],
            },
            "local": {"path": str(path)},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


class Provisioner:
    def __init__(self, api: KubeApi, volumes_dir: Path) -> None:
        self._api = api
        self._dir = volumes_dir
        self._busy: set[str] = set()

    async def install_classes(self) -> None:
        for manifest in storage_classes():
            await self._api.create("/apis/storage.k8s.io/v1/storageclasses", manifest)

    async def sync(
        self,
        claims: list[dict[str, Any]],
        volumes: list[dict[str, Any]],
        classes: dict[str, dict[str, Any]],
    ) -> None:
        existing = {volume["metadata"]["name"] for volume in volumes}
        for claim in claims:
            await self._provision(claim, classes, existing)
        for volume in volumes:
            await self._reclaim(volume)

    async def _provision(
        self, claim: dict[str, Any], classes: dict[str, dict[str, Any]], existing: set[str]
    ) -> None:
        metadata = claim["metadata"]
        storage_class = classes.get(claim["spec"].get("storageClassName") or "")
        if (
            storage_class is None
            or storage_class.get("provisioner") != PROVISIONER
            or claim["spec"].get("volumeName")
            or SELECTED_NODE not in (metadata.get("annotations") or {})
            or metadata.get("deletionTimestamp")
            or f"pvc-{metadata['uid']}" in existing
        ):
            return
        name = f"pvc-{metadata['uid']}"
        path = self._dir / name
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)
        if storage_class.get("parameters", {}).get("capacity") == "enforced":
            size = int(parse_quantity(claim["spec"]["resources"]["requests"]["storage"]))
            if not _is_mount(path):
                subprocess.run(
                    ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path)],
                    check=True,
                )
        created = await self._api.create(
            "/api/v1/persistentvolumes", build_volume(claim, storage_class, path)
        )
        if created is None:
            return  # made by an earlier pass that the cache had not seen yet
        log.info(
            "provisioned %s for %s/%s at %s", name, metadata["namespace"], metadata["name"], path
        )

    async def _reclaim(self, volume: dict[str, Any]) -> None:
        metadata, spec = volume["metadata"], volume["spec"]
        if (
            (metadata.get("annotations") or {}).get(PROVISIONED_BY) != PROVISIONER
            or volume.get("status", {}).get("phase") not in ("Released", "Failed")
            or spec.get("persistentVolumeReclaimPolicy") != "Delete"
        ):
            return
        path = Path((spec.get("local") or {}).get("path", ""))
        own = self._dir / metadata["name"]
        if path != own:
            log.warning("not reclaiming %s: its path %s is not %s", metadata["name"], path, own)
            return
        release_path(path)
        await self._api.delete(f"/api/v1/persistentvolumes/{metadata['name']}")
        log.info("deleted %s and its data (%s)", metadata["name"], path)


def _is_mount(path: Path) -> bool:
    return path.is_mount()


def release_path(path: Path) -> None:
    """Unmount (if sized) and remove a volume's directory."""
    if _is_mount(path):
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", "-l", str(path)], check=True)
    shutil.rmtree(path, ignore_errors=True)
