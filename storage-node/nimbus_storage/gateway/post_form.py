"""The form of a browser upload (PostObject): who sent it, and what it asks.

PostObject's request is unsigned; its identity is the form's (auth/post_policy.py). So the
gateway (app.py) reads the form's fields, up to the file, before it authorizes the request:
``read_post_form`` parses them (gateway/form_data.py), expands ``${filename}``, checks the
signature against the credential the catalog holds and the policy against the fields, and
leaves the file unread for the handler (gateway/handlers/post_object.py). A form without a
signature or policy is anonymous, and the bucket's policy and ACL decide, as for any request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from nimbus_storage.auth.post_policy import (
    PostPolicy,
    form_signature,
    parse_policy,
    verify_form_signature,
)
from nimbus_storage.auth.sigv4 import AuthContext
from nimbus_storage.gateway.addressing import MAX_KEY_BYTES
from nimbus_storage.gateway.body import client_stream
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.form_data import UploadForm, boundary_of, read_form
from nimbus_storage.meta.api import Credential
from nimbus_storage.s3errors import (
    InvalidAccessKeyId,
    InvalidArgument,
    KeyTooLongError,
)

FILENAME_VARIABLE = "${filename}"


@dataclass
class PostForm:
    """A browser upload's form, its fields checked, its file not yet read.

    ``fields``: lower-case names (repeats joined by commas, as AWS matches them), values with
    ``${filename}`` expanded, and ``bucket``, the request's. ``policy``: the signed form's (None
    when anonymous).
    """

    upload: UploadForm
    fields: dict[str, str]
    key: str
    policy: PostPolicy | None = None
    auth: AuthContext | None = None
    credential: Credential | None = None

    def file(self) -> AsyncIterator[bytes]:
        return self.upload.file()


def _filename(upload: UploadForm) -> str:
    """``${filename}``: the file's name without any directory a browser sent with it."""
    name = upload.filename or ""
    return name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


def form_fields(upload: UploadForm, bucket: str) -> dict[str, str]:
    """The fields as policies match them; the request's ``bucket`` replaces a form's own."""
    fields: dict[str, str] = {}
    filename = _filename(upload)
    for name, value in upload.fields:
        lowered = name.lower()
        expanded = value.replace(FILENAME_VARIABLE, filename)
        fields[lowered] = f"{fields[lowered]},{expanded}" if lowered in fields else expanded
    fields["bucket"] = bucket
    return fields


def _key(fields: dict[str, str]) -> str:
    key = fields.get("key")
    if key is None:
        raise InvalidArgument(
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the"
            " order of the fields.",
            ArgumentName="key",
            ArgumentValue="",
        )
    if not key:
        raise InvalidArgument(
            "User key must have a length greater than 0.", ArgumentName="key", ArgumentValue=""
        )
    if len(key.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES:
        raise KeyTooLongError()
    return key


async def read_post_form(request: S3Request) -> PostForm:
    """The request's form, read up to its file; its signature and policy checked.

    InvalidAccessKeyId for a key the catalog does not know (StorageUnavailable when it cannot
    tell), SignatureDoesNotMatch, the policy's AccessDenied: as AWS answers them.
    """
    boundary = boundary_of(request.headers.get("Content-Type", ""))
    upload = await read_form(client_stream(request), boundary)
    fields = form_fields(upload, request.bucket_name)
    form = PostForm(upload, fields, _key(fields))
    claim = form_signature(fields)
    if claim is None:
        return form
    now = datetime.now(UTC)
    credential = await request.services.catalog.get_credential(claim.access_key)
    if credential is None:
        raise InvalidAccessKeyId(AWSAccessKeyId=claim.access_key)
    form.auth = verify_form_signature(claim, credential.secret_key, now)
    form.credential = credential
    form.policy = parse_policy(claim.policy)
    form.policy.check(fields, now)
    return form
