"""The service (``/``), the CORS preflight on any path, and the operations on a bucket itself:
create, head, delete, listings, location, batch delete, browser uploads, default encryption."""

from __future__ import annotations

from nimbus_storage.gateway.handlers.bucket_encryption import (
    delete_bucket_encryption,
    get_bucket_encryption,
    put_bucket_encryption,
)
from nimbus_storage.gateway.handlers.buckets import (
    create_bucket,
    delete_bucket,
    get_bucket_location,
    head_bucket,
    list_buckets,
)
from nimbus_storage.gateway.handlers.listing import (
    list_object_versions,
    list_objects,
    list_objects_v2,
)
from nimbus_storage.gateway.handlers.multipart import list_multipart_uploads
from nimbus_storage.gateway.handlers.objects_delete import delete_objects
from nimbus_storage.gateway.handlers.post_object import post_object
from nimbus_storage.gateway.handlers.preflight import preflight
from nimbus_storage.gateway.operation import (
    Access,
    Action,
    MediaType,
    QueryEquals,
    S3Operation,
    Scope,
)
from nimbus_storage.gateway.operations.objects import DELETE_OBJECT, PUT_OBJECT

BUCKET = Scope.BUCKET
LIST_BUCKET = Action("s3:ListBucket")
PUT_ENCRYPTION = Action("s3:PutEncryptionConfiguration")

OPERATIONS: tuple[S3Operation, ...] = (
    # OPTIONS on any path, whatever its query: anonymous by design, answered from CORS rules.
    S3Operation("PreflightCors", "OPTIONS", None, preflight, None, access=Access.ANONYMOUS),
    S3Operation(
        "ListBuckets",
        "GET",
        Scope.SERVICE,
        list_buckets,
        Action("s3:ListAllMyBuckets"),
        access=Access.ACCOUNT,
    ),
    # --- the bucket itself ------------------------------------------------------------------
    S3Operation("ListObjects", "GET", BUCKET, list_objects, LIST_BUCKET),
    S3Operation(
        "ListObjectsV2",
        "GET",
        BUCKET,
        list_objects_v2,
        LIST_BUCKET,
        when=QueryEquals("list-type", "2"),
    ),
    S3Operation(
        "CreateBucket",
        "PUT",
        BUCKET,
        create_bucket,
        Action("s3:CreateBucket"),
        access=Access.ACCOUNT,
        # Re-creating your own bucket in us-east-1 resets its ACL.
        handler_action=Action("s3:PutBucketAcl"),
        expected_owner=False,
    ),
    S3Operation("HeadBucket", "HEAD", BUCKET, head_bucket, LIST_BUCKET),
    # A browser upload: the form names the key, and its signature the identity.
    S3Operation(
        "PostObject",
        "POST",
        BUCKET,
        post_object,
        PUT_OBJECT,
        when=MediaType("multipart/form-data"),
        form_auth=True,
    ),
    S3Operation("DeleteBucket", "DELETE", BUCKET, delete_bucket, Action("s3:DeleteBucket")),
    # --- sub-resources (after those of bucket_config.py) ------------------------------------
    S3Operation(
        "GetBucketLocation",
        "GET",
        BUCKET,
        get_bucket_location,
        Action("s3:GetBucketLocation"),
        subresource="location",
    ),
    S3Operation(
        "ListMultipartUploads",
        "GET",
        BUCKET,
        list_multipart_uploads,
        Action("s3:ListBucketMultipartUploads"),
        subresource="uploads",
    ),
    S3Operation(
        "ListObjectVersions",
        "GET",
        BUCKET,
        list_object_versions,
        Action("s3:ListBucketVersions"),
        subresource="versions",
    ),
    S3Operation(
        "DeleteObjects",
        "POST",
        BUCKET,
        delete_objects,
        DELETE_OBJECT,
        subresource="delete",
        handler_action=DELETE_OBJECT,  # on each key, its version if named
    ),
    S3Operation(
        "GetBucketEncryption",
        "GET",
        BUCKET,
        get_bucket_encryption,
        Action("s3:GetEncryptionConfiguration"),
        subresource="encryption",
    ),
    S3Operation(
        "PutBucketEncryption",
        "PUT",
        BUCKET,
        put_bucket_encryption,
        PUT_ENCRYPTION,
        subresource="encryption",
    ),
    S3Operation(
        "DeleteBucketEncryption",
        "DELETE",
        BUCKET,
        delete_bucket_encryption,
        PUT_ENCRYPTION,
        subresource="encryption",
    ),
)
