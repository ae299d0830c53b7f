"""A pod's volumes as directories of the run, and each container's mounts of them.

Every volume lives in ``<pod dir>/volumes/<name>``, but a PersistentVolumeClaim, whose data is
the bound PersistentVolume's directory (see ``provisioner``), and a hostPath. ConfigMap, Secret,
downwardAPI and projected volumes are written with the kubelet's atomic writer, so an update
is one rename that a reader of the mounted files sees whole; they are rewritten whenever their
sources change. Service-account tokens come from the TokenRequest API, bound to the pod, and are
renewed at 80 % of their lifetime as a kubelet does.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.nodeagent.atomic_writer import write_volume
from e2e.nodeagent.downward import volume_files
from e2e.nodeagent.podenv import ContainerConfigError

DEFAULT_MODE = 0o644
DEFAULT_TOKEN_SECONDS = 3607
TOKEN_RENEW_FRACTION = 0.8

TokenSource = Callable[[str, str | None, int], Awaitable[tuple[str, float]]]
"""(serviceAccountName, audience, expirationSeconds) -> (token, expiry as time.time())."""


class VolumeNotReady(Exception):
    """A volume cannot be set up yet (reported as the pod's ContainerCreating message)."""


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class Sources:
    """What volumes are made of, read from the agent's caches (by name, in the pod's namespace)."""

    config_maps: Mapping[str, dict[str, Any]]
    secrets: Mapping[str, dict[str, Any]]
    claim_path: Callable[[str], str | None]
    """The directory of a bound claim, or None while it is not bound."""
    node_allocatable: Mapping[str, str]


class PodVolumes:
    def __init__(self, pod_dir: Path, token_source: TokenSource, host_root: Path) -> None:
        self.root = pod_dir / "volumes"
        self._host_root = host_root.resolve()
        """Only paths under it (the run directory) may be mounted: never the machine's own."""
        self._token_source = token_source
        self._tokens: dict[tuple[str, str | None, int], tuple[str, float, float]] = {}
        self._paths: dict[str, str] = {}
        self._read_only: set[str] = set()
        """Volumes a kubelet always mounts read-only (ConfigMap, Secret, downward, projected)."""

    async def sync(self, pod: dict[str, Any], sources: Sources) -> None:
        """Create or refresh every volume of ``pod``; raise VolumeNotReady for what must wait."""
        for volume in pod.get("spec", {}).get("volumes") or []:
            self._paths[volume["name"]] = await self._sync_volume(pod, volume, sources)

    def mounts(self, container: dict[str, Any]) -> list[Mount]:
        result = []
        for mount in container.get("volumeMounts") or []:
            base = self._paths.get(mount["name"])
            if base is None:
                raise ContainerConfigError(f'volume "{mount["name"]}" is not set up')
            source = Path(base)
            sub_path = mount.get("subPath")
            if sub_path:
                inside = (source / sub_path).resolve()
                if not inside.is_relative_to(source.resolve()):
                    raise ContainerConfigError(
                        f'subPath "{sub_path}" of volume "{mount["name"]}" leaves the volume'
                    )
                if not inside.exists():
                    inside.mkdir(parents=True)
                source = inside
            read_only = bool(mount.get("readOnly")) or mount["name"] in self._read_only
            result.append(Mount(str(source), mount["mountPath"], read_only))
        return result

    def _on_this_run(self, path: str, what: str) -> str:
        if not Path(path).resolve().is_relative_to(self._host_root):
            raise ContainerConfigError(
                f"{what} {path} is outside the cluster's run directory: the node agent mounts "
                "nothing else of this machine"
            )
        return path

    async def _sync_volume(
        self, pod: dict[str, Any], volume: dict[str, Any], sources: Sources
    ) -> str:
        name = volume["name"]
        directory = self.root / name
        if "emptyDir" in volume:
            directory.mkdir(parents=True, exist_ok=True)
            return str(directory)
        if "hostPath" in volume:
            path = self._on_this_run(volume["hostPath"]["path"], f'hostPath volume "{name}":')
            if volume["hostPath"].get("type") in ("DirectoryOrCreate",):
                Path(path).mkdir(parents=True, exist_ok=True)
            return path
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            claim_dir = sources.claim_path(claim)
            if claim_dir is None:
                raise VolumeNotReady(f'persistentvolumeclaim "{claim}" is not bound yet')
            return self._on_this_run(claim_dir, f'the volume of claim "{claim}":')
        self._read_only.add(name)
        files: dict[str, tuple[bytes, int]] = {}
        if "configMap" in volume:
            files = _object_files(volume["configMap"], sources.config_maps, "configmap", False)
        elif "secret" in volume:
            source = dict(volume["secret"], name=volume["secret"].get("secretName"))
            files = _object_files(source, sources.secrets, "secret", True)
        elif "downwardAPI" in volume:
            files = self._downward(pod, volume["downwardAPI"], sources)
        elif "projected" in volume:
            files = await self._projected(pod, volume["projected"], sources)
        else:
            kinds = ", ".join(sorted(set(volume) - {"name"}))
            raise ContainerConfigError(f'volume "{name}": unsupported volume type {kinds}')
        write_volume(directory, files)
        return str(directory)

    def _downward(
        self, pod: dict[str, Any], source: dict[str, Any], sources: Sources
    ) -> dict[str, tuple[bytes, int]]:
        mode = source.get("defaultMode", DEFAULT_MODE)
        containers = pod["spec"].get("containers") or []
        raw = volume_files(pod, source.get("items") or [], containers, sources.node_allocatable)
        return {
            path: (data, mode if item_mode is None else item_mode)
            for path, (data, item_mode) in raw.items()
        }

    async def _projected(
        self, pod: dict[str, Any], projected: dict[str, Any], sources: Sources
    ) -> dict[str, tuple[bytes, int]]:
        mode = projected.get("defaultMode", DEFAULT_MODE)
        files: dict[str, tuple[bytes, int]] = {}
        for source in projected.get("sources") or []:
            if "serviceAccountToken" in source:
                request = source["serviceAccountToken"]
                token = await self._token(
                    pod["spec"].get("serviceAccountName") or "default",
                    request.get("audience"),
                    int(request.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS),
                )
                files[request["path"]] = (token.encode(), mode)
            elif "configMap" in source:
                part = dict(source["configMap"], defaultMode=mode)
                files.update(_object_files(part, sources.config_maps, "configmap", False))
            elif "secret" in source:
                part = dict(source["secret"], defaultMode=mode)
                files.update(_object_files(part, sources.secrets, "secret", True))
            elif "downwardAPI" in source:
                files.update(
                    self._downward(pod, dict(source["downwardAPI"], defaultMode=mode), sources)
                )
            else:
                kinds = ", ".join(sorted(source))
                raise ContainerConfigError(f"projected volume: unsupported source {kinds}")
        return files

    async def _token(self, account: str, audience: str | None, seconds: int) -> str:
        key = (account, audience, seconds)
        cached = self._tokens.get(key)
        now = time.time()
        if cached is not None and now < cached[2]:
            return cached[0]
        token, expiry = await self._token_source(account, audience, seconds)
        renew_at = now + (expiry - now) * TOKEN_RENEW_FRACTION
        self._tokens[key] = (token, expiry, renew_at)
        return token


def _object_files(
    source: dict[str, Any], objects: Mapping[str, dict[str, Any]], kind: str, encoded: bool
) -> dict[str, tuple[bytes, int]]:
    name = source.get("name") or ""
    mode = source.get("defaultMode", DEFAULT_MODE)
    obj = objects.get(name)
    if obj is None:
        if source.get("optional"):
            return {}
        raise VolumeNotReady(f'{kind} "{name}" not found')
    data: dict[str, bytes] = {}
    for key, value in (obj.get("data") or {}).items():
        data[key] = base64.b64decode(value) if encoded else str(value).encode()
    for key, value in (obj.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    items = source.get("items")
    if not items:
        return {key: (value, mode) for key, value in data.items()}
    files = {}
    for item in items:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise VolumeNotReady(f'couldn\'t find key {item["key"]} in {kind} "{name}"')
        files[item["path"]] = (data[item["key"]], item.get("mode", mode))
    return files
