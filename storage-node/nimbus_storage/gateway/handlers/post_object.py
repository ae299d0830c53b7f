"""PostObject: a browser upload, ``POST /bucket`` with a ``multipart/form-data`` form.

By the time the handler runs, the gateway has read the form's fields and checked its signature
and policy (gateway/post_form.py) and authorized the form's identity like a PutObject. The
fields are PutObject's headers: ``key`` (``${filename}`` expanded), ``acl``, ``tagging`` (a
Tagging document), ``Content-Type``, ``Cache-Control``, ``Content-Disposition``,
``Content-Encoding``, ``Expires``, ``x-amz-meta-*``, ``x-amz-storage-class``, ``Content-MD5``,
one ``x-amz-checksum-*`` and the ``x-amz-server-side-encryption*`` fields (else the bucket's
default encryption applies, as to a PutObject). The file's size is held to the policy's
``content-length-range`` as it arrives; it is spooled to the gateway's disk (``Spool``), then
stored as PutObject stores its body. What S3 does with fields Nimbus does not implement (object
lock, grants, conditional writes) is refused with 501 NotImplemented naming them, never
ignored.

The answer: a 303 redirect to ``success_action_redirect`` (``redirect``) with the bucket, key
and ETag in its query, else ``success_action_status``: 200 or 204 (the default) empty, 201 the
PostResponse document.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.auth.checksums import PayloadVerifier, checksum_header_name
from nimbus_storage.auth.post_policy import PostPolicy
from nimbus_storage.auth.sigv4 import UNSIGNED_PAYLOAD
from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.bucket_config.acl import parse_canned_acl
from nimbus_storage.bucket_config.tagging import parse_object_tagging
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.bucket_controls import check_acl, object_owner, request_controls
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.handlers.objects_write import version_headers
from nimbus_storage.gateway.headers import object_headers_from_request
from nimbus_storage.gateway.object_lock import default_version_lock
from nimbus_storage.gateway.post_form import PostForm
from nimbus_storage.gateway.responses import XML_CONTENT_TYPE, empty_response
from nimbus_storage.gateway.sse_objects import (
    Outgoing,
    WriteEncryption,
    bucket_default,
    seal_write,
)
from nimbus_storage.s3errors import EntityTooLarge, NotImplementedError_
from nimbus_storage.sse.envelope import parse_sse_request

# Form fields (and prefixes) of features Nimbus does not implement for browser uploads.
_UNSUPPORTED_PREFIXES = ("x-amz-object-lock-", "x-amz-grant-")
_UNSUPPORTED_FIELDS = frozenset({"if-match", "if-none-match"})
_CONDITIONAL_HEADERS = ("If-Match", "If-None-Match")
SPOOL_DIR = "spool"
SPOOL_CHUNK = 1024 * 1024


def refuse_unsupported(fields: Mapping[str, str], headers: Mapping[str, str]) -> None:
    """501 NotImplemented for a field (or a conditional header) asking for what Nimbus does not
    do with a browser upload; the message names them all."""
    names = sorted(
        name
        for name in fields
        if name.startswith(_UNSUPPORTED_PREFIXES) or name in _UNSUPPORTED_FIELDS
    )
    names += [name for name in _CONDITIONAL_HEADERS if name in headers]
    if names:
        raise NotImplementedError_(
            "Nimbus does not implement these fields of a browser upload (POST): "
            + ", ".join(names),
            Header=names[0],
        )


async def _sized(
    chunks: AsyncIterator[bytes], policy: PostPolicy | None, limit: int
) -> AsyncIterator[bytes]:
    """The file, held to the policy's ``content-length-range`` and to the gateway's largest
    object as it arrives."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if policy is not None:
            policy.check_size(size, final=False)
        if size > limit:
            raise EntityTooLarge(ProposedSize=str(size), MaxSizeAllowed=str(limit))
        yield chunk
    if policy is not None:
        policy.check_size(size, final=True)


def _temporary_file(directory: Path) -> IO[bytes]:
    return tempfile.TemporaryFile(dir=directory)


class Spool:
    """The file of a form, on the gateway's disk (``<data dir>/spool``) until it has arrived
    whole, sized and verified.

    Its size is known only at its end (fields may even follow it), while a store on a cluster
    needs it before the first byte: so the file is written to an unnamed temporary file (gone
    when closed, or when the process dies), never held in memory, then stored as PutObject
    stores a body. Nothing reaches the store unless the whole form arrived and met its policy.
    """

    def __init__(self, file: IO[bytes], size: int, checksum: dict[str, str]) -> None:
        self._file = file
        self.size = size
        self.checksum = checksum  # the x-amz-checksum-* header of the file, if one was asked

    @classmethod
    async def receive(cls, request: S3Request, form: PostForm) -> Spool:
        directory = request.services.config.data_dir / SPOOL_DIR
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        file = await asyncio.to_thread(_temporary_file, directory)
        try:
            sized = _sized(form.file(), form.policy, request.services.config.max_put_size)
            verifier = PayloadVerifier.from_headers(
                sized, form.fields, payload_hash=UNSIGNED_PAYLOAD
            )
            size = 0
            async for chunk in verifier:
                file.write(chunk)  # to the page cache, on the loop, as the disk store writes
                size += len(chunk)
            await asyncio.to_thread(file.flush)
            algorithm, value = verifier.checksum_algorithm, verifier.checksum_b64
            checksum = {checksum_header_name(algorithm): value} if algorithm and value else {}
        except BaseException:
            file.close()
            raise
        return cls(file, size, checksum)

    async def chunks(self) -> AsyncIterator[bytes]:
        await asyncio.to_thread(self._file.seek, 0)
        while chunk := await asyncio.to_thread(self._file.read, SPOOL_CHUNK):
            yield chunk

    def close(self) -> None:
        self._file.close()


async def _encryption(request: S3Request, form: PostForm) -> WriteEncryption | None:
    """What the form's SSE fields ask for (as PutObject's SSE headers would), else the bucket's
    default encryption; its data key drawn and wrapped before the file is read."""
    bucket = request.require_bucket().name
    sse = parse_sse_request(form.fields)
    if sse is None:
        sse = await bucket_default(request.services, bucket)
    return None if sse is None else seal_write(request.services, sse, bucket, form.key)


def _object_url(request: S3Request, key: str) -> str:
    """The object's URL, addressed as the request addressed its bucket."""
    http = request.http
    bucket_path = "" if request.raw_path == "/" else f"/{quote(request.bucket_name, safe='')}"
    return f"{http.scheme}://{http.host}{bucket_path}/{quote(key, safe='')}"


def _redirect_target(fields: Mapping[str, str]) -> str | None:
    """``success_action_redirect`` (or the older ``redirect``) if it is a URL S3 can use; S3
    ignores one it cannot interpret."""
    target = fields.get("success_action_redirect") or fields.get("redirect")
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return target


async def post_object(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    form = request.form
    if form is None:
        raise RuntimeError("PostObject reached its handler without its form")
    fields = form.fields
    refuse_unsupported(fields, request.headers)
    acl = parse_canned_acl(fields.get("acl", "private"))
    check_acl(await request_controls(request), acl)
    tags = parse_object_tagging(fields["tagging"].encode("utf-8")) if "tagging" in fields else {}
    meta = object_headers_from_request(fields)
    encryption = await _encryption(request, form)
    lock = await default_version_lock(request.services, bucket)
    spool = await Spool.receive(request, form)
    try:
        await objects.check_quota(request.services, bucket, spool.size)
        trailer = BodyTrailer.of(spool.checksum)
        out = Outgoing.of(encryption, spool.chunks(), spool.size, trailer)
        stored = await objects.store_blob(
            request.services,
            bucket,
            form.key,
            out.chunks,
            meta | out.meta,
            expected_size=out.stored_size,
            trailer=out.trailer,
        )
    finally:
        spool.close()
    version = await objects.commit_version(
        request.services,
        bucket,
        form.key,
        stored,
        etag=out.etag(stored.info.md5_hex),
        size=spool.size,
        owner=await object_owner(request, acl),
        content_type=meta["content-type"],
        acl=acl,
        tags=tags,
        lock=lock,
    )
    etag = f'"{version.etag}"'
    location = _object_url(request, form.key)
    headers = {"ETag": etag, "Location": location, **version_headers(bucket, version)}
    headers.update(spool.checksum)
    if encryption is not None:
        headers.update(encryption.response_headers())
    redirect = _redirect_target(fields)
    if redirect is not None:
        query = urlencode({"bucket": bucket.name, "key": form.key, "etag": etag})
        separator = "&" if urlsplit(redirect).query else ("" if redirect.endswith("?") else "?")
        headers["Location"] = f"{redirect}{separator}{query}"
        return empty_response(303, headers)
    status = fields.get("success_action_status", "")
    if status == "201":
        document = {"Location": location, "Bucket": bucket.name, "Key": form.key, "ETag": etag}
        return web.Response(
            body=s3xml.render("PostResponse", document, namespace=False),
            status=201,
            content_type=XML_CONTENT_TYPE,
            headers=headers,
        )
    return empty_response(200 if status == "200" else 204, headers)
