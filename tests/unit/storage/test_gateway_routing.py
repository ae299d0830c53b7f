"""Routing: the AWS operation for every method, bucket/key and sub-resource."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from nimbus_storage.gateway.routing import resolve_operation
from nimbus_storage.s3errors import MethodNotAllowed, NotImplementedError_

COPY = {"x-amz-copy-source": "/src/key"}


def _query(raw: str) -> dict[str, str]:
    """``"uploadId=1&partNumber=2"`` -> a query mapping; a bare name maps to ``""``."""
    pairs = (item.partition("=") for item in raw.split("&") if item)
    return {name: value for name, _, value in pairs}


def route(
    method: str,
    bucket: str = "",
    key: str = "",
    query: str = "",
    headers: dict[str, str] | None = None,
) -> str:
    return resolve_operation(method, bucket, key, _query(query), headers or {}).name


@pytest.mark.parametrize(
    ("method", "expected"),
    [("GET", "ListBuckets"), ("HEAD", "ListBuckets"), ("OPTIONS", "PreflightCors")],
)
def test_service(method: str, expected: str) -> None:
    assert route(method) == expected


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
def test_service_rejects_other_methods(method: str) -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        route(method)
    assert caught.value.status == 405


@pytest.mark.parametrize(
    ("method", "query", "expected"),
    [
        ("GET", "", "ListObjects"),
        ("GET", "list-type=2", "ListObjectsV2"),
        ("GET", "list-type=1", "ListObjects"),
        ("GET", "prefix=a&delimiter=/", "ListObjects"),
        ("PUT", "", "CreateBucket"),
        ("HEAD", "", "HeadBucket"),
        ("DELETE", "", "DeleteBucket"),
        ("OPTIONS", "", "PreflightCors"),
        ("OPTIONS", "cors", "PreflightCors"),
        ("GET", "versioning", "GetBucketVersioning"),
        ("PUT", "versioning", "PutBucketVersioning"),
        ("GET", "tagging", "GetBucketTagging"),
        ("PUT", "tagging", "PutBucketTagging"),
        ("DELETE", "tagging", "DeleteBucketTagging"),
        ("GET", "cors", "GetBucketCors"),
        ("PUT", "cors", "PutBucketCors"),
        ("DELETE", "cors", "DeleteBucketCors"),
        ("GET", "policy", "GetBucketPolicy"),
        ("PUT", "policy", "PutBucketPolicy"),
        ("DELETE", "policy", "DeleteBucketPolicy"),
        ("GET", "lifecycle", "GetBucketLifecycleConfiguration"),
        ("PUT", "lifecycle", "PutBucketLifecycleConfiguration"),
        ("DELETE", "lifecycle", "DeleteBucketLifecycle"),
        ("GET", "acl", "GetBucketAcl"),
        ("PUT", "acl", "PutBucketAcl"),
        ("GET", "location", "GetBucketLocation"),
        ("GET", "uploads", "ListMultipartUploads"),
        ("GET", "uploads&prefix=a&key-marker=b", "ListMultipartUploads"),
        ("GET", "versions", "ListObjectVersions"),
        ("GET", "versions&list-type=2", "ListObjectVersions"),  # sub-resource wins
        ("POST", "delete", "DeleteObjects"),
        ("GET", "encryption", "GetBucketEncryption"),
        ("PUT", "encryption", "PutBucketEncryption"),  # refused by its handler: 501
        ("DELETE", "encryption", "DeleteBucketEncryption"),
        ("GET", "publicAccessBlock", "GetPublicAccessBlock"),
        ("PUT", "publicAccessBlock", "PutPublicAccessBlock"),
        ("DELETE", "publicAccessBlock", "DeletePublicAccessBlock"),
        ("GET", "policyStatus", "GetBucketPolicyStatus"),
        ("GET", "ownershipControls", "GetBucketOwnershipControls"),
        ("PUT", "ownershipControls", "PutBucketOwnershipControls"),
        ("DELETE", "ownershipControls", "DeleteBucketOwnershipControls"),
        ("GET", "logging", "GetBucketLogging"),
        ("PUT", "logging", "PutBucketLogging"),
        ("GET", "object-lock", "GetObjectLockConfiguration"),
        ("PUT", "object-lock", "PutObjectLockConfiguration"),
        ("GET", "policyStatus&website", "GetBucketPolicyStatus"),
        ("GET", "tagging&website", "GetBucketTagging"),  # a supported one wins over 501
        # Two sub-resources: the first in table order claims the request.
        ("GET", "acl&versioning", "GetBucketVersioning"),
        ("GET", "location&acl", "GetBucketAcl"),
        ("GET", "encryption&location", "GetBucketLocation"),
        ("GET", "versions&uploads", "ListMultipartUploads"),
    ],
)
def test_bucket_operations(method: str, query: str, expected: str) -> None:
    assert route(method, "bucket", query=query) == expected


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("POST", ""),
        ("PATCH", ""),
        ("DELETE", "versioning"),
        ("POST", "versioning"),
        ("POST", "tagging"),
        ("HEAD", "cors"),
        ("POST", "policy"),
        ("POST", "lifecycle"),
        ("DELETE", "acl"),
        ("PUT", "policyStatus"),
        ("DELETE", "policyStatus"),
        ("POST", "publicAccessBlock"),
        ("POST", "ownershipControls"),
        ("PUT", "location"),
        ("DELETE", "location"),
        ("POST", "uploads"),  # CreateMultipartUpload needs a key
        ("PUT", "versions"),
        ("GET", "delete"),
        ("DELETE", "delete"),
        ("POST", "versioning&delete"),  # versioning claims it first
        ("GET", "encryption&delete"),  # delete claims it first
    ],
)
def test_bucket_wrong_method_is_405(method: str, query: str) -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        route(method, "bucket", query=query)
    assert (caught.value.status, caught.value.code) == (405, "MethodNotAllowed")


FORM = {"Content-Type": "multipart/form-data; boundary=----x"}


@pytest.mark.parametrize(
    ("bucket", "key", "query", "headers", "expected"),
    [
        ("bucket", "", "", FORM, "PostObject"),
        ("bucket", "", "", {"content-type": "Multipart/Form-Data;boundary=x"}, "PostObject"),
        ("bucket", "", "delete", FORM, "DeleteObjects"),  # the sub-resource claims it
        ("bucket", "k", "uploads", FORM, "CreateMultipartUpload"),
        ("bucket", "k", "uploadId=1", FORM, "CompleteMultipartUpload"),
    ],
)
def test_browser_upload_is_a_form_posted_to_a_bucket(
    bucket: str, key: str, query: str, headers: dict[str, str], expected: str
) -> None:
    assert route("POST", bucket, key, query, headers) == expected


@pytest.mark.parametrize(
    ("bucket", "key", "headers"),
    [
        ("bucket", "", {}),
        ("bucket", "", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("bucket", "", {"Content-Type": "multipart/mixed; boundary=x"}),
        ("bucket", "k", FORM),  # the form names the key: a POST to one is not an upload
        ("", "", FORM),
    ],
)
def test_other_posts_are_not_browser_uploads(
    bucket: str, key: str, headers: dict[str, str]
) -> None:
    with pytest.raises(MethodNotAllowed):
        route("POST", bucket, key, "", headers)


@pytest.mark.parametrize(
    "subresource",
    [
        "accelerate",
        "analytics",
        "intelligent-tiering",
        "inventory",
        "metrics",
        "notification",
        "replication",
        "requestPayment",
        "website",
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unsupported_bucket_subresource_is_501(method: str, subresource: str) -> None:
    with pytest.raises(NotImplementedError_) as caught:
        route(method, "bucket", query=subresource)
    assert (caught.value.status, caught.value.code) == (501, "NotImplemented")
    assert repr(subresource) in caught.value.message


def test_unsupported_bucket_subresource_named_first_alphabetically() -> None:
    with pytest.raises(NotImplementedError_) as caught:
        route("GET", "bucket", query="website&replication")
    assert "'replication'" in caught.value.message


@pytest.mark.parametrize(
    ("method", "query", "headers", "expected"),
    [
        ("GET", "", {}, "GetObject"),
        ("GET", "versionId=v1", {}, "GetObject"),
        ("GET", "partNumber=1", {}, "GetObject"),
        ("GET", "response-content-type=text/plain", {}, "GetObject"),
        ("HEAD", "", {}, "HeadObject"),
        ("HEAD", "versionId=v1", {}, "HeadObject"),
        ("PUT", "", {}, "PutObject"),
        ("PUT", "", COPY, "CopyObject"),
        ("PUT", "versionId=v1", COPY, "CopyObject"),
        ("DELETE", "", {}, "DeleteObject"),
        ("DELETE", "versionId=v1", {}, "DeleteObject"),
        ("OPTIONS", "", {}, "PreflightCors"),
        ("OPTIONS", "uploadId=u", {}, "PreflightCors"),
        ("GET", "tagging", {}, "GetObjectTagging"),
        ("GET", "tagging&versionId=v1", {}, "GetObjectTagging"),
        ("PUT", "tagging", {}, "PutObjectTagging"),
        ("PUT", "tagging", COPY, "PutObjectTagging"),  # sub-resource before copy header
        ("DELETE", "tagging", {}, "DeleteObjectTagging"),
        ("GET", "retention&versionId=v1", {}, "GetObjectRetention"),
        ("PUT", "retention", {}, "PutObjectRetention"),
        ("GET", "legal-hold", {}, "GetObjectLegalHold"),
        ("PUT", "legal-hold&versionId=v1", {}, "PutObjectLegalHold"),
        ("GET", "acl", {}, "GetObjectAcl"),
        ("PUT", "acl", {}, "PutObjectAcl"),
        ("POST", "uploads", {}, "CreateMultipartUpload"),
        ("PUT", "uploadId=u&partNumber=1", {}, "UploadPart"),
        ("PUT", "uploadId=u&partNumber=1", COPY, "UploadPartCopy"),
        ("GET", "uploadId=u", {}, "ListParts"),
        ("GET", "uploadId=u&max-parts=10", {}, "ListParts"),
        ("POST", "uploadId=u", {}, "CompleteMultipartUpload"),
        ("DELETE", "uploadId=u", {}, "AbortMultipartUpload"),
        ("POST", "uploads&uploadId=u", {}, "CompleteMultipartUpload"),  # uploadId wins
        ("GET", "attributes", {}, "GetObjectAttributes"),
        ("GET", "attributes&versionId=v1", {}, "GetObjectAttributes"),
        ("GET", "acl&tagging", {}, "GetObjectTagging"),  # tagging comes first
        ("GET", "tagging&uploadId=u", {}, "GetObjectTagging"),  # sub-resources before uploadId
    ],
)
def test_object_operations(method: str, query: str, headers: dict[str, str], expected: str) -> None:
    assert route(method, "bucket", "dir/key", query, headers) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Amz-Copy-Source": "/src/key"}, "CopyObject"),
        ({"x-amz-copy-source": "src/key"}, "CopyObject"),
        ({"X-Amz-Copy-Source-If-Match": '"e"'}, "PutObject"),  # only the exact header counts
        ({"x-amz-copy-source-range": "bytes=0-1"}, "PutObject"),
    ],
)
def test_copy_header_is_case_insensitive_on_real_request_headers(
    headers: dict[str, str], expected: str
) -> None:
    proxy = CIMultiDictProxy(CIMultiDict(headers))
    assert resolve_operation("PUT", "bucket", "key", {}, proxy).name == expected


def test_upload_part_copy_with_real_request_headers() -> None:
    proxy = CIMultiDictProxy(CIMultiDict({"X-Amz-Copy-Source": "/src/key"}))
    query = {"uploadId": "u", "partNumber": "3"}
    assert resolve_operation("PUT", "bucket", "key", query, proxy).name == "UploadPartCopy"


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("POST", ""),
        ("PATCH", ""),
        ("POST", "tagging"),
        ("HEAD", "tagging"),
        ("DELETE", "acl"),
        ("HEAD", "acl"),
        ("PUT", "attributes"),
        ("HEAD", "attributes"),
        ("GET", "uploads"),
        ("PUT", "uploads"),
        ("DELETE", "uploads"),
        ("HEAD", "uploadId=u"),
        ("PATCH", "uploadId=u"),
    ],
)
def test_object_wrong_method_is_405(method: str, query: str) -> None:
    with pytest.raises(MethodNotAllowed):
        route(method, "bucket", "key", query)


@pytest.mark.parametrize("subresource", ["restore", "select", "torrent"])
def test_unsupported_object_subresource_is_501(subresource: str) -> None:
    with pytest.raises(NotImplementedError_) as caught:
        route("GET", "bucket", "key", f"{subresource}&versionId=v1")
    assert caught.value.status == 501
    assert repr(subresource) in caught.value.message


@pytest.mark.parametrize(
    "query", ["restore", "select&select-type=2", "uploadId=u&restore", "uploads&select"]
)
def test_unsupported_object_post_is_501_not_405(query: str) -> None:
    with pytest.raises(NotImplementedError_):
        route("POST", "bucket", "key", query)


@pytest.mark.parametrize(
    "subresource", ["versioning", "cors", "policy", "lifecycle", "location", "website"]
)
def test_bucket_only_subresources_on_a_key_do_not_route_as_bucket_operations(
    subresource: str,
) -> None:
    # ?cors on an object is not GetBucketCors: the key decides it is an object request.
    assert route("GET", "bucket", "key", subresource) == "GetObject"
