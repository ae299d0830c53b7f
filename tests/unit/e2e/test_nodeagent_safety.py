"""The node agent touches nothing of this machine outside the cluster's run directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from e2e.nodeagent.podenv import ContainerConfigError
from e2e.nodeagent.probes import loopback_host
from e2e.nodeagent.shim import path_in_root
from e2e.nodeagent.volumes import PodVolumes, Sources


async def _no_token(_account: str, _audience: str | None, _seconds: int) -> tuple[str, float]:
    raise AssertionError("no token wanted")


def _sources(claim_dir: str | None = None) -> Sources:
    return Sources({}, {}, lambda _claim: claim_dir, {})


def _volumes(tmp_path: Path) -> PodVolumes:
    return PodVolumes(tmp_path / "run" / "pods" / "p", _no_token, tmp_path / "run")


def test_a_sub_path_through_a_symlink_cannot_leave_its_volume(tmp_path: Path) -> None:
    volumes = _volumes(tmp_path)
    pod = {"spec": {"volumes": [{"name": "scratch", "emptyDir": {}}]}}
    asyncio.run(volumes.sync(pod, _sources()))
    (volumes.root / "scratch" / "evil").symlink_to("/etc")
    container = {"volumeMounts": [{"name": "scratch", "mountPath": "/x", "subPath": "evil"}]}

    with pytest.raises(ContainerConfigError, match="leaves the volume"):
        volumes.mounts(container)


def test_host_paths_outside_the_run_directory_are_refused(tmp_path: Path) -> None:
    volumes = _volumes(tmp_path)
    host = {"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/home"}}]}}
    claim = {"spec": {"volumes": [{"name": "c", "persistentVolumeClaim": {"claimName": "c"}}]}}

    with pytest.raises(ContainerConfigError, match="outside the cluster's run directory"):
        asyncio.run(volumes.sync(host, _sources()))
    with pytest.raises(ContainerConfigError, match="outside the cluster's run directory"):
        asyncio.run(volumes.sync(claim, _sources("/var/lib")))


def test_config_volumes_are_mounted_read_only(tmp_path: Path) -> None:
    volumes = _volumes(tmp_path)
    pod = {"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "c", "optional": True}}]}}
    asyncio.run(volumes.sync(pod, _sources()))

    mounts = volumes.mounts({"volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]})

    assert [mount.read_only for mount in mounts] == [True]


def test_probes_reach_loopback_addresses_only() -> None:
    assert loopback_host("127.1.0.7") == "127.1.0.7"
    for host in ("10.0.0.1", "example.com", "192.168.1.1", "localhost"):
        with pytest.raises(ValueError, match="not a loopback address"):
            loopback_host(host)


def test_mount_targets_resolve_symlinks_inside_the_container_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var" / "run").symlink_to("/run")

    inside = path_in_root(root, "/var/run/secrets/token", make_dirs=True)

    assert inside == root / "run" / "secrets" / "token"
    assert (root / "run" / "secrets").is_dir()
    escape = path_in_root(root, "/../../etc", make_dirs=False)
    assert escape == root / "etc"
