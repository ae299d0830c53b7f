"""An ObjectStore whose gateways get their SSE key store from a Secret: while the Secret is
missing the store says so (Ready=False, an Event); once it exists, SSE-S3 works through S3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.e2e.operator_install import Operator
from tests.e2e.test_operator_store import (
    GROUP,
    STORE_TIMEOUT,
    VERSION,
    condition,
    get_store,
    s3_client,
    store_manifest,
)
from tests.e2e.waiting import wait_for_event, wait_until

pytestmark = pytest.mark.e2e

STORE = "vault"
KEYS = "vault-sse-keys"


def generated_key_secret(directory: Path) -> client.V1Secret:
    """A Secret made as docs/encryption.md says: the key tool's directory, one key per file."""
    subprocess.run(
        [sys.executable, "-m", "nimbus_storage.sse.keystore", "generate", str(directory), "--dir"],
        check=True,
        capture_output=True,
    )
    files = {path.name: path.read_text() for path in directory.iterdir() if path.is_file()}
    assert files, "the key tool wrote at least one key file"
    return client.V1Secret(metadata=client.V1ObjectMeta(name=KEYS), string_data=files)


def test_sse_s3_through_a_store_whose_key_secret_comes_after_it(
    nimbus_operator: Operator,
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
    namespace: str,
    tmp_path: Path,
) -> None:
    manifest = store_manifest(STORE, nodes=1)
    manifest["spec"]["encryption"] = {"keySecretName": KEYS}
    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "objectstores", manifest
    )

    def store() -> dict[str, Any]:
        return get_store(custom_objects, namespace, STORE)

    missing = wait_until(
        store,
        lambda found: condition(found, "Ready").get("reason") == "KeySecretMissing",
        "Ready=False for the missing key Secret",
        STORE_TIMEOUT,
    )
    ready = condition(missing, "Ready")
    assert ready["status"] == "False"
    assert ready["message"].startswith(
        f'Secret "{KEYS}" not found in namespace "{namespace}": create it with '
        "python -m nimbus_storage.sse.keystore generate"
    )
    warning = wait_for_event(core_v1, namespace, STORE, "KeySecretMissing")
    assert (warning.type, warning.message) == ("Warning", ready["message"])

    core_v1.create_namespaced_secret(namespace, generated_key_secret(tmp_path / "keys"))
    # The operator watches the Secrets stores name: the new one is acted on at once (an Event
    # only that watch posts), not at the next resync.
    changed = wait_for_event(core_v1, namespace, STORE, "SecretChanged")
    assert (changed.type, changed.message) == (
        "Normal",
        f'Secret "{KEYS}" was created: reconciling the store now.',
    )
    wait_until(
        store,
        lambda found: found.get("status", {}).get("phase") == "Ready",
        "the store Ready with its key Secret",
        STORE_TIMEOUT,
    )

    s3 = s3_client(core_v1, namespace, STORE)
    s3.create_bucket(Bucket="sealed")
    put = s3.put_object(
        Bucket="sealed", Key="secret.txt", Body=b"encrypted at rest", ServerSideEncryption="AES256"
    )
    got = s3.get_object(Bucket="sealed", Key="secret.txt")

    assert put["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == b"encrypted at rest"
    assert got["ResponseMetadata"]["HTTPHeaders"]["x-amz-server-side-encryption"] == "AES256"
