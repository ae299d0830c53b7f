"""Multipart uploads with checksums: every way to get them wrong, answered as AWS answers, and
the upload left as it was (it still completes with the right checksums)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY, GatewayHandle
from tests.functional.raw_http import Answer, Endpoint, read_answer
from tests.functional.test_multipart_checksums import b64, composite, exact_client, failure

DATA = b"a part of an upload with a checksum"


@pytest.fixture
def s3(gateway: GatewayHandle) -> S3Client:
    return exact_client(gateway)


def _created(s3: S3Client, bucket: str, **checksum: Any) -> str:
    return s3.create_multipart_upload(Bucket=bucket, Key="k", **checksum)["UploadId"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"ChecksumType": "COMPOSITE"},
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm"
            " header.",
        ),
        (
            {"ChecksumAlgorithm": "MD4"},
            "Checksum algorithm provided is unsupported. Please try again with any of the valid"
            " types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
        ),
        (
            {"ChecksumAlgorithm": "CRC32", "ChecksumType": "PARTS"},
            "Value for x-amz-checksum-type header is invalid.",
        ),
        (
            {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"},
            "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.",
        ),
        (
            {"ChecksumAlgorithm": "SHA1", "ChecksumType": "FULL_OBJECT"},
            "The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.",
        ),
        (
            {"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"},
            "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
        ),
    ],
)
def test_create_refuses(s3: S3Client, bucket: str, headers: Any, message: str) -> None:
    assert failure(lambda: _created(s3, bucket, **headers)) == ("InvalidRequest", message)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_part_refuses(s3: S3Client, bucket: str) -> None:
    upload_id = _created(s3, bucket, ChecksumAlgorithm="SHA256")

    def part(**checksum: Any) -> Any:
        return s3.upload_part(
            Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=DATA, **checksum
        )

    mismatch = "Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum"
    assert failure(part) == ("InvalidRequest", f"{mismatch} Type: null")
    assert failure(lambda: part(ChecksumCRC32=b64("CRC32", DATA))) == (
        "InvalidRequest",
        f"{mismatch} Type: crc32",
    )
    assert failure(lambda: part(ChecksumSHA256=b64("SHA256", b"other data"))) == (
        "BadDigest",
        "The SHA256 you specified did not match the calculated checksum.",
    )
    assert failure(lambda: part(ChecksumSHA256="not base64"))[0] == "InvalidRequest"
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []
    assert part(ChecksumSHA256=b64("SHA256", DATA))["ChecksumSHA256"] == b64("SHA256", DATA)


def test_complete_refuses(s3: S3Client, bucket: str) -> None:
    upload_id = _created(s3, bucket, ChecksumAlgorithm="SHA256")
    etag = s3.upload_part(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        PartNumber=1,
        Body=DATA,
        ChecksumSHA256=b64("SHA256", DATA),
    )["ETag"]
    good: Any = {"PartNumber": 1, "ETag": etag, "ChecksumSHA256": b64("SHA256", DATA)}
    expected = composite("SHA256", [DATA])

    def complete(*parts: Any, **headers: Any) -> Any:
        return s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": list(parts)},
            **headers,
        )

    invalid_part = ("InvalidPart", "One or more of the specified parts could not be found.")
    bad_digest = ("BadDigest", "The sha256 you specified did not match the calculated checksum.")
    refused: list[tuple[Any, Any, tuple[str, str]]] = [
        (
            [{"PartNumber": 1, "ETag": etag}],
            {},
            (
                "InvalidRequest",
                "The upload was created using a sha256 checksum. The complete request must"
                " include the checksum for each part. It was missing for part 1 in the request.",
            ),
        ),
        ([good | {"ChecksumSHA256": b64("SHA256", b"x")}], {}, invalid_part),
        ([{"PartNumber": 1, "ETag": etag, "ChecksumCRC32": b64("CRC32", DATA)}], {}, invalid_part),
        (
            [good | {"ChecksumSHA256": "bm90IGEgc2hhMjU2"}],
            {},
            ("InvalidArgument", "Invalid Base64 or multiple checksums present in request"),
        ),
        ([good | {"PartNumber": 2}], {}, ("InvalidPartOrder", "")),
        ([good], {"ChecksumSHA256": b64("SHA256", DATA)}, bad_digest),
        ([good], {"ChecksumSHA256": f"{expected[:-2]}-2"}, bad_digest),
        (
            [good],
            {"ChecksumSHA256": "bad"},
            ("InvalidRequest", "Value for x-amz-checksum-sha256 header is invalid."),
        ),
        (
            [good],
            {"ChecksumSHA256": f"{expected}x"},
            ("InvalidRequest", "Value for x-amz-checksum-sha256 header is invalid."),
        ),
        (
            [good],
            {"ChecksumCRC32": b64("CRC32", DATA)},
            (
                "InvalidRequest",
                "Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum"
                " Type: crc32",
            ),
        ),
        (
            [good],
            {"ChecksumType": "FULL_OBJECT"},
            (
                "InvalidRequest",
                "The upload was created using the COMPOSITE checksum mode. The complete request"
                " must use the same checksum mode.",
            ),
        ),
    ]
    for parts, headers, (code, message) in refused:
        got = failure(lambda parts=parts, headers=headers: complete(*parts, **headers))
        assert got[0] == code, (parts, headers, got)
        assert got[1].startswith(message), (parts, headers, got)
    # A composite checksum's part count may be left out; the upload is still there.
    result: Any = complete(
        good, ChecksumSHA256=expected.partition("-")[0], ChecksumType="COMPOSITE"
    )
    assert (result["ChecksumSHA256"], result["ChecksumType"]) == (expected, "COMPOSITE")


def test_a_wrong_part_checksum_fails_the_stated_composite_first(s3: S3Client, bucket: str) -> None:
    """S3 computes a composite checksum from the part checksums listed: one that is wrong makes
    the object's checksum (when the request states it) BadDigest, before the part is InvalidPart."""
    upload_id = _created(s3, bucket, ChecksumAlgorithm="CRC32")
    etag = s3.upload_part(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        PartNumber=1,
        Body=DATA,
        ChecksumCRC32=b64("CRC32", DATA),
    )["ETag"]
    wrong: Any = {"PartNumber": 1, "ETag": etag, "ChecksumCRC32": b64("CRC32", b"x")}
    assert (
        failure(
            lambda: s3.complete_multipart_upload(
                Bucket=bucket,
                Key="k",
                UploadId=upload_id,
                MultipartUpload={"Parts": [wrong]},
                ChecksumCRC32=composite("CRC32", [DATA]),
            )
        )[0]
        == "BadDigest"
    )


def test_a_part_replaced_keeps_the_new_checksum(s3: S3Client, bucket: str) -> None:
    upload_id = _created(s3, bucket, ChecksumAlgorithm="CRC32C")
    for data in (b"first", DATA):
        etag = s3.upload_part(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            PartNumber=1,
            Body=data,
            ChecksumCRC32C=b64("CRC32C", data),
        )["ETag"]
    listed: Any = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [(p["ETag"], p["ChecksumCRC32C"]) for p in listed] == [(etag, b64("CRC32C", DATA))]
    result: Any = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etag, "ChecksumCRC32C": b64("CRC32C", DATA)}]
        },
    )
    assert result["ChecksumCRC32C"] == composite("CRC32C", [DATA])
    assert result["ETag"] != etag  # the multipart ETag, not the part's


def _trailer_signed_head(endpoint: Endpoint, path: str, headers: dict[str, str]) -> bytes:
    """A PUT's head signed as SDKs sign a body with a trailing checksum."""
    netloc = f"{endpoint.host}:{endpoint.port}"
    request = AWSRequest(method="PUT", url=f"http://{netloc}{path}", headers=headers)
    request.context["checksum"] = {"request_algorithm": {"in": "trailer"}}
    credentials = Credentials(endpoint.access_key, endpoint.secret_key)
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    lines = [f"PUT {path} HTTP/1.1", f"Host: {netloc}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items() if name != "Host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_part_checksum_in_a_trailer(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    """A part's checksum may follow its data (aws-chunked, as SDKs send it over HTTPS)."""
    upload_id = _created(s3, bucket, ChecksumAlgorithm="SHA256")
    endpoint = Endpoint.of(gateway.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)

    def part(trailer: str, value: str) -> Answer:
        headers = {
            "Content-Encoding": "aws-chunked",
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "x-amz-decoded-content-length": str(len(DATA)),
            "x-amz-trailer": trailer,
        }
        body = f"{len(DATA):x}\r\n".encode() + DATA + f"\r\n0\r\n{trailer}:{value}\r\n\r\n".encode()
        headers["Content-Length"] = str(len(body))
        path = f"/{bucket}/k?partNumber=1&uploadId={upload_id}"
        with endpoint.connect() as sock:
            sock.sendall(_trailer_signed_head(endpoint, path, headers) + body)
            return read_answer(sock)

    crc32 = part("x-amz-checksum-crc32", b64("CRC32", DATA))
    assert (crc32.status, crc32.code) == (400, "InvalidRequest")
    assert b"expected checksum Type: sha256, actual checksum Type: crc32" in crc32.body
    wrong = part("x-amz-checksum-sha256", b64("SHA256", b"other data"))
    assert (wrong.status, wrong.code) == (400, "BadDigest")
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []
    good = part("x-amz-checksum-sha256", b64("SHA256", DATA))
    assert good.status == 200, good.body
    assert good.headers["x-amz-checksum-sha256"] == b64("SHA256", DATA)
    listed: Any = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [p["ChecksumSHA256"] for p in listed] == [b64("SHA256", DATA)]
