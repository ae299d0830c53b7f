"""A browser upload's fields as its policy sees them (gateway/post_form.py): lower-case names,
repeats joined, ``${filename}`` expanded, the request's bucket; and the key it names."""

from __future__ import annotations

import asyncio

import pytest
from nimbus_storage.gateway.form_data import UploadForm, read_form
from nimbus_storage.gateway.post_form import _key, form_fields
from nimbus_storage.s3errors import InvalidArgument, KeyTooLongError

BOUNDARY = b"b0undary"


class Whole:
    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self, n: int) -> bytes:
        chunk, self._body = self._body[:n], self._body[n:]
        return chunk


def upload(fields: list[tuple[str, str]], filename: str | None) -> UploadForm:
    parts = [
        b"--"
        + BOUNDARY
        + f'\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields
    ]
    disposition = '; filename="' + filename + '"' if filename is not None else ""
    parts.append(
        b"--" + BOUNDARY + f'\r\nContent-Disposition: form-data; name="file"{disposition}'.encode()
    )
    body = b"".join(parts) + b"\r\n\r\ndata\r\n--" + BOUNDARY + b"--\r\n"
    return asyncio.run(read_form(Whole(body), BOUNDARY))


@pytest.mark.parametrize(
    ("filename", "expanded"),
    [
        ("cat.png", "up/cat.png"),
        ("C:\\Users\\me\\cat.png", "up/cat.png"),  # only what follows the last (back)slash
        ("photos/cat.png", "up/cat.png"),
        ("", "up/"),
        (None, "up/"),  # no file name: the variable is replaced with nothing
    ],
)
def test_filename_is_expanded_in_every_field(filename: str | None, expanded: str) -> None:
    form = upload([("Key", "up/${filename}"), ("x-amz-meta-name", "${filename}")], filename)
    fields = form_fields(form, "photos")
    assert fields["key"] == expanded
    assert fields["x-amz-meta-name"] == expanded.removeprefix("up/")


def test_repeated_fields_are_joined_and_the_bucket_is_the_requests() -> None:
    form = upload(
        [("x-amz-meta-tag", "Ninja"), ("X-Amz-Meta-Tag", "Stallman"), ("bucket", "x")], "f"
    )
    assert form_fields(form, "photos") == {"x-amz-meta-tag": "Ninja,Stallman", "bucket": "photos"}


def test_the_key() -> None:
    assert _key({"key": "a/b"}) == "a/b"
    with pytest.raises(InvalidArgument, match="field named 'key'"):
        _key({})
    with pytest.raises(InvalidArgument, match="greater than 0"):
        _key({"key": ""})
    with pytest.raises(KeyTooLongError):
        _key({"key": "k" * 1025})
