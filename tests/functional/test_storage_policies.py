"""A bucket's data lives in its storage policy's store: two local stores in one gateway prove the
routing of every write, read, copy, multipart upload and delete; the admin API and CreateBucket
pick a bucket's policy once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.storage_policies import POLICY_HEADER, PolicySpec

from tests.functional.conftest import (
    GatewayHandle,
    empty_and_delete,
    error_code,
    start_in_thread,
    stop_in_thread,
)
from tests.functional.test_admin import admin

PART = 5 * 1024**2


@pytest.fixture(scope="module")
def two_policies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayHandle]:
    root: Path = tmp_path_factory.mktemp("policies")
    handle = start_in_thread(
        GatewayConfig(
            data_dir=root / "data",
            port=0,
            fsync=False,
            policies=(PolicySpec("cold", "local", root / "cold"),),
        )
    )
    yield handle
    stop_in_thread(handle)


def store_dirs(gateway: GatewayHandle) -> dict[str, Path]:
    config = gateway.gateway.services.config
    return {"default": config.data_dir / "blobs", "cold": config.policies[0].path}


def client_with_policy(gateway: GatewayHandle, policy: str) -> S3Client:
    """A client whose CreateBucket asks for ``policy``."""
    client = gateway.client()

    def add_header(request: Any, **_: Any) -> None:
        request.headers[POLICY_HEADER] = policy

    client.meta.events.register("before-sign.s3.CreateBucket", add_header)
    return client


@pytest.fixture
def buckets(two_policies: GatewayHandle) -> Iterator[dict[str, str]]:
    """One bucket per policy, created through S3 (the cold one with the policy header)."""
    names = {policy: f"pol-{policy}-{uuid.uuid4().hex[:8]}" for policy in ("default", "cold")}
    s3 = two_policies.client()
    s3.create_bucket(Bucket=names["default"])
    client_with_policy(two_policies, "cold").create_bucket(Bucket=names["cold"])
    yield names
    for name in names.values():
        empty_and_delete(s3, name)


def count_data(gateway: GatewayHandle) -> dict[str, int]:
    return {name: len(list(path.rglob("*.data"))) for name, path in store_dirs(gateway).items()}


def test_objects_land_in_their_buckets_policy_store(
    two_policies: GatewayHandle, buckets: dict[str, str]
) -> None:
    s3 = two_policies.client()
    before = count_data(two_policies)
    s3.put_object(Bucket=buckets["cold"], Key="k", Body=b"cold bytes")
    assert count_data(two_policies) == {"default": before["default"], "cold": before["cold"] + 1}
    s3.put_object(Bucket=buckets["default"], Key="k", Body=b"hot bytes")
    assert count_data(two_policies) == {
        "default": before["default"] + 1,
        "cold": before["cold"] + 1,
    }
    assert s3.get_object(Bucket=buckets["cold"], Key="k")["Body"].read() == b"cold bytes"
    assert s3.get_object(Bucket=buckets["default"], Key="k")["Body"].read() == b"hot bytes"
    head = s3.head_bucket(Bucket=buckets["cold"])
    assert head["ResponseMetadata"]["HTTPHeaders"][POLICY_HEADER] == "cold"
    s3.delete_object(Bucket=buckets["cold"], Key="k")
    assert count_data(two_policies)["cold"] == before["cold"]  # the data file is gone
    s3.delete_object(Bucket=buckets["default"], Key="k")
    assert count_data(two_policies) == before


def test_copies_between_policies_move_the_bytes(
    two_policies: GatewayHandle, buckets: dict[str, str]
) -> None:
    s3 = two_policies.client()
    s3.put_object(Bucket=buckets["default"], Key="src", Body=b"x" * 1000)
    before = count_data(two_policies)
    s3.copy_object(
        Bucket=buckets["cold"], Key="dst", CopySource={"Bucket": buckets["default"], "Key": "src"}
    )
    assert count_data(two_policies) == {"default": before["default"], "cold": before["cold"] + 1}
    s3.copy_object(
        Bucket=buckets["default"], Key="back", CopySource={"Bucket": buckets["cold"], "Key": "dst"}
    )
    assert count_data(two_policies)["default"] == before["default"] + 1
    assert s3.get_object(Bucket=buckets["cold"], Key="dst")["Body"].read() == b"x" * 1000
    assert s3.get_object(Bucket=buckets["default"], Key="back")["Body"].read() == b"x" * 1000


def test_multipart_uploads_stay_in_a_non_default_policy(
    two_policies: GatewayHandle, buckets: dict[str, str]
) -> None:
    s3 = two_policies.client()
    cold = buckets["cold"]
    before = count_data(two_policies)
    upload_id = s3.create_multipart_upload(Bucket=cold, Key="big")["UploadId"]
    parts = [b"a" * PART, b"tail"]
    etags = [
        s3.upload_part(Bucket=cold, Key="big", UploadId=upload_id, PartNumber=n, Body=data)["ETag"]
        for n, data in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=cold,
        Key="big",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
    )
    # Two parts and the manifest, all in the cold store.
    assert count_data(two_policies) == {"default": before["default"], "cold": before["cold"] + 3}
    ranged = s3.get_object(Bucket=cold, Key="big", Range=f"bytes={PART - 2}-{PART + 1}")
    assert ranged["Body"].read() == b"aata"
    aborted = s3.create_multipart_upload(Bucket=cold, Key="gone")["UploadId"]
    s3.upload_part(Bucket=cold, Key="gone", UploadId=aborted, PartNumber=1, Body=b"p")
    assert count_data(two_policies)["cold"] == before["cold"] + 4
    s3.abort_multipart_upload(Bucket=cold, Key="gone", UploadId=aborted)
    s3.delete_object(Bucket=cold, Key="big")
    assert count_data(two_policies) == before


def test_the_admin_api_sets_a_policy_once(two_policies: GatewayHandle) -> None:
    name = f"adm-pol-{uuid.uuid4().hex[:8]}"
    status, view = admin(two_policies, "PUT", f"buckets/{name}", {"owner": "NIMBUSROOTTEST"})
    assert (status, view["storagePolicy"]) == (201, "default")
    status, view = admin(
        two_policies, "PUT", f"buckets/{name}", {"owner": "NIMBUSROOTTEST", "storagePolicy": "cold"}
    )
    assert (status, view["error"]) == (409, "InvalidBucketState")
    assert "fixed at creation" in view["message"]
    status, view = admin(
        two_policies,
        "PUT",
        f"buckets/{name}",
        {"owner": "NIMBUSROOTTEST", "storagePolicy": "default", "versioning": "Enabled"},
    )
    assert (status, view["storagePolicy"], view["versioning"]) == (200, "default", "Enabled")
    cold = f"adm-cold-{uuid.uuid4().hex[:8]}"
    status, view = admin(
        two_policies, "PUT", f"buckets/{cold}", {"owner": "NIMBUSROOTTEST", "storagePolicy": "cold"}
    )
    assert (status, view["storagePolicy"]) == (201, "cold")
    status, view = admin(
        two_policies, "PUT", f"buckets/{cold}", {"owner": "NIMBUSROOTTEST", "storagePolicy": None}
    )
    assert (status, view["storagePolicy"]) == (200, "cold")
    status, view = admin(
        two_policies,
        "PUT",
        "buckets/adm-gold",
        {"owner": "NIMBUSROOTTEST", "storagePolicy": "gold"},
    )
    assert (status, view["error"]) == (400, "InvalidRequest")
    assert "cold, default" in view["message"]
    _, listed = admin(two_policies, "GET", "buckets")
    assert {b["name"]: b["storagePolicy"] for b in listed if b["name"] in (name, cold)} == {
        name: "default",
        cold: "cold",
    }
    # A purge removes the data from the bucket's own store.
    s3 = two_policies.client()
    s3.put_object(Bucket=cold, Key="k", Body=b"v")
    before = count_data(two_policies)["cold"]
    status, view = admin(two_policies, "DELETE", f"buckets/{cold}?purge=true")
    assert (status, view["purgedVersions"]) == (200, 1)
    assert count_data(two_policies)["cold"] == before - 1
    admin(two_policies, "DELETE", f"buckets/{name}")


def test_create_bucket_with_an_unknown_policy_is_refused(two_policies: GatewayHandle) -> None:
    client = client_with_policy(two_policies, "gold")
    name = f"pol-gold-{uuid.uuid4().hex[:8]}"
    assert error_code(lambda: client.create_bucket(Bucket=name)) == ("InvalidRequest", 400)
    names = [b["Name"] for b in two_policies.client().list_buckets()["Buckets"]]
    assert name not in names
