"""The streaming multipart/form-data parser of browser uploads (gateway/form_data.py): fields,
then the file as a stream, whatever sizes the body arrives in."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence

import pytest
from nimbus_storage.gateway.form_data import (
    MAX_PRE_FILE_BYTES,
    UploadForm,
    boundary_of,
    is_form_data,
    read_form,
)
from nimbus_storage.s3errors import (
    IncorrectNumberOfFilesInPostRequest,
    MalformedPOSTRequest,
    MaxPostPreDataLengthExceeded,
    S3Error,
)

BOUNDARY = b"----NimbusBoundary7MA4YWxkTrZu0gW"


class Pieces:
    """A body that arrives in pieces of the given sizes (the last size repeats)."""

    def __init__(self, body: bytes, sizes: Sequence[int]) -> None:
        self._body = body
        self._sizes = list(sizes)
        self._at = 0

    async def read(self, n: int) -> bytes:
        size = self._sizes.pop(0) if len(self._sizes) > 1 else self._sizes[0]
        chunk = self._body[self._at : self._at + min(n, size)]
        self._at += len(chunk)
        return chunk


def form_body(
    fields: Iterable[tuple[str, str]],
    content: bytes,
    *,
    filename: str | None = "cat.png",
    after: Iterable[tuple[str, str]] = (),
    preamble: bytes = b"",
) -> bytes:
    parts = [preamble]
    for name, value in fields:
        parts.append(b"--" + BOUNDARY + b"\r\n")
        parts.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        parts.append(value.encode() + b"\r\n")
    parts.append(b"--" + BOUNDARY + b"\r\n")
    disposition = 'form-data; name="file"' + (f'; filename="{filename}"' if filename else "")
    parts.append(f"Content-Disposition: {disposition}\r\n".encode())
    parts.append(b"Content-Type: image/png\r\n\r\n")
    parts.append(content + b"\r\n")
    for name, value in after:
        parts.append(b"--" + BOUNDARY + b"\r\n")
        parts.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        parts.append(value.encode() + b"\r\n")
    parts.append(b"--" + BOUNDARY + b"--\r\n")
    return b"".join(parts)


async def _parse(body: bytes, sizes: Sequence[int], read_size: int) -> tuple[UploadForm, bytes]:
    form = await read_form(Pieces(body, sizes), BOUNDARY, read_size=read_size)
    content = b"".join([chunk async for chunk in form.file()])
    return form, content


def parse(
    body: bytes, sizes: Sequence[int] = (1 << 20,), read_size: int = 64 * 1024
) -> tuple[UploadForm, bytes]:
    return asyncio.run(_parse(body, sizes, read_size))


def refused(body: bytes, sizes: Sequence[int] = (1 << 20,)) -> S3Error:
    with pytest.raises(S3Error) as caught:
        parse(body, sizes)
    return caught.value


FIELDS = [("key", "user/${filename}"), ("Content-Type", "image/png"), ("x-amz-meta-a", "é ✓")]
# File content full of near-delimiters: every prefix of the closing delimiter but the whole.
DELIMITER = b"\r\n--" + BOUNDARY
TRICKY = b"".join(DELIMITER[:n] + b"x" for n in range(len(DELIMITER))) + b"\r\n--\r\n-"


@pytest.mark.parametrize(
    "sizes",
    [
        [1],
        [2],
        [3],
        [7],
        [len(BOUNDARY) - 1],
        [len(BOUNDARY) + 3],
        [4096],
        # A read ending inside the closing delimiter, just before and just after it.
        [len(form_body(FIELDS, TRICKY)) - len(BOUNDARY) - 10, 1],
        [len(form_body(FIELDS, TRICKY)) - len(BOUNDARY) - 4, 3],
    ],
    ids=str,
)
def test_a_body_split_at_awkward_boundaries(sizes: list[int]) -> None:
    body = form_body(FIELDS, TRICKY)
    form, content = parse(body, sizes)
    assert form.fields == tuple(FIELDS)
    assert (form.filename, form.file_content_type) == ("cat.png", "image/png")
    assert content == TRICKY
    assert form.file_size == len(TRICKY)


def test_random_splits_and_small_reads() -> None:
    rng = random.Random(7)
    content = rng.randbytes(50_000) + DELIMITER[:-1]
    body = form_body(FIELDS, content)
    for _ in range(40):
        sizes = [rng.randint(1, 300) for _ in range(400)] + [rng.randint(1, 5000)]
        form, got = parse(body, sizes, read_size=rng.choice([1, 5, 64, 1000]))
        assert got == content
        assert form.fields == tuple(FIELDS)


def test_the_file_offset_counts_what_precedes_the_file() -> None:
    body = form_body(FIELDS, b"0123456789")
    form, content = parse(body)
    assert body[form.file_offset : form.file_offset + 10] == content == b"0123456789"


def test_an_empty_file_and_no_file_name() -> None:
    form, content = parse(form_body([("key", "k")], b"", filename=None))
    assert (content, form.filename, form.file_size) == (b"", None, 0)


def test_fields_after_the_file_are_ignored() -> None:
    body = form_body([("key", "k")], b"data", after=[("acl", "public-read")])
    form, content = parse(body)
    assert (form.fields, content) == ((("key", "k"),), b"data")


def test_a_preamble_and_repeated_fields() -> None:
    body = form_body([("tag", "a"), ("TAG", "b")], b"x", preamble=b"ignore me\r\n")
    form, _ = parse(body)
    assert form.fields == (("tag", "a"), ("TAG", "b"))


def test_the_file_field_name_is_case_insensitive_and_padding_follows_a_boundary() -> None:
    body = (
        b"--" + BOUNDARY + b"\r\n"
        b"content-disposition: form-data; name=key\r\n\r\nk\r\n--" + BOUNDARY + b"  \r\n"
        b'Content-Disposition: form-data; name="File"; filename="C:\\\\dir\\\\a.txt"\r\n\r\n'
        b"abc\r\n--" + BOUNDARY + b"--"
    )
    form, content = parse(body)
    assert (form.fields, form.filename, content) == ((("key", "k"),), "C:\\dir\\a.txt", b"abc")


def test_the_file_is_streamed_not_held() -> None:
    content = bytes(range(256)) * 8192  # 2 MiB
    form_chunks: list[int] = []

    async def run() -> None:
        body = form_body([("key", "k")], content)
        form = await read_form(Pieces(body, [1 << 20]), BOUNDARY, read_size=16 * 1024)
        async for chunk in form.file():
            form_chunks.append(len(chunk))

    asyncio.run(run())
    assert sum(form_chunks) == len(content)
    assert max(form_chunks) <= 16 * 1024 + len(DELIMITER)


def test_the_file_is_read_once() -> None:
    async def run() -> None:
        form = await read_form(Pieces(form_body([], b"x"), [100]), BOUNDARY)
        form.file()
        with pytest.raises(RuntimeError):
            form.file()

    asyncio.run(run())


# --- refusals --------------------------------------------------------------------------------


def test_no_file() -> None:
    body = b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n'
    body += b"--" + BOUNDARY + b"--\r\n"
    assert isinstance(refused(body), IncorrectNumberOfFilesInPostRequest)
    assert isinstance(refused(b"--" + BOUNDARY + b"--\r\n"), IncorrectNumberOfFilesInPostRequest)


def test_fields_before_the_file_are_limited_to_20_kb() -> None:
    fits = [("x-amz-meta-a", "a" * (MAX_PRE_FILE_BYTES - 400))]
    parse(form_body(fits, b"x"))
    too_much = [("x-amz-meta-a", "a" * MAX_PRE_FILE_BYTES)]
    for sizes in ([1 << 20], [100]):
        error = refused(form_body(too_much, b"x"), sizes)
        assert isinstance(error, MaxPostPreDataLengthExceeded)
        assert (error.status, error.extra) == (400, {"MaxPostPreDataLengthBytes": "20480"})
    many = [(f"x-amz-meta-{n}", "v" * 100) for n in range(200)]
    assert isinstance(refused(form_body(many, b"x"), [333]), MaxPostPreDataLengthExceeded)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "ends inside a part"),
        (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=", "ends inside a part"),
        (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"\r\n\r\nab', "file"),
        (b"--" + BOUNDARY + b"\r\nContent-Type: text/plain\r\n\r\nv\r\n", "Content-Disposition"),
        (b"--" + BOUNDARY + b'\r\nContent-Disposition: attachment; name="a"\r\n\r\n', "form-data"),
        (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data\r\n\r\nv\r\n", "no name"),
        (b"--" + BOUNDARY + b"\r\nno colon here\r\n\r\nv\r\n", "no colon"),
        (b"--" + BOUNDARY + b"junk\r\n", "white space"),
        (
            b"--"
            + BOUNDARY
            + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\r\n--'
            + BOUNDARY
            + b"\r\n",
            "not UTF-8",
        ),
    ],
)
def test_malformed_bodies(body: bytes, detail: str) -> None:
    error = refused(body)
    assert isinstance(error, MalformedPOSTRequest)
    assert (error.status, error.code) == (400, "MalformedPOSTRequest")
    assert detail in error.message


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/form-data; boundary=abc", b"abc"),
        ('Multipart/Form-Data;boundary="a b:c"; charset=utf-8', b"a b:c"),
        ("multipart/form-data; charset=utf-8; BOUNDARY=x-y", b"x-y"),
    ],
)
def test_boundaries(content_type: str, boundary: bytes) -> None:
    assert is_form_data(content_type)
    assert boundary_of(content_type) == boundary


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "text/plain; boundary=a", ""],
)
def test_no_boundary(content_type: str) -> None:
    with pytest.raises(MalformedPOSTRequest):
        boundary_of(content_type)
