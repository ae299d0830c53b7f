"""Which AWS operation a request is: method, bucket, key and sub-resource query parameters.

The result is the operation's AWS name (``PutObject``, ``ListObjectsV2`` ...); each has exactly
one handler, registered under that name.
"""

from __future__ import annotations

from collections.abc import Mapping

from nimbus_storage.s3errors import MethodNotAllowed, NotImplementedError_

# Sub-resources Nimbus answers on a bucket, by method. Order matters only for readability.
_BUCKET_SUBRESOURCES: dict[str, dict[str, str]] = {
    "versioning": {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"},
    "tagging": {
        "GET": "GetBucketTagging",
        "PUT": "PutBucketTagging",
        "DELETE": "DeleteBucketTagging",
    },
    "cors": {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"},
    "policy": {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"},
    "lifecycle": {
        "GET": "GetBucketLifecycleConfiguration",
        "PUT": "PutBucketLifecycleConfiguration",
        "DELETE": "DeleteBucketLifecycle",
    },
    "acl": {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"},
    "location": {"GET": "GetBucketLocation"},
    "uploads": {"GET": "ListMultipartUploads"},
    "versions": {"GET": "ListObjectVersions"},
    "delete": {"POST": "DeleteObjects"},
    "encryption": {
        "GET": "GetBucketEncryption",
        "PUT": "PutBucketEncryption",
        "DELETE": "DeleteBucketEncryption",
    },
}

# Sub-resources S3 has that Nimbus does not implement: answered with 501 NotImplemented, never
# silently treated as a plain bucket request.
_UNSUPPORTED_BUCKET_SUBRESOURCES = frozenset(
    {
        "accelerate",
        "analytics",
        "intelligent-tiering",
        "inventory",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "website",
    }
)

_OBJECT_SUBRESOURCES: dict[str, dict[str, str]] = {
    "tagging": {
        "GET": "GetObjectTagging",
        "PUT": "PutObjectTagging",
        "DELETE": "DeleteObjectTagging",
    },
    "acl": {"GET": "GetObjectAcl", "PUT": "PutObjectAcl"},
}

_UNSUPPORTED_OBJECT_SUBRESOURCES = frozenset(
    {"attributes", "legal-hold", "restore", "retention", "select", "torrent"}
)


def _pick(table: Mapping[str, str], method: str) -> str:
    try:
        return table[method]
    except KeyError:
        raise MethodNotAllowed() from None


def resolve_operation(
    method: str, bucket: str, key: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> str:
    method = "GET" if method == "HEAD" and not bucket else method
    if method == "OPTIONS":
        return "PreflightCors"
    if not bucket:
        return _pick({"GET": "ListBuckets"}, method)
    if not key:
        return _bucket_operation(method, query)
    return _object_operation(method, query, headers)


def _bucket_operation(method: str, query: Mapping[str, str]) -> str:
    for name, table in _BUCKET_SUBRESOURCES.items():
        if name in query:
            return _pick(table, method)
    unsupported = _UNSUPPORTED_BUCKET_SUBRESOURCES.intersection(query)
    if unsupported:
        raise NotImplementedError_(
            f"Bucket sub-resource {sorted(unsupported)[0]!r} is not supported"
        )
    if method == "GET":
        return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
    return _pick(
        {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"},
        method,
    )


def _object_operation(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    for name, table in _OBJECT_SUBRESOURCES.items():
        if name in query:
            return _pick(table, method)
    unsupported = _UNSUPPORTED_OBJECT_SUBRESOURCES.intersection(query)
    if unsupported:
        raise NotImplementedError_(
            f"Object sub-resource {sorted(unsupported)[0]!r} is not supported"
        )
    if "uploadId" in query:
        if method == "PUT":
            return "UploadPartCopy" if "x-amz-copy-source" in headers else "UploadPart"
        return _pick(
            {
                "GET": "ListParts",
                "POST": "CompleteMultipartUpload",
                "DELETE": "AbortMultipartUpload",
            },
            method,
        )
    if "uploads" in query:
        return _pick({"POST": "CreateMultipartUpload"}, method)
    if method == "PUT":
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    return _pick(
        {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"},
        method,
    )
