"""The S3 IAM actions a bucket policy may name, and the resources each applies to.

Action names follow the AWS Service Authorization Reference for Amazon S3. An action applies to a
bucket (``arn:aws:s3:::bucket``), to objects (``arn:aws:s3:::bucket/key``) or to the service as a
whole (``s3:ListAllMyBuckets``, whose resource is ``*``). Which action each operation needs is
part of the operation's definition (gateway/operations/).
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
