"""CompleteMultipartUpload racing Abort, a second Complete, or a re-uploaded part.

Completing writes a manifest blob (an await: other requests run meanwhile) before the index
makes the object visible. Whatever happens to the upload in that window, the object that
becomes visible must be readable in full, and no part it names may have been deleted.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.headers import META_MANIFEST

from tests.functional.conftest import GatewayHandle, error_code


class ManifestGate:
    """Holds every CompleteMultipartUpload just after its manifest blob is stored."""

    def __init__(self) -> None:
        self.arrived = threading.Semaphore(0)
        self.release = threading.Event()

    def wait_arrivals(self, count: int) -> None:
        for _ in range(count):
            assert self.arrived.acquire(timeout=30), "CompleteMultipartUpload never paused"


@pytest.fixture
def manifest_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[ManifestGate]:
    gate = ManifestGate()
    original = objects.store_blob

    async def paused_store_blob(*args: Any, **kwargs: Any) -> objects.StoredBlob:
        stored = await original(*args, **kwargs)
        meta = args[4] if len(args) > 4 else kwargs["meta"]
        if META_MANIFEST in meta:
            gate.arrived.release()
            await asyncio.to_thread(gate.release.wait, 30)
        return stored

    monkeypatch.setattr(objects, "store_blob", paused_store_blob)
    yield gate
    gate.release.set()


def _complete(s3: S3Client, bucket: str, key: str, upload_id: str, etag: str) -> Any:
    return s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )


def _outcome(future: Future[Any]) -> str:
    try:
        future.result(timeout=60)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "OK"


def test_abort_during_complete_leaves_no_broken_object(
    s3: S3Client, bucket: str, manifest_gate: ManifestGate
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(
        Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"a" * 100
    )["ETag"]
    with ThreadPoolExecutor(1) as pool:
        completing = pool.submit(_complete, s3, bucket, "k", upload_id, etag)
        manifest_gate.wait_arrivals(1)
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
        manifest_gate.release.set()
        outcome = _outcome(completing)
    assert outcome == "NoSuchUpload"
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k")) == ("404", 404)


def test_concurrent_completes_keep_the_parts(
    s3: S3Client, bucket: str, manifest_gate: ManifestGate
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(
        Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"b" * 100
    )["ETag"]
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_complete, s3, bucket, "k", upload_id, etag)
        second = pool.submit(_complete, s3, bucket, "k", upload_id, etag)
        manifest_gate.wait_arrivals(2)
        manifest_gate.release.set()
        outcomes = sorted([_outcome(first), _outcome(second)])
    assert outcomes == ["NoSuchUpload", "OK"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"b" * 100


def test_part_reuploaded_during_complete(
    s3: S3Client, bucket: str, manifest_gate: ManifestGate
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    old = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"old")[
        "ETag"
    ]
    with ThreadPoolExecutor(1) as pool:
        completing = pool.submit(_complete, s3, bucket, "k", upload_id, old)
        manifest_gate.wait_arrivals(1)
        new = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"new")[
            "ETag"
        ]
        manifest_gate.release.set()
        outcome = _outcome(completing)
    # The listed ETag no longer names the stored part: AWS answers InvalidPart.
    assert outcome == "InvalidPart"
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k")) == ("404", 404)
    manifest_gate.release.set()
    _complete(s3, bucket, "k", upload_id, new)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


class PartGate:
    """Holds the first UploadPart just after its blob is stored; records that blob."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.held: objects.StoredBlob | None = None


@pytest.fixture
def part_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[PartGate]:
    gate = PartGate()
    original = objects.store_blob

    async def paused_store_blob(*args: Any, **kwargs: Any) -> objects.StoredBlob:
        stored = await original(*args, **kwargs)
        is_part = "\x00" in args[2]
        if is_part and gate.held is None:
            gate.held = stored
            gate.arrived.set()
            await asyncio.to_thread(gate.release.wait, 30)
        return stored

    monkeypatch.setattr(objects, "store_blob", paused_store_blob)
    yield gate
    gate.release.set()


def _blob_exists(gateway: GatewayHandle, name: str) -> bool:
    async def probe() -> bool:
        reader = await gateway.gateway.services.blobs.open(name)
        if reader is None:
            return False
        reader.close()
        return True

    return bool(gateway.call(probe()))


def test_part_replaced_by_an_older_upload_is_reclaimed(
    s3: S3Client, bucket: str, gateway: GatewayHandle, part_gate: PartGate
) -> None:
    """The part that started first but finished last wins; the other one's blob must go."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]

    def upload(body: bytes) -> str:
        return s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=body)[
            "ETag"
        ]

    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(upload, b"slow")
        assert part_gate.arrived.wait(30)
        upload(b"fast")
        parts = gateway.call(_parts(gateway, bucket, upload_id))
        fast_blob = parts[1].blob
        part_gate.release.set()
        slow.result(timeout=30)
    assert not _blob_exists(gateway, fast_blob)
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)


def test_part_finishing_after_abort_leaves_no_blob(
    s3: S3Client, bucket: str, gateway: GatewayHandle, part_gate: PartGate
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with ThreadPoolExecutor(1) as pool:
        late = pool.submit(
            s3.upload_part, Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x"
        )
        assert part_gate.arrived.wait(30)
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
        part_gate.release.set()
        assert _outcome(late) == "NoSuchUpload"
    assert part_gate.held is not None
    assert not _blob_exists(gateway, part_gate.held.info.name)


async def _parts(gateway: GatewayHandle, bucket: str, upload_id: str) -> dict[int, Any]:
    return await gateway.gateway.services.catalog.index(bucket).get_parts(upload_id)


def test_deleting_an_object_removes_its_blobs_and_a_manifest_s_parts(
    s3: S3Client, bucket: str, gateway: GatewayHandle
) -> None:
    part = b"p" * (5 * 1024 * 1024)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=n, Body=part)[
            "ETag"
        ]
        for n in (1, 2)
    ]
    part_blobs = [p.blob for p in gateway.call(_parts(gateway, bucket, upload_id)).values()]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
    )
    s3.put_object(Bucket=bucket, Key="small", Body=b"plain")
    versions = {
        key: gateway.call(gateway.gateway.services.catalog.index(bucket).get(key))
        for key in ("big", "small")
    }
    blobs = [*part_blobs, versions["big"].blob, versions["small"].blob]
    assert all(_blob_exists(gateway, name) for name in blobs)
    assert versions["big"].etag.endswith("-2")

    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "big"}, {"Key": "small"}]})
    assert [name for name in blobs if _blob_exists(gateway, name)] == []
