"""``multipart/form-data`` bodies, streamed: the fields before the file are read, the file never
is, but handed on chunk by chunk as it arrives.

This is the body of a browser upload (PostObject). S3's rules for it:

* the ``file`` field is the form's last meaningful one: the fields before it are read (their
  values are the object's key, headers and policy); whatever follows the file's closing
  boundary is ignored. A form whose parts end before a ``file`` is
  IncorrectNumberOfFilesInPostRequest;
* the form data and boundaries before the file's content may not exceed 20 KB
  (MaxPostPreDataLengthExceeded): that bounds what is held in memory, whatever the client sends;
* a body that is not ``multipart/form-data`` as RFC 7578 writes it (no boundary, a part
  without a ``Content-Disposition: form-data; name=...``, a value that is not UTF-8, a body
  that ends inside a part) is MalformedPOSTRequest.

The file is streamed with its closing delimiter (``CRLF--boundary``) held back, so no byte of
the delimiter ever reaches the object, wherever the reads split it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Protocol

from nimbus_storage.s3errors import (
    IncorrectNumberOfFilesInPostRequest,
    MalformedPOSTRequest,
    MaxPostPreDataLengthExceeded,
)

MAX_PRE_FILE_BYTES = 20 * 1024
READ_SIZE = 64 * 1024
FILE_FIELD = "file"
MAX_BOUNDARY = 200  # RFC 2046 says 70; some clients write longer ones
CRLF = b"\r\n"
_PARAMETER = re.compile(r'\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*?)\s*(?:;|$)')
_BOUNDARY = re.compile(r'(?i)(?:^|;)\s*boundary\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)')


class Source(Protocol):
    """Where the body comes from: ``read(n)`` is up to ``n`` bytes, b"" at its end."""

    async def read(self, n: int) -> bytes: ...


def _malformed(detail: str) -> MalformedPOSTRequest:
    return MalformedPOSTRequest(
        f"The body of your POST request is not well-formed multipart/form-data: {detail}."
    )


def is_form_data(content_type: str) -> bool:
    """Whether a Content-Type is ``multipart/form-data`` (any parameters, any case)."""
    return content_type.partition(";")[0].strip().lower() == "multipart/form-data"


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data; boundary=...`` Content-Type."""
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() != "multipart/form-data":
        raise _malformed("the Content-Type is not multipart/form-data")
    found = _BOUNDARY.search(";" + parameters)
    boundary = _unquote(found.group(1)) if found else ""
    if not boundary or len(boundary) > MAX_BOUNDARY or not boundary.isascii():
        raise _malformed("the Content-Type has no valid boundary")
    return boundary.encode("ascii")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r'\\(["\\])', r"\1", value[1:-1])
    return value


class _Body:
    """The body read ahead into a buffer; ``offset`` counts the bytes taken from it."""

    def __init__(self, source: Source, read_size: int) -> None:
        self._source = source
        self._read_size = read_size
        self.buffer = bytearray()
        self.offset = 0

    async def fill(self) -> bool:
        """Read more; False at the end of the body."""
        data = await self._source.read(self._read_size)
        if not data:
            return False
        self.buffer += data
        return True

    def take(self, size: int) -> bytes:
        chunk = bytes(self.buffer[:size])
        del self.buffer[:size]
        self.offset += size
        return chunk

    async def starts_with(self, prefix: bytes) -> bool:
        while len(self.buffer) < len(prefix):
            if not await self.fill():
                raise _malformed("the body ends inside a part")
        return self.buffer.startswith(prefix)

    async def until(self, marker: bytes, limit: int) -> bytes:
        """The bytes up to ``marker``, which is taken too. What precedes the file may not
        reach beyond ``limit`` bytes of the body."""
        searched = 0
        while True:
            found = self.buffer.find(marker, searched)
            if found >= 0:
                data = self.take(found)
                self.take(len(marker))
                return data
            if self.offset + len(self.buffer) > limit:
                raise MaxPostPreDataLengthExceeded(MaxPostPreDataLengthBytes=str(limit))
            searched = max(0, len(self.buffer) - len(marker) + 1)
            if not await self.fill():
                raise _malformed("the body ends inside a part")


class UploadForm:
    """The fields of a form up to its ``file``, and the file's content as a stream.

    ``fields``: (name as sent, value) in order, repeats kept. ``filename``: the file part's
    (None when it has none). ``file_offset``: how many bytes of the body precede the file's
    content. ``file_size``: set once the file has been read to its end.
    """

    def __init__(
        self,
        body: _Body,
        boundary: bytes,
        fields: list[tuple[str, str]],
        filename: str | None,
        content_type: str | None,
    ) -> None:
        self._body = body
        self._delimiter = CRLF + b"--" + boundary
        self.fields = tuple(fields)
        self.filename = filename
        self.file_content_type = content_type
        self.file_offset = body.offset
        self.file_size: int | None = None
        self._started = False

    def file(self) -> AsyncIterator[bytes]:
        """The file's content, up to its closing delimiter; once only."""
        if self._started:
            raise RuntimeError("the file of a form can be read only once")
        self._started = True
        return self._file()

    async def _file(self) -> AsyncIterator[bytes]:
        body, delimiter = self._body, self._delimiter
        keep = len(delimiter) - 1  # a tail that may be the start of the delimiter
        size = 0
        while True:
            found = body.buffer.find(delimiter)
            if found >= 0:
                if found:
                    size += found
                    yield body.take(found)
                body.take(len(delimiter))
                self.file_size = size
                return
            if len(body.buffer) > keep:
                chunk = body.take(len(body.buffer) - keep)
                size += len(chunk)
                yield chunk
            if not await body.fill():
                raise _malformed("the body ends inside the file, before its closing boundary")


async def read_form(
    source: Source,
    boundary: bytes,
    *,
    max_pre_file: int = MAX_PRE_FILE_BYTES,
    read_size: int = READ_SIZE,
) -> UploadForm:
    """Read a form's fields up to its ``file`` (case-insensitive name); the file is then
    ``UploadForm.file()``."""
    body = _Body(source, read_size)
    dash_boundary = b"--" + boundary
    # A preamble before the first boundary is allowed, and ignored.
    if not await body.starts_with(dash_boundary):
        await body.until(CRLF + dash_boundary, max_pre_file)
    else:
        body.take(len(dash_boundary))
    fields: list[tuple[str, str]] = []
    while True:
        if await body.starts_with(b"--"):  # the close delimiter: no file came
            raise IncorrectNumberOfFilesInPostRequest()
        padding = await body.until(CRLF, max_pre_file)
        if padding.strip(b" \t"):
            raise _malformed("a boundary is followed by more than white space")
        if await body.starts_with(CRLF):
            body.take(len(CRLF))
            head = b""
        else:
            head = await body.until(CRLF + CRLF, max_pre_file)
        name, filename, content_type = _part_head(head)
        if name.lower() == FILE_FIELD:
            if body.offset > max_pre_file:
                raise MaxPostPreDataLengthExceeded(MaxPostPreDataLengthBytes=str(max_pre_file))
            return UploadForm(body, boundary, fields, filename, content_type)
        value = await body.until(CRLF + dash_boundary, max_pre_file)
        try:
            fields.append((name, value.decode("utf-8")))
        except UnicodeDecodeError:
            raise _malformed(f"the value of field {name!r} is not UTF-8") from None


def _part_head(head: bytes) -> tuple[str, str | None, str | None]:
    """A part's name, file name and Content-Type, from its header lines."""
    disposition: str | None = None
    content_type: str | None = None
    for raw_line in head.split(CRLF) if head else ():
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            line = raw_line.decode("latin-1")
        header, colon, value = line.partition(":")
        if not colon:
            raise _malformed("a part header has no colon")
        lowered = header.strip().lower()
        if lowered == "content-disposition":
            disposition = value.strip()
        elif lowered == "content-type":
            content_type = value.strip()
    if disposition is None:
        raise _malformed("a part has no Content-Disposition header")
    kind, _, parameters = disposition.partition(";")
    if kind.strip().lower() != "form-data":
        raise _malformed("a part's Content-Disposition is not form-data")
    values = {
        match.group(1).lower(): _unquote(match.group(2))
        for match in _PARAMETER.finditer(parameters)
    }
    name = values.get("name")
    if not name:
        raise _malformed("a part's Content-Disposition has no name")
    return name, values.get("filename"), content_type
