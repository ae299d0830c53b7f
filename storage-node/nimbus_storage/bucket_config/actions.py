"""The S3 IAM actions Nimbus knows, the resources each applies to, and the action per operation.

Action names follow the AWS Service Authorization Reference for Amazon S3. An action applies to a
bucket (``arn:aws:s3:::bucket``), to objects (``arn:aws:s3:::bucket/key``) or to the service as a
whole (``s3:ListAllMyBuckets``, whose resource is ``*``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class ResourceKind(enum.Enum):
    SERVICE = "service"
    BUCKET = "bucket"
    OBJECT = "object"


_SERVICE_ACTIONS = ("s3:ListAllMyBuckets",)

_BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketLocation",
    "s3:GetBucketVersioning",
    "s3:PutBucketVersioning",
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketCORS",
    "s3:PutBucketCORS",
    "s3:GetLifecycleConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:GetBucketTagging",
    "s3:PutBucketTagging",
    "s3:GetBucketAcl",
    "s3:PutBucketAcl",
    "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:GetBucketNotification",
    "s3:PutBucketNotification",
    "s3:GetBucketLogging",
    "s3:PutBucketLogging",
    "s3:GetBucketWebsite",
    "s3:PutBucketWebsite",
    "s3:DeleteBucketWebsite",
    "s3:GetReplicationConfiguration",
    "s3:PutReplicationConfiguration",
    "s3:GetBucketObjectLockConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:GetAccelerateConfiguration",
    "s3:PutAccelerateConfiguration",
    "s3:GetBucketRequestPayment",
    "s3:PutBucketRequestPayment",
)

_OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAttributes",
    "s3:GetObjectVersionAttributes",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAcl",
    "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:RestoreObject",
    "s3:GetObjectRetention",
    "s3:PutObjectRetention",
    "s3:GetObjectLegalHold",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
)

ACTION_RESOURCE_KIND: Mapping[str, ResourceKind] = MappingProxyType(
    dict.fromkeys(_SERVICE_ACTIONS, ResourceKind.SERVICE)
    | dict.fromkeys(_BUCKET_ACTIONS, ResourceKind.BUCKET)
    | dict.fromkeys(_OBJECT_ACTIONS, ResourceKind.OBJECT)
)
KNOWN_ACTIONS: frozenset[str] = frozenset(ACTION_RESOURCE_KIND)

ACTION_FOR_OPERATION: Mapping[str, str] = MappingProxyType(
    {
        "ListBuckets": "s3:ListAllMyBuckets",
        "CreateBucket": "s3:CreateBucket",
        "DeleteBucket": "s3:DeleteBucket",
        "HeadBucket": "s3:ListBucket",
        "ListObjects": "s3:ListBucket",
        "ListObjectsV2": "s3:ListBucket",
        "ListObjectVersions": "s3:ListBucketVersions",
        "GetBucketLocation": "s3:GetBucketLocation",
        "GetBucketVersioning": "s3:GetBucketVersioning",
        "PutBucketVersioning": "s3:PutBucketVersioning",
        "GetBucketPolicy": "s3:GetBucketPolicy",
        "PutBucketPolicy": "s3:PutBucketPolicy",
        "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
        "GetBucketCors": "s3:GetBucketCORS",
        "PutBucketCors": "s3:PutBucketCORS",
        "DeleteBucketCors": "s3:PutBucketCORS",
        "GetBucketLifecycle": "s3:GetLifecycleConfiguration",
        "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
        "PutBucketLifecycle": "s3:PutLifecycleConfiguration",
        "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
        "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
        "GetBucketTagging": "s3:GetBucketTagging",
        "PutBucketTagging": "s3:PutBucketTagging",
        "DeleteBucketTagging": "s3:PutBucketTagging",
        "GetBucketAcl": "s3:GetBucketAcl",
        "PutBucketAcl": "s3:PutBucketAcl",
        "GetBucketEncryption": "s3:GetEncryptionConfiguration",
        "PutBucketEncryption": "s3:PutEncryptionConfiguration",
        "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
        "GetObject": "s3:GetObject",
        "HeadObject": "s3:GetObject",
        "PutObject": "s3:PutObject",
        "CopyObject": "s3:PutObject",
        "DeleteObject": "s3:DeleteObject",
        "DeleteObjects": "s3:DeleteObject",
        "GetObjectTagging": "s3:GetObjectTagging",
        "PutObjectTagging": "s3:PutObjectTagging",
        "DeleteObjectTagging": "s3:DeleteObjectTagging",
        "GetObjectAcl": "s3:GetObjectAcl",
        "PutObjectAcl": "s3:PutObjectAcl",
        "CreateMultipartUpload": "s3:PutObject",
        "UploadPart": "s3:PutObject",
        "UploadPartCopy": "s3:PutObject",
        "CompleteMultipartUpload": "s3:PutObject",
        "AbortMultipartUpload": "s3:AbortMultipartUpload",
        "ListParts": "s3:ListMultipartUploadParts",
        "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    }
)

# The action that replaces the plain one when the request names a version (?versionId=).
_VERSIONED_ACTION: Mapping[str, str] = MappingProxyType(
    {
        "s3:GetObject": "s3:GetObjectVersion",
        "s3:DeleteObject": "s3:DeleteObjectVersion",
        "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
        "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
        "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
        "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    }
)

# Operations that read another object too: the copy source needs this action on its own ARN.
COPY_SOURCE_OPERATIONS: frozenset[str] = frozenset({"CopyObject", "UploadPartCopy"})


def action_for(operation: str, *, version_id: str | None = None) -> str:
    """The IAM action a request needs on its own resource; KeyError for an unknown operation.

    ``version_id`` is the request's ``versionId`` query parameter: GetObject and HeadObject then
    need ``s3:GetObjectVersion``, DeleteObject ``s3:DeleteObjectVersion``, and so on.
    """
    action = ACTION_FOR_OPERATION[operation]
    if version_id is not None:
        return _VERSIONED_ACTION.get(action, action)
    return action


def copy_source_action(source_version_id: str | None = None) -> str:
    """The action CopyObject / UploadPartCopy need on the source object."""
    return "s3:GetObjectVersion" if source_version_id is not None else "s3:GetObject"
