"""Object and bucket tag sets: the Tagging document and the x-amz-tagging header."""

from __future__ import annotations

import pytest
from nimbus_storage.bucket_config.tagging import (
    BUCKET_TAG_LIMIT,
    OBJECT_TAG_LIMIT,
    parse_bucket_tagging,
    parse_object_tagging,
    parse_tagging,
    parse_tagging_header,
    render_tagging,
    render_tagging_header,
)
from nimbus_storage.s3errors import InvalidTag, MalformedXML


def tagging(*pairs: tuple[str, str]) -> bytes:
    tags = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in pairs)
    return (
        '<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<TagSet>{tags}</TagSet></Tagging>"
    ).encode()


def invalid_tag(body: bytes, **kwargs: int) -> str:
    with pytest.raises(InvalidTag) as caught:
        parse_tagging(body, max_tags=kwargs.get("max_tags", OBJECT_TAG_LIMIT))
    assert caught.value.code == "InvalidTag"
    assert caught.value.status == 400
    return caught.value.message


def test_parse_keeps_order_and_empty_values() -> None:
    tags = parse_object_tagging(tagging(("b", "2"), ("a", ""), ("c d", "x:y/z@w+=-._")))
    assert list(tags.items()) == [("b", "2"), ("a", ""), ("c d", "x:y/z@w+=-._")]


def test_empty_tag_set_is_allowed() -> None:
    assert parse_object_tagging(tagging()) == {}


def test_self_closing_value_is_empty() -> None:
    body = b"<Tagging><TagSet><Tag><Key>k</Key><Value/></Tag></TagSet></Tagging>"
    assert parse_object_tagging(body) == {"k": ""}


def test_unicode_letters_are_allowed() -> None:
    assert parse_object_tagging(tagging(("проект", "日本"))) == {"проект": "日本"}


def test_object_limit_is_ten() -> None:
    ten = [(f"k{i}", "v") for i in range(10)]
    assert len(parse_object_tagging(tagging(*ten))) == 10
    message = invalid_tag(tagging(*ten, ("k10", "v")))
    assert message == "Object tags cannot be greater than 10"


def test_bucket_limit_is_fifty() -> None:
    fifty = [(f"k{i}", "v") for i in range(BUCKET_TAG_LIMIT)]
    assert len(parse_bucket_tagging(tagging(*fifty))) == 50
    with pytest.raises(InvalidTag) as caught:
        parse_bucket_tagging(tagging(*fifty, ("k50", "v")))
    assert caught.value.message == "Bucket tag count cannot be greater than 50"


def test_key_length() -> None:
    assert parse_object_tagging(tagging(("k" * 128, "v"))) == {"k" * 128: "v"}
    assert invalid_tag(tagging(("k" * 129, "v"))) == (
        "The TagKey you have provided is too long, max 128"
    )


def test_value_length() -> None:
    assert parse_object_tagging(tagging(("k", "v" * 256))) == {"k": "v" * 256}
    assert invalid_tag(tagging(("k", "v" * 257))) == (
        "The TagValue you have provided is too long, max 256"
    )


def test_lengths_count_characters_not_bytes() -> None:
    assert parse_object_tagging(tagging(("é" * 128, "é" * 256))) == {"é" * 128: "é" * 256}


def test_duplicate_keys() -> None:
    assert invalid_tag(tagging(("k", "1"), ("k", "2"))) == (
        "Cannot provide multiple Tags with the same key"
    )


@pytest.mark.parametrize("key", ["aws:cost", "AWS:cost"])
def test_reserved_prefix(key: str) -> None:
    assert invalid_tag(tagging((key, "v"))) == "Your TagKey cannot be prefixed with aws:"


@pytest.mark.parametrize("key", ["", "a*b", "a#b", "a?b", "k;drop"])
def test_invalid_keys(key: str) -> None:
    assert invalid_tag(tagging((key, "v"))) == "The TagKey you have provided is invalid"


@pytest.mark.parametrize("value", ["a*b", "100%", "a,b"])
def test_invalid_values(value: str) -> None:
    assert invalid_tag(tagging(("k", value))) == "The TagValue you have provided is invalid"


@pytest.mark.parametrize(
    "body",
    [
        b"<Tagging/>",
        b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
        b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
        b"<TagSet/>",
        b"not xml",
        b"",
    ],
)
def test_malformed_documents(body: bytes) -> None:
    with pytest.raises(MalformedXML):
        parse_object_tagging(body)


def test_render_round_trips_through_parse() -> None:
    tags = {"env": "prod", "team": "", "a b": "c/d"}
    document = render_tagging(tags)
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns=')
    assert b"<TagSet><Tag><Key>env</Key><Value>prod</Value></Tag>" in document
    assert parse_object_tagging(document) == tags


def test_render_empty_tag_set() -> None:
    assert render_tagging({}).endswith(b"<TagSet></TagSet></Tagging>")
    assert parse_object_tagging(render_tagging({})) == {}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", {}),
        ("a=1", {"a": "1"}),
        ("a=1&b=2", {"a": "1", "b": "2"}),
        ("a=&b", {"a": "", "b": ""}),
        ("key%20one=va%2Flue+x", {"key one": "va/lue x"}),
        ("%E6%97%A5=1", {"日": "1"}),
    ],
)
def test_parse_header(header: str, expected: dict[str, str]) -> None:
    assert parse_tagging_header(header) == expected


def test_header_applies_the_same_rules() -> None:
    with pytest.raises(InvalidTag) as caught:
        parse_tagging_header("a=1&a=2")
    assert caught.value.message == "Cannot provide multiple Tags with the same key"
    with pytest.raises(InvalidTag) as caught:
        parse_tagging_header("&".join(f"k{i}=v" for i in range(11)))
    assert caught.value.message == "Object tags cannot be greater than 10"
    with pytest.raises(InvalidTag):
        parse_tagging_header("aws%3Ax=1")


def test_header_round_trip() -> None:
    tags = {"a b": "c/d", "e": "", "日": "ü"}
    assert parse_tagging_header(render_tagging_header(tags)) == tags
