"""Operation -> IAM action mapping and the action catalogue."""

from __future__ import annotations

import pytest
from nimbus_storage.bucket_config.actions import (
    ACTION_FOR_OPERATION,
    ACTION_RESOURCE_KIND,
    COPY_SOURCE_OPERATIONS,
    KNOWN_ACTIONS,
    ResourceKind,
    action_for,
    copy_source_action,
)


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("ListBuckets", "s3:ListAllMyBuckets"),
        ("CreateBucket", "s3:CreateBucket"),
        ("DeleteBucket", "s3:DeleteBucket"),
        ("HeadBucket", "s3:ListBucket"),
        ("ListObjects", "s3:ListBucket"),
        ("ListObjectsV2", "s3:ListBucket"),
        ("ListObjectVersions", "s3:ListBucketVersions"),
        ("GetBucketLocation", "s3:GetBucketLocation"),
        ("GetBucketVersioning", "s3:GetBucketVersioning"),
        ("PutBucketVersioning", "s3:PutBucketVersioning"),
        ("GetBucketPolicy", "s3:GetBucketPolicy"),
        ("PutBucketPolicy", "s3:PutBucketPolicy"),
        ("DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
        ("GetBucketCors", "s3:GetBucketCORS"),
        ("PutBucketCors", "s3:PutBucketCORS"),
        ("DeleteBucketCors", "s3:PutBucketCORS"),
        ("GetBucketLifecycle", "s3:GetLifecycleConfiguration"),
        ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
        ("PutBucketLifecycle", "s3:PutLifecycleConfiguration"),
        ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
        ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
        ("GetBucketTagging", "s3:GetBucketTagging"),
        ("PutBucketTagging", "s3:PutBucketTagging"),
        ("DeleteBucketTagging", "s3:PutBucketTagging"),
        ("GetBucketAcl", "s3:GetBucketAcl"),
        ("PutBucketAcl", "s3:PutBucketAcl"),
        ("GetObject", "s3:GetObject"),
        ("HeadObject", "s3:GetObject"),
        ("PutObject", "s3:PutObject"),
        ("CopyObject", "s3:PutObject"),
        ("DeleteObject", "s3:DeleteObject"),
        ("DeleteObjects", "s3:DeleteObject"),
        ("GetObjectTagging", "s3:GetObjectTagging"),
        ("PutObjectTagging", "s3:PutObjectTagging"),
        ("DeleteObjectTagging", "s3:DeleteObjectTagging"),
        ("GetObjectAcl", "s3:GetObjectAcl"),
        ("PutObjectAcl", "s3:PutObjectAcl"),
        ("CreateMultipartUpload", "s3:PutObject"),
        ("UploadPart", "s3:PutObject"),
        ("UploadPartCopy", "s3:PutObject"),
        ("CompleteMultipartUpload", "s3:PutObject"),
        ("AbortMultipartUpload", "s3:AbortMultipartUpload"),
        ("ListParts", "s3:ListMultipartUploadParts"),
        ("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    ],
)
def test_action_for_operation(operation: str, action: str) -> None:
    assert ACTION_FOR_OPERATION[operation] == action
    assert action_for(operation) == action


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("GetObject", "s3:GetObjectVersion"),
        ("HeadObject", "s3:GetObjectVersion"),
        ("DeleteObject", "s3:DeleteObjectVersion"),
        ("GetObjectTagging", "s3:GetObjectVersionTagging"),
        ("PutObjectTagging", "s3:PutObjectVersionTagging"),
        ("DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
        ("GetObjectAcl", "s3:GetObjectVersionAcl"),
        ("PutObjectAcl", "s3:PutObjectVersionAcl"),
        ("PutObject", "s3:PutObject"),  # no versioned variant
    ],
)
def test_versioned_requests_need_the_version_action(operation: str, action: str) -> None:
    assert action_for(operation, version_id="3HL4kqtJlcpXroDTDmJ") == action


def test_unknown_operation_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        action_for("SelectObjectContent")


def test_copy_source() -> None:
    assert sorted(COPY_SOURCE_OPERATIONS) == ["CopyObject", "UploadPartCopy"]
    assert copy_source_action() == "s3:GetObject"
    assert copy_source_action("v1") == "s3:GetObjectVersion"


def test_every_mapped_action_is_known() -> None:
    assert set(ACTION_FOR_OPERATION.values()) <= KNOWN_ACTIONS


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("s3:ListAllMyBuckets", ResourceKind.SERVICE),
        ("s3:ListBucket", ResourceKind.BUCKET),
        ("s3:PutBucketCORS", ResourceKind.BUCKET),
        ("s3:GetObject", ResourceKind.OBJECT),
        ("s3:AbortMultipartUpload", ResourceKind.OBJECT),
    ],
)
def test_resource_kinds(action: str, kind: ResourceKind) -> None:
    assert ACTION_RESOURCE_KIND[action] is kind
