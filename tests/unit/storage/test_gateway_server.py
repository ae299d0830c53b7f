"""Opening a gateway's services: leftovers of interrupted writes are cleared at start."""

from __future__ import annotations

from pathlib import Path

from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.server import ensure_root_credential, open_services


def test_start_removes_temp_files_of_interrupted_writes(tmp_path: Path) -> None:
    first = open_services(GatewayConfig(data_dir=tmp_path, fsync=False))
    first.catalog.close()
    temp_dir = tmp_path / "blobs" / "d0" / "tmp"
    (temp_dir / "crashed-write.tmp").write_bytes(b"half an object")
    again = open_services(GatewayConfig(data_dir=tmp_path, fsync=False))
    again.catalog.close()
    assert list(temp_dir.iterdir()) == []


def test_root_credential_sources(tmp_path: Path) -> None:
    services = open_services(GatewayConfig(data_dir=tmp_path, fsync=False))
    generated = ensure_root_credential(services.catalog, None, None)
    assert generated.source == "generated"
    kept = ensure_root_credential(services.catalog, None, None)
    assert (kept.source, kept.access_key, kept.secret_key) == (
        "existing",
        generated.access_key,
        generated.secret_key,
    )
    given = ensure_root_credential(services.catalog, "ROOTFROMENV", "secret-from-env")
    assert given.source == "environment"
    credential = services.catalog.get_credential("ROOTFROMENV")
    assert credential is not None
    assert credential.is_admin
    assert credential.secret_key == "secret-from-env"
    # The generated root key no longer works once another one is given.
    assert services.catalog.get_credential(generated.access_key) is None
    services.catalog.close()
