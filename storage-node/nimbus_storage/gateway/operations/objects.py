"""The operations on an object (``/bucket/key``): reads, writes, deletes, its tagging, ACL,
attributes, retention and legal hold, multipart uploads."""

from __future__ import annotations

from nimbus_storage.gateway.handlers.multipart import (
    abort_multipart_upload,
    complete_multipart_upload,
    create_multipart_upload,
    list_parts,
    upload_part,
    upload_part_copy,
)
from nimbus_storage.gateway.handlers.object_attributes import get_object_attributes
from nimbus_storage.gateway.handlers.object_config import (
    delete_object_tagging,
    get_object_acl,
    get_object_tagging,
    put_object_acl,
    put_object_tagging,
)
from nimbus_storage.gateway.handlers.object_lock import (
    get_object_legal_hold,
    get_object_retention,
    put_object_legal_hold,
    put_object_retention,
)
from nimbus_storage.gateway.handlers.objects_delete import delete_object_handler
from nimbus_storage.gateway.handlers.objects_read import get_object, head_object
from nimbus_storage.gateway.handlers.objects_write import copy_object, put_object
from nimbus_storage.gateway.operation import Action, HeaderPresent, S3Operation, Scope

OBJECT = Scope.OBJECT
GET_OBJECT = Action("s3:GetObject", versioned="s3:GetObjectVersion")
PUT_OBJECT = Action("s3:PutObject")
DELETE_OBJECT = Action("s3:DeleteObject", versioned="s3:DeleteObjectVersion")
COPY_SOURCE = HeaderPresent("x-amz-copy-source")

OPERATIONS: tuple[S3Operation, ...] = (
    # --- sub-resources ----------------------------------------------------------------------
    S3Operation(
        "GetObjectTagging",
        "GET",
        OBJECT,
        get_object_tagging,
        Action("s3:GetObjectTagging", versioned="s3:GetObjectVersionTagging"),
        subresource="tagging",
    ),
    S3Operation(
        "PutObjectTagging",
        "PUT",
        OBJECT,
        put_object_tagging,
        Action("s3:PutObjectTagging", versioned="s3:PutObjectVersionTagging"),
        subresource="tagging",
    ),
    S3Operation(
        "DeleteObjectTagging",
        "DELETE",
        OBJECT,
        delete_object_tagging,
        Action("s3:DeleteObjectTagging", versioned="s3:DeleteObjectVersionTagging"),
        subresource="tagging",
    ),
    S3Operation(
        "GetObjectRetention",
        "GET",
        OBJECT,
        get_object_retention,
        Action("s3:GetObjectRetention"),
        subresource="retention",
    ),
    S3Operation(
        "PutObjectRetention",
        "PUT",
        OBJECT,
        put_object_retention,
        Action("s3:PutObjectRetention"),
        subresource="retention",
    ),
    S3Operation(
        "GetObjectLegalHold",
        "GET",
        OBJECT,
        get_object_legal_hold,
        Action("s3:GetObjectLegalHold"),
        subresource="legal-hold",
    ),
    S3Operation(
        "PutObjectLegalHold",
        "PUT",
        OBJECT,
        put_object_legal_hold,
        Action("s3:PutObjectLegalHold"),
        subresource="legal-hold",
    ),
    S3Operation(
        "GetObjectAcl",
        "GET",
        OBJECT,
        get_object_acl,
        Action("s3:GetObjectAcl", versioned="s3:GetObjectVersionAcl"),
        subresource="acl",
    ),
    S3Operation(
        "PutObjectAcl",
        "PUT",
        OBJECT,
        put_object_acl,
        Action("s3:PutObjectAcl", versioned="s3:PutObjectVersionAcl"),
        subresource="acl",
    ),
    S3Operation(
        "GetObjectAttributes",
        "GET",
        OBJECT,
        get_object_attributes,
        Action("s3:GetObjectAttributes", versioned="s3:GetObjectVersionAttributes"),
        subresource="attributes",
        object_read=True,
    ),
    # --- multipart uploads: ?uploadId, then ?uploads ----------------------------------------
    S3Operation("UploadPart", "PUT", OBJECT, upload_part, PUT_OBJECT, parameter="uploadId"),
    S3Operation(
        "UploadPartCopy",
        "PUT",
        OBJECT,
        upload_part_copy,
        PUT_OBJECT,
        parameter="uploadId",
        when=COPY_SOURCE,
        handler_action=GET_OBJECT,
    ),
    S3Operation(
        "ListParts",
        "GET",
        OBJECT,
        list_parts,
        Action("s3:ListMultipartUploadParts"),
        parameter="uploadId",
    ),
    S3Operation(
        "CompleteMultipartUpload",
        "POST",
        OBJECT,
        complete_multipart_upload,
        PUT_OBJECT,
        parameter="uploadId",
    ),
    S3Operation(
        "AbortMultipartUpload",
        "DELETE",
        OBJECT,
        abort_multipart_upload,
        Action("s3:AbortMultipartUpload"),
        parameter="uploadId",
    ),
    S3Operation(
        "CreateMultipartUpload",
        "POST",
        OBJECT,
        create_multipart_upload,
        PUT_OBJECT,
        parameter="uploads",
    ),
    # --- the object itself ------------------------------------------------------------------
    S3Operation("GetObject", "GET", OBJECT, get_object, GET_OBJECT, object_read=True),
    S3Operation("HeadObject", "HEAD", OBJECT, head_object, GET_OBJECT, object_read=True),
    S3Operation("PutObject", "PUT", OBJECT, put_object, PUT_OBJECT),
    S3Operation(
        "CopyObject",
        "PUT",
        OBJECT,
        copy_object,
        PUT_OBJECT,
        when=COPY_SOURCE,
        handler_action=GET_OBJECT,
    ),
    S3Operation("DeleteObject", "DELETE", OBJECT, delete_object_handler, DELETE_OBJECT),
)
