"""What authorizes each operation: its access, its action and its handler's own action."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from nimbus_storage.bucket_config.actions import ACTION_RESOURCE_KIND, KNOWN_ACTIONS, ResourceKind
from nimbus_storage.bucket_config.bucket_policy import parse_policy
from nimbus_storage.gateway.encryption import OBJECT_READS
from nimbus_storage.gateway.operation import Access, Action, HeaderPresent, S3Operation, Scope
from nimbus_storage.gateway.operations import OPERATIONS

BY_NAME = {operation.name: operation for operation in OPERATIONS}


def _actions(operation: S3Operation) -> Iterator[str]:
    for action in (operation.action, operation.handler_action):
        if action is not None:
            yield action.name
            if action.versioned is not None:
                yield action.versioned


def _resource_for(action: str) -> str:
    kind = ACTION_RESOURCE_KIND[action]
    if kind is ResourceKind.OBJECT:
        return "arn:aws:s3:::bucket/*"
    return "arn:aws:s3:::bucket" if kind is ResourceKind.BUCKET else "*"


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_every_action_is_one_a_bucket_policy_may_name(operation: S3Operation) -> None:
    for action in _actions(operation):
        assert action in KNOWN_ACTIONS
        statement = {"Effect": "Allow", "Principal": "*", "Action": action}
        statement["Resource"] = _resource_for(action)
        parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [statement]}), "bucket")


def test_only_the_preflight_is_anonymous() -> None:
    anonymous = [op.name for op in OPERATIONS if op.access is Access.ANONYMOUS]
    assert anonymous == ["PreflightCors"]
    assert BY_NAME["PreflightCors"].action is None


def test_account_operations_need_a_credential_not_a_bucket() -> None:
    account = sorted(op.name for op in OPERATIONS if op.access is Access.ACCOUNT)
    assert account == ["CreateBucket", "ListBuckets"]


# Each operation's action on its own resource, and the one when the request names a version.
EXPECTED_ACTIONS: list[tuple[str, str, str | None]] = [
    ("ListBuckets", "s3:ListAllMyBuckets", None),
    ("CreateBucket", "s3:CreateBucket", None),
    ("DeleteBucket", "s3:DeleteBucket", None),
    ("HeadBucket", "s3:ListBucket", None),
    ("ListObjects", "s3:ListBucket", None),
    ("ListObjectsV2", "s3:ListBucket", None),
    ("ListObjectVersions", "s3:ListBucketVersions", None),
    ("GetBucketLocation", "s3:GetBucketLocation", None),
    ("GetBucketVersioning", "s3:GetBucketVersioning", None),
    ("PutBucketVersioning", "s3:PutBucketVersioning", None),
    ("GetBucketPolicy", "s3:GetBucketPolicy", None),
    ("PutBucketPolicy", "s3:PutBucketPolicy", None),
    ("DeleteBucketPolicy", "s3:DeleteBucketPolicy", None),
    ("GetBucketCors", "s3:GetBucketCORS", None),
    ("PutBucketCors", "s3:PutBucketCORS", None),
    ("DeleteBucketCors", "s3:PutBucketCORS", None),
    ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", None),
    ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration", None),
    ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration", None),
    ("GetBucketTagging", "s3:GetBucketTagging", None),
    ("PutBucketTagging", "s3:PutBucketTagging", None),
    ("DeleteBucketTagging", "s3:PutBucketTagging", None),
    ("GetBucketAcl", "s3:GetBucketAcl", None),
    ("PutBucketAcl", "s3:PutBucketAcl", None),
    ("GetBucketEncryption", "s3:GetEncryptionConfiguration", None),
    ("PutBucketEncryption", "s3:PutEncryptionConfiguration", None),
    ("DeleteBucketEncryption", "s3:PutEncryptionConfiguration", None),
    ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", None),
    ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", None),
    ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock", None),
    ("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus", None),
    ("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls", None),
    ("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls", None),
    ("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls", None),
    ("GetBucketLogging", "s3:GetBucketLogging", None),
    ("PutBucketLogging", "s3:PutBucketLogging", None),
    ("GetObject", "s3:GetObject", "s3:GetObjectVersion"),
    ("HeadObject", "s3:GetObject", "s3:GetObjectVersion"),
    ("PutObject", "s3:PutObject", None),
    ("PostObject", "s3:PutObject", None),
    ("CopyObject", "s3:PutObject", None),
    ("DeleteObject", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("DeleteObjects", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("GetObjectTagging", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    ("PutObjectTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    ("DeleteObjectTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    ("GetObjectAcl", "s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    ("PutObjectAcl", "s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    ("GetObjectAttributes", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
    ("GetObjectRetention", "s3:GetObjectRetention", None),
    ("PutObjectRetention", "s3:PutObjectRetention", None),
    ("GetObjectLegalHold", "s3:GetObjectLegalHold", None),
    ("PutObjectLegalHold", "s3:PutObjectLegalHold", None),
    ("GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration", None),
    ("PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration", None),
    ("CreateMultipartUpload", "s3:PutObject", None),
    ("UploadPart", "s3:PutObject", None),
    ("UploadPartCopy", "s3:PutObject", None),
    ("CompleteMultipartUpload", "s3:PutObject", None),
    ("AbortMultipartUpload", "s3:AbortMultipartUpload", None),
    ("ListParts", "s3:ListMultipartUploadParts", None),
    ("ListMultipartUploads", "s3:ListBucketMultipartUploads", None),
]


@pytest.mark.parametrize(("operation", "action", "versioned"), EXPECTED_ACTIONS)
def test_action_of_each_operation(operation: str, action: str, versioned: str | None) -> None:
    assert BY_NAME[operation].required_action(None) == action
    assert BY_NAME[operation].required_action("3HL4kqtJlcpXroDTDmJ") == (versioned or action)


def test_every_authorized_operation_has_its_action_listed_above() -> None:
    names = {op.name for op in OPERATIONS if op.access is not Access.ANONYMOUS}
    assert {name for name, _, _ in EXPECTED_ACTIONS} == names


def test_handler_actions() -> None:
    copies = sorted(op.name for op in OPERATIONS if isinstance(op.when, HeaderPresent))
    assert copies == ["CopyObject", "UploadPartCopy"]
    for name in copies:  # the copy source is read
        assert BY_NAME[name].required_handler_action() == "s3:GetObject"
        assert BY_NAME[name].required_handler_action("v1") == "s3:GetObjectVersion"
    delete_objects = BY_NAME["DeleteObjects"]  # each key is deleted
    assert delete_objects.required_handler_action() == "s3:DeleteObject"
    assert delete_objects.required_handler_action("v1") == "s3:DeleteObjectVersion"
    assert BY_NAME["CreateBucket"].required_handler_action() == "s3:PutBucketAcl"
    with_one = {op.name for op in OPERATIONS if op.handler_action is not None}
    assert with_one == {"CopyObject", "UploadPartCopy", "DeleteObjects", "CreateBucket"}
    with pytest.raises(RuntimeError):
        BY_NAME["PutObject"].required_handler_action()


def test_object_reads_are_the_reads_the_encryption_check_knows() -> None:
    # GetObjectAttributes reads no bytes: the encryption check refuses its SSE headers as a read's.
    reads = {op.name for op in OPERATIONS if op.object_read}
    assert reads == OBJECT_READS | {"GetObjectAttributes"}


def test_only_the_browser_upload_takes_its_identity_from_its_form() -> None:
    assert [op.name for op in OPERATIONS if op.form_auth] == ["PostObject"]
    assert BY_NAME["PostObject"].access is Access.RESOURCE


def test_the_expected_owner_is_ignored_on_create_bucket_only() -> None:
    assert [op.name for op in OPERATIONS if not op.expected_owner] == ["CreateBucket"]


def test_an_operation_is_checked_as_it_is_built() -> None:
    handler = BY_NAME["GetObject"].handler
    with pytest.raises(ValueError, match="an action is needed"):
        S3Operation("X", "GET", Scope.OBJECT, handler, None)
    with pytest.raises(ValueError, match="an action is needed"):
        S3Operation(
            "X", "GET", Scope.OBJECT, handler, Action("s3:GetObject"), access=Access.ANONYMOUS
        )
    with pytest.raises(ValueError, match="not both"):
        S3Operation(
            "X",
            "GET",
            Scope.OBJECT,
            handler,
            Action("s3:GetObject"),
            subresource="a",
            parameter="b",
        )
