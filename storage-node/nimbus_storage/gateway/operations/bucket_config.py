"""The configuration documents of a bucket, each a sub-resource: versioning, tagging, CORS,
policy, lifecycle and ACL."""

from __future__ import annotations

from nimbus_storage.gateway.handlers.bucket_subresources import (
    delete_bucket_cors,
    delete_bucket_lifecycle,
    delete_bucket_policy,
    delete_bucket_tagging,
    get_bucket_acl,
    get_bucket_cors,
    get_bucket_lifecycle,
    get_bucket_policy,
    get_bucket_tagging,
    get_bucket_versioning,
    put_bucket_acl,
    put_bucket_cors,
    put_bucket_lifecycle,
    put_bucket_policy,
    put_bucket_tagging,
    put_bucket_versioning,
)
from nimbus_storage.gateway.operation import Action, S3Operation, Scope

BUCKET = Scope.BUCKET

# First in the table: a request naming one of these and a sub-resource of buckets.py is this one.
OPERATIONS: tuple[S3Operation, ...] = (
    S3Operation(
        "GetBucketVersioning",
        "GET",
        BUCKET,
        get_bucket_versioning,
        Action("s3:GetBucketVersioning"),
        subresource="versioning",
    ),
    S3Operation(
        "PutBucketVersioning",
        "PUT",
        BUCKET,
        put_bucket_versioning,
        Action("s3:PutBucketVersioning"),
        subresource="versioning",
    ),
    S3Operation(
        "GetBucketTagging",
        "GET",
        BUCKET,
        get_bucket_tagging,
        Action("s3:GetBucketTagging"),
        subresource="tagging",
    ),
    S3Operation(
        "PutBucketTagging",
        "PUT",
        BUCKET,
        put_bucket_tagging,
        Action("s3:PutBucketTagging"),
        subresource="tagging",
    ),
    S3Operation(
        "DeleteBucketTagging",
        "DELETE",
        BUCKET,
        delete_bucket_tagging,
        Action("s3:PutBucketTagging"),
        subresource="tagging",
    ),
    S3Operation(
        "GetBucketCors",
        "GET",
        BUCKET,
        get_bucket_cors,
        Action("s3:GetBucketCORS"),
        subresource="cors",
    ),
    S3Operation(
        "PutBucketCors",
        "PUT",
        BUCKET,
        put_bucket_cors,
        Action("s3:PutBucketCORS"),
        subresource="cors",
    ),
    S3Operation(
        "DeleteBucketCors",
        "DELETE",
        BUCKET,
        delete_bucket_cors,
        Action("s3:PutBucketCORS"),
        subresource="cors",
    ),
    S3Operation(
        "GetBucketPolicy",
        "GET",
        BUCKET,
        get_bucket_policy,
        Action("s3:GetBucketPolicy"),
        subresource="policy",
    ),
    S3Operation(
        "PutBucketPolicy",
        "PUT",
        BUCKET,
        put_bucket_policy,
        Action("s3:PutBucketPolicy"),
        subresource="policy",
    ),
    S3Operation(
        "DeleteBucketPolicy",
        "DELETE",
        BUCKET,
        delete_bucket_policy,
        Action("s3:DeleteBucketPolicy"),
        subresource="policy",
    ),
    S3Operation(
        "GetBucketLifecycleConfiguration",
        "GET",
        BUCKET,
        get_bucket_lifecycle,
        Action("s3:GetLifecycleConfiguration"),
        subresource="lifecycle",
    ),
    S3Operation(
        "PutBucketLifecycleConfiguration",
        "PUT",
        BUCKET,
        put_bucket_lifecycle,
        Action("s3:PutLifecycleConfiguration"),
        subresource="lifecycle",
    ),
    S3Operation(
        "DeleteBucketLifecycle",
        "DELETE",
        BUCKET,
        delete_bucket_lifecycle,
        Action("s3:PutLifecycleConfiguration"),
        subresource="lifecycle",
    ),
    S3Operation(
        "GetBucketAcl", "GET", BUCKET, get_bucket_acl, Action("s3:GetBucketAcl"), subresource="acl"
    ),
    S3Operation(
        "PutBucketAcl", "PUT", BUCKET, put_bucket_acl, Action("s3:PutBucketAcl"), subresource="acl"
    ),
)
