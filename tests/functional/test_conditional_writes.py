"""Conditional writes on CopyObject and CompleteMultipartUpload, conditional deletes on
DeleteObject and AbortMultipartUpload, as AWS answers them, on the standalone gateway and over
a storage cluster; and two conditional writes racing to one key, of which only one succeeds."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CompletedMultipartUploadTypeDef, CopySourceTypeDef
from nimbus_storage.gateway import objects

from tests.functional.conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY, GatewayHandle, error_code
from tests.functional.raw_http import Endpoint, read_answer


def _upload(s3: S3Client, bucket: str, key: str, body: bytes = b"part") -> tuple[str, Any]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=body)
    parts: CompletedMultipartUploadTypeDef = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    return upload, parts


def _body(s3: S3Client, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _upload_ids(s3: S3Client, bucket: str) -> list[str]:
    return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_conditional_completion(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    upload, parts = _upload(s3, bucket, "mp", b"new")
    # Absent key: If-Match has nothing to match (404), and the upload is left as it was.
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts, IfMatch='"x"'
        )
    ) == ("NoSuchKey", 404)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts, IfNoneMatch="*"
    )
    assert _body(s3, bucket, "mp") == b"new"
    etag = s3.head_object(Bucket=bucket, Key="mp")["ETag"]

    second, parts = _upload(s3, bucket, "mp", b"newer")
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=second, MultipartUpload=parts, IfNoneMatch="*"
        )
    ) == ("PreconditionFailed", 412)
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=second, MultipartUpload=parts, IfMatch='"other"'
        )
    ) == ("PreconditionFailed", 412)
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=second, MultipartUpload=parts, IfNoneMatch=etag
        )
    ) == ("InvalidArgument", 400)
    assert _body(s3, bucket, "mp") == b"new"
    assert second in _upload_ids(s3, bucket)  # a failed condition leaves the upload
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=second, MultipartUpload=parts, IfMatch=etag
    )
    assert _body(s3, bucket, "mp") == b"newer"
    assert _upload_ids(s3, bucket) == []


def test_conditional_copy(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="source", Body=b"source")
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": "source"}
    assert error_code(
        lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, IfMatch='"x"')
    ) == ("NoSuchKey", 404)
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, IfNoneMatch="*")
    assert _body(s3, bucket, "copy") == b"source"
    s3.put_object(Bucket=bucket, Key="copy", Body=b"changed")
    etag = s3.head_object(Bucket=bucket, Key="copy")["ETag"]
    assert error_code(
        lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, IfNoneMatch="*")
    ) == ("PreconditionFailed", 412)
    assert error_code(
        lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, IfMatch='"x"')
    ) == ("PreconditionFailed", 412)
    assert error_code(
        lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, IfNoneMatch=etag)
    ) == ("InvalidArgument", 400)
    assert _body(s3, bucket, "copy") == b"changed"
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, IfMatch=etag)
    assert _body(s3, bucket, "copy") == b"source"


def test_a_delete_marker_is_no_object_to_conditions(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="k")  # a delete marker is current
    assert error_code(lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatch="*")) == (
        "NoSuchKey",
        404,
    )
    assert error_code(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfMatch=first["ETag"])
    ) == ("NoSuchKey", 404)
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert _body(s3, bucket, "k") == b"2"
    # With versionId, the conditions are those of the version it names.
    version = first["VersionId"]
    assert error_code(
        lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId=version, IfMatch='"x"')
    ) == ("PreconditionFailed", 412)
    assert error_code(
        lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId="nosuch", IfMatch="*")
    ) == ("NoSuchVersion", 404)
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version, IfMatch=first["ETag"])
    listed = s3.list_object_versions(Bucket=bucket)
    assert version not in [v["VersionId"] for v in listed.get("Versions", [])]
    # A versioned conditional delete of the current object adds a delete marker.
    answer = s3.delete_object(Bucket=bucket, Key="k", IfMatch="*")
    assert answer["DeleteMarker"] is True


def test_conditional_delete(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    assert error_code(lambda: s3.delete_object(Bucket=bucket, Key="gone", IfMatch="*")) == (
        "NoSuchKey",
        404,
    )
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"12345")
    head = s3.head_object(Bucket=bucket, Key="k")
    modified = head["LastModified"]
    failing: list[Callable[[], Any]] = [
        lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatch='"0123"'),
        lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatchSize=4),
        lambda: s3.delete_object(
            Bucket=bucket, Key="k", IfMatchLastModifiedTime=modified - timedelta(seconds=5)
        ),
        lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatch=put["ETag"], IfMatchSize=6),
    ]
    for call in failing:
        assert error_code(call) == ("PreconditionFailed", 412)
    assert _body(s3, bucket, "k") == b"12345"
    s3.delete_object(
        Bucket=bucket,
        Key="k",
        IfMatch=put["ETag"],
        IfMatchSize=5,
        IfMatchLastModifiedTime=modified,
    )
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k")) == ("404", 404)
    for name in ("IfMatch", "IfMatchSize", "IfMatchLastModifiedTime"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"1")
        current = s3.head_object(Bucket=bucket, Key="k")["LastModified"]  # this write's own
        condition = {"IfMatch": "*", "IfMatchSize": 1, "IfMatchLastModifiedTime": current}
        s3.delete_object(Bucket=bucket, Key="k", **{name: condition[name]})  # type: ignore[arg-type]
        assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k")) == ("404", 404)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-amz-if-match-size", "five"),
        ("x-amz-if-match-size", "-1"),
        ("x-amz-if-match-last-modified-time", "yesterday"),
    ],
)
def test_malformed_delete_conditions_are_400(
    gateway: GatewayHandle, s3: S3Client, bucket: str, header: str, value: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    endpoint = Endpoint.of(gateway.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    with endpoint.connect() as sock:
        sock.sendall(endpoint.signed_head("DELETE", f"/{bucket}/k", {header: value}))
        answer = read_answer(sock)
    assert (answer.status, answer.code) == (400, "InvalidArgument")
    assert _body(s3, bucket, "k") == b"kept"


def test_conditional_abort(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    upload, _parts = _upload(s3, bucket, "mp")
    (listed,) = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    initiated = listed["Initiated"]
    assert error_code(
        lambda: s3.abort_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload,
            IfMatchInitiatedTime=initiated + timedelta(seconds=2),
        )
    ) == ("PreconditionFailed", 412)
    assert _upload_ids(s3, bucket) == [upload]
    s3.abort_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, IfMatchInitiatedTime=initiated
    )
    assert _upload_ids(s3, bucket) == []


# --- races ----------------------------------------------------------------------------------


class StoreGate:
    """Holds every blob write of one key just after it is stored, until released."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.arrived = threading.Semaphore(0)
        self.release = threading.Event()

    def wait_arrivals(self, count: int) -> None:
        for _ in range(count):
            assert self.arrived.acquire(timeout=30), "the write never paused"


@pytest.fixture
def store_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[StoreGate]:
    gate = StoreGate("race")
    original = objects.store_blob

    async def paused(*args: Any, **kwargs: Any) -> objects.StoredBlob:
        stored = await original(*args, **kwargs)
        if args[2] == gate.key:
            gate.arrived.release()
            await asyncio.to_thread(gate.release.wait, 30)
        return stored

    monkeypatch.setattr(objects, "store_blob", paused)
    yield gate
    gate.release.set()


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def test_racing_conditional_completions_one_wins(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, store_gate: StoreGate
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    started = [_upload(s3, bucket, "race", body) for body in (b"a", b"b")]
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(
                _outcome,
                partial(
                    s3.complete_multipart_upload,
                    Bucket=bucket,
                    Key="race",
                    UploadId=upload,
                    MultipartUpload=parts,
                    IfNoneMatch="*",
                ),
            )
            for upload, parts in started
        ]
        store_gate.wait_arrivals(2)  # both manifests stored, neither committed
        store_gate.release.set()
        outcomes = [future.result(timeout=60) for future in futures]
    assert sorted(outcomes) == ["PreconditionFailed", "ok"]
    winner = outcomes.index("ok")
    assert _body(s3, bucket, "race") == [b"a", b"b"][winner]
    assert _upload_ids(s3, bucket) == [started[1 - winner][0]]  # the loser's is left
    s3.abort_multipart_upload(Bucket=bucket, Key="race", UploadId=started[1 - winner][0])


def test_racing_conditional_puts_one_wins(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, store_gate: StoreGate
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    bodies = [b"first", b"second"]
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(
                _outcome,
                partial(s3.put_object, Bucket=bucket, Key="race", Body=body, IfNoneMatch="*"),
            )
            for body in bodies
        ]
        store_gate.wait_arrivals(2)
        store_gate.release.set()
        outcomes = [future.result(timeout=60) for future in futures]
    assert sorted(outcomes) == ["PreconditionFailed", "ok"]
    assert _body(s3, bucket, "race") == bodies[outcomes.index("ok")]


def test_conditional_batch_delete_checks_each_object(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """DeleteObjects' ``<ETag>``, ``<LastModifiedTime>`` and ``<Size>``: each object's own
    conditions, as DeleteObject's headers; one failing leaves that object and deletes the rest."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    etags = {
        key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode())["ETag"] for key in "abcd"
    }
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    answer = s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [
                {"Key": "a", "ETag": etags["a"]},
                {"Key": "b", "ETag": etags["a"]},  # another object's ETag
                {"Key": "c", "LastModifiedTime": modified, "Size": 1},
                {"Key": "d", "Size": 2},  # d is 1 byte
            ]
        },
    )
    assert sorted(entry["Key"] for entry in answer["Deleted"]) == ["a", "c"]
    failed = {entry["Key"]: entry["Code"] for entry in answer["Errors"]}
    assert failed == {"b": "PreconditionFailed", "d": "PreconditionFailed"}
    remaining = [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert remaining == ["b", "d"]
    missing = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "gone", "ETag": "*"}]})
    assert [entry["Code"] for entry in missing["Errors"]] == ["NoSuchKey"]
