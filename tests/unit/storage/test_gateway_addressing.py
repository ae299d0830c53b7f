"""Addressing: raw path and query splitting, virtual-hosted buckets, key decoding."""

from __future__ import annotations

import pytest
from nimbus_storage.gateway.addressing import (
    MAX_KEY_BYTES,
    Target,
    bucket_from_host,
    parse_query,
    resolve_target,
    split_raw_path,
)
from nimbus_storage.s3errors import InvalidRequest, InvalidURI, KeyTooLongError

DOMAINS = ("s3.example.com", "s3.local")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", ("/", "")),
        ("/b/k", ("/b/k", "")),
        ("/b/k?", ("/b/k", "")),
        ("/b/k?x=1", ("/b/k", "x=1")),
        ("/b/a%3Fb?uploads", ("/b/a%3Fb", "uploads")),  # an encoded ? stays in the path
        ("/b?a=1?2", ("/b", "a=1?2")),  # only the first ? splits
        ("/b/%2F?p=%20", ("/b/%2F", "p=%20")),  # nothing is decoded yet
    ],
)
def test_split_raw_path(raw: str, expected: tuple[str, str]) -> None:
    assert split_raw_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {}),
        ("uploads", {"uploads": ""}),
        ("uploads=", {"uploads": ""}),
        ("list-type=2&prefix=a%2Fb", {"list-type": "2", "prefix": "a/b"}),
        ("prefix=a+b", {"prefix": "a b"}),
        ("prefix=a%2Bb", {"prefix": "a+b"}),
        ("versionId=x&tagging", {"versionId": "x", "tagging": ""}),
        ("prefix=%C3%A9", {"prefix": "é"}),
        ("a=1&a=2", {"a": "2"}),  # the last duplicate wins
        ("delimiter=%2F&marker=", {"delimiter": "/", "marker": ""}),
    ],
)
def test_parse_query(raw: str, expected: dict[str, str]) -> None:
    assert parse_query(raw) == expected


@pytest.mark.parametrize("raw", ["prefix=%FF", "prefix=a%C3", "%FF=1", "prefix=\udcff"])
def test_query_values_that_are_not_utf_8_are_an_invalid_uri(raw: str) -> None:
    with pytest.raises(InvalidURI):
        parse_query(raw)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("bucket.s3.example.com", "bucket"),
        ("bucket.s3.example.com:9000", "bucket"),
        ("BuCkEt.S3.Example.COM", "bucket"),
        ("my.dotted.bucket.s3.local", "my.dotted.bucket"),
        ("bucket.s3.local:443", "bucket"),
        ("s3.example.com", None),  # the endpoint itself: path-style
        ("s3.example.com:9000", None),
        (".s3.example.com", None),  # empty label is no bucket
        ("bucket.other.com", None),
        ("bucket.xs3.example.com", None),  # suffix must start at a label boundary
        ("localhost", None),
        ("localhost:9000", None),
        ("127.0.0.1:9000", None),
        ("[::1]", None),
        ("[::1]:9000", None),
        ("[2001:db8::1]:443", None),
        ("", None),
    ],
)
def test_bucket_from_host(host: str, expected: str | None) -> None:
    assert bucket_from_host(host, DOMAINS) == expected


def test_bucket_from_host_without_domains_is_always_path_style() -> None:
    assert bucket_from_host("bucket.s3.example.com", ()) is None


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        ("/", Target("", "", virtual_host=False)),
        ("/bucket", Target("bucket", "", virtual_host=False)),
        ("/bucket/", Target("bucket", "", virtual_host=False)),
        ("/bucket/key", Target("bucket", "key", virtual_host=False)),
        ("/bucket/a/b/c/", Target("bucket", "a/b/c/", virtual_host=False)),
        ("/bucket/a//b", Target("bucket", "a//b", virtual_host=False)),
        ("/bucket//lead", Target("bucket", "/lead", virtual_host=False)),
        ("/bucket/../x", Target("bucket", "../x", virtual_host=False)),
        ("/bucket/a/./b/..", Target("bucket", "a/./b/..", virtual_host=False)),
        ("/bucket/a%2Fb", Target("bucket", "a/b", virtual_host=False)),
        ("/bucket/%2E%2E%2Fx", Target("bucket", "../x", virtual_host=False)),
        ("/bucket/a%252Fb", Target("bucket", "a%2Fb", virtual_host=False)),  # decoded once
        ("/bucket/a+b", Target("bucket", "a+b", virtual_host=False)),  # + is no space in a path
        ("/bucket/a%20b", Target("bucket", "a b", virtual_host=False)),
        ("/bucket/caf%C3%A9", Target("bucket", "café", virtual_host=False)),
        ("/bucket/%F0%9F%90%8D", Target("bucket", "\U0001f40d", virtual_host=False)),
        ("/bucket/é", Target("bucket", "é", virtual_host=False)),  # already decoded text
        ("/bucket/%3Fq%23f", Target("bucket", "?q#f", virtual_host=False)),
        ("/%62ucket/k", Target("bucket", "k", virtual_host=False)),
        ("/bucket/100%", Target("bucket", "100%", virtual_host=False)),  # stray % kept as is
        ("/bucket/%zz", Target("bucket", "%zz", virtual_host=False)),
    ],
)
def test_resolve_path_style(raw_path: str, expected: Target) -> None:
    assert resolve_target(raw_path, "s3.example.com:9000", DOMAINS) == expected


@pytest.mark.parametrize(
    ("raw_path", "key"),
    [
        ("/", ""),
        ("/key", "key"),
        ("/other/key", "other/key"),  # the first segment is key, not bucket
        ("//x", "/x"),
        ("/a%2Fb", "a/b"),
        ("/../x", "../x"),
        ("/d%C3%A9j%C3%A0", "déjà"),
    ],
)
def test_resolve_virtual_hosted(raw_path: str, key: str) -> None:
    target = resolve_target(raw_path, "photos.s3.example.com:9000", DOMAINS)
    assert target == Target("photos", key, virtual_host=True)


def test_path_style_when_host_is_an_ip_address() -> None:
    target = resolve_target("/photos/k", "[::1]:9000", DOMAINS)
    assert target == Target("photos", "k", virtual_host=False)


@pytest.mark.parametrize("raw_path", ["", "bucket/key", "*", "http://h/b/k"])
def test_relative_path_is_an_invalid_request(raw_path: str) -> None:
    with pytest.raises(InvalidRequest):
        resolve_target(raw_path, "localhost", DOMAINS)


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("k" * MAX_KEY_BYTES, "localhost"),
        ("é" * (MAX_KEY_BYTES // 2), "localhost"),  # 2 bytes each
        ("k" * MAX_KEY_BYTES, "b.s3.local"),
    ],
)
def test_key_of_exactly_the_limit_is_accepted(key: str, host: str) -> None:
    path = "/" + key if host == "b.s3.local" else "/b/" + key
    assert resolve_target(path, host, DOMAINS).key == key


@pytest.mark.parametrize(
    ("raw_path", "host"),
    [
        ("/b/" + "k" * (MAX_KEY_BYTES + 1), "localhost"),
        ("/" + "k" * (MAX_KEY_BYTES + 1), "b.s3.local"),
        ("/b/" + "é" * (MAX_KEY_BYTES // 2) + "k", "localhost"),  # 1025 bytes, 513 characters
        ("/b/" + "%C3%A9" * (MAX_KEY_BYTES // 2 + 1), "localhost"),  # counted after decoding
    ],
)
def test_key_over_the_limit_is_too_long(raw_path: str, host: str) -> None:
    with pytest.raises(KeyTooLongError) as caught:
        resolve_target(raw_path, host, DOMAINS)
    assert caught.value.status == 400


def test_limit_counts_decoded_bytes_not_encoded_characters() -> None:
    # 1024 * "%41" is 3072 characters on the wire but a 1024-byte key.
    assert resolve_target("/b/" + "%41" * MAX_KEY_BYTES, "localhost", DOMAINS).key == "A" * 1024


@pytest.mark.parametrize(
    ("raw_path", "host"),
    [
        ("/b/%FF", "localhost"),  # never valid in UTF-8
        ("/b/%C3", "localhost"),  # truncated sequence
        ("/b/%E2%82", "localhost"),
        ("/b/%C0%AF", "localhost"),  # overlong encoding of /
        ("/b/%ED%A0%80", "localhost"),  # encoded surrogate
        ("/b/ok/%80", "localhost"),
        ("/%FF/k", "localhost"),  # in the bucket part too
        ("/%FF", "b.s3.local"),
        ("/b/\udcff", "localhost"),  # a raw 0xFF as aiohttp hands it over (surrogateescape)
        ("/\udcc3\udca9", "b.s3.local"),
    ],
)
def test_undecodable_path_is_invalid_uri(raw_path: str, host: str) -> None:
    with pytest.raises(InvalidURI) as caught:
        resolve_target(raw_path, host, DOMAINS)
    assert (caught.value.status, caught.value.code) == (400, "InvalidURI")
    assert caught.value.message == "Couldn't parse the specified URI."
