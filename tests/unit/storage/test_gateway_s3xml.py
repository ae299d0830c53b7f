"""s3xml: parsing request bodies safely, rendering response documents."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from nimbus_storage import s3xml
from nimbus_storage.s3errors import MalformedXML, MaxMessageLengthExceeded

NS = s3xml.S3_NS


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>a</Key></Object></Delete>",
        f'<Delete xmlns="{NS}"><Object><Key>a</Key></Object></Delete>'.encode(),
        f'<s:Delete xmlns:s="{NS}"><s:Object><s:Key>a</s:Key></s:Object></s:Delete>'.encode(),
        f'<Delete xmlns="{NS}"><Object xmlns="urn:other"><Key>a</Key></Object></Delete>'.encode(),
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Delete><Object><Key>a</Key></Object></Delete>',
        b"  \n<Delete>\n  <Object>\n    <Key>a</Key>\n  </Object>\n</Delete>\n",
        "<Delete><Object><Key>a</Key></Object></Delete>".encode("utf-16"),  # with a BOM
    ],
)
def test_namespaces_are_stripped(body: bytes) -> None:
    element = s3xml.parse(body, root="Delete")
    assert [node.tag for node in element.iter()] == ["Delete", "Object", "Key"]
    assert s3xml.text(element, "Object/Key") == "a"


def test_entities_and_character_references_are_decoded() -> None:
    element = s3xml.parse(b"<Tag><Key>a&lt;b&amp;c&gt;&#233;&#x1F40D;</Key></Tag>")
    assert s3xml.text(element, "Key") == "a<b&c>\u00e9\U0001f40d"


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE Delete [<!ENTITY e "x">]><Delete><Key>&e;</Key></Delete>',
        b'<!DOCTYPE Delete SYSTEM "file:///etc/passwd"><Delete/>',
        b"<!DOCTYPE Delete><Delete/>",
        b'<?xml version="1.0"?>\n<!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY l2 "&lol;&lol;">]>'
        b"<Delete>&l2;</Delete>",
        b'<Delete><!ENTITY e "x"></Delete>',
        # A DTD hidden from a byte search by a UTF-16 encoding: the parser refuses it as well.
        '<!DOCTYPE Delete [<!ENTITY e "x">]><Delete>&e;</Delete>'.encode("utf-16"),
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d><Delete/>'.encode("utf-16"),
    ],
)
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedXML) as caught:
        s3xml.parse(body)
    assert caught.value.status == 400
    assert "DTD" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n\t",
        b"<Delete>",
        b"<Delete></Other>",
        b"not xml",
        b"<Delete>&undefined;</Delete>",
        b"<Delete/><Delete/>",
        b"<a:Delete><a:Key/></a:Delete>",  # unbound prefix
        b"\xff\xfe\x00",
        b"<Delete>\xff</Delete>",  # not UTF-8
        # A declared encoding expat cannot read must not escape as a ValueError (500).
        '<?xml version="1.0" encoding="UTF-16-LE"?><Delete/>'.encode("utf-16-le"),
        '<?xml version="1.0" encoding="UTF-32"?><Delete/>'.encode("utf-32"),
        b'<?xml version="1.0" encoding="no-such-codec"?><Delete/>',
    ],
)
def test_malformed_documents(body: bytes) -> None:
    with pytest.raises(MalformedXML) as caught:
        s3xml.parse(body)
    assert (caught.value.status, caught.value.code) == (400, "MalformedXML")


def test_wrong_root_is_malformed() -> None:
    body = f'<Tagging xmlns="{NS}"><TagSet/></Tagging>'.encode()
    assert s3xml.parse(body, root="Tagging").tag == "Tagging"
    with pytest.raises(MalformedXML) as caught:
        s3xml.parse(body, root="Delete")
    assert "<Delete>" in caught.value.message
    assert "<Tagging>" in caught.value.message


@pytest.mark.parametrize(
    ("size", "limit", "too_big"),
    [
        (100, 100, False),
        (101, 100, True),
        (1024 * 1024, None, False),
        (1024 * 1024 + 1, None, True),
    ],
)
def test_size_limit(size: int, limit: int | None, too_big: bool) -> None:
    body = b"<Delete>" + b"x" * (size - len(b"<Delete></Delete>")) + b"</Delete>"
    assert len(body) == size
    max_size = s3xml.DEFAULT_MAX_XML if limit is None else limit
    if too_big:
        with pytest.raises(MaxMessageLengthExceeded) as caught:
            s3xml.parse(body, max_size=max_size)
        assert caught.value.status == 400
    else:
        assert s3xml.parse(body, max_size=max_size).text == "x" * (size - 17)
    assert s3xml.DEFAULT_MAX_XML == 1024 * 1024


def test_size_limit_is_checked_before_parsing() -> None:
    # Even a body that would be refused for its DTD reports its size first.
    with pytest.raises(MaxMessageLengthExceeded):
        s3xml.parse(b"<!DOCTYPE x>" + b" " * 64, max_size=32)


def test_text_is_exact_and_tokens_are_stripped() -> None:
    element = s3xml.parse(b"<R><A> spaced </A><Empty/><B></B><W> </W></R>")
    assert s3xml.text(element, "A") == " spaced "
    assert s3xml.text(element, "W") == " "
    assert s3xml.text(element, "Empty") == ""
    assert s3xml.text(element, "B") == ""
    assert s3xml.text(element, "Missing") is None
    assert s3xml.text(element, "Missing", "fallback") == "fallback"
    assert s3xml.token(element, "A") == "spaced"
    assert s3xml.token(element, "W") == ""
    assert s3xml.token(element, "Missing") is None
    assert s3xml.token(element, "Missing", "fallback") == "fallback"
    assert s3xml.required_token(element, "A") == "spaced"
    with pytest.raises(MalformedXML) as caught:
        s3xml.required_token(element, "Missing")
    assert "<Missing>" in caught.value.message


def test_pretty_printed_keys_keep_their_white_space() -> None:
    body = b"<Delete>\n  <Object>\n    <Key> a </Key>\n  </Object>\n</Delete>\n"
    assert s3xml.text(s3xml.parse(body), "Object/Key") == " a "


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (b"line1&#10;line2", "line1\nline2"),
        (b"line1\nline2", "line1\nline2"),
        (b"cr&#13;key", "cr\rkey"),
        (b"cr&#xD;&#xa;key", "cr\r\nkey"),
        (b"tab&#9;here\t", "tab\there\t"),
        (b"<![CDATA[ a<b ]]>", " a<b "),
        # XML end-of-line handling: a raw CR (alone or before LF) reads as LF. AWS asks clients
        # to write CR as &#13; in XML requests for that reason.
        (b"cr\rkey", "cr\nkey"),
        (b"crlf\r\nkey", "crlf\nkey"),
    ],
)
def test_text_reads_character_references_and_line_ends(written: bytes, read: str) -> None:
    element = s3xml.parse(b"<Object><Key>" + written + b"</Key></Object>")
    assert s3xml.text(element, "Key") == read


@pytest.mark.parametrize("key", [b"&#1;ctrl", b"\x01ctrl", b"&#0;", b"&#xFFFE;"])
def test_characters_xml_cannot_hold_are_malformed(key: bytes) -> None:
    with pytest.raises(MalformedXML):
        s3xml.parse(b"<Object><Key>" + key + b"</Key></Object>")


def test_text_of_an_element_holding_elements_is_malformed() -> None:
    element = s3xml.parse(b"<Object><Key>a<Sub/>b</Key></Object>")
    with pytest.raises(MalformedXML):
        s3xml.text(element, "Key")


def _body(document: bytes) -> str:
    assert document.startswith(s3xml.XML_DECLARATION)
    return document[len(s3xml.XML_DECLARATION) :].decode()


def test_render_keeps_order_and_repeats_lists() -> None:
    document = s3xml.render(
        "ListBucketResult",
        {
            "Name": "b",
            "Prefix": "",
            "KeyCount": 2,
            "IsTruncated": False,
            "NextContinuationToken": None,
            "Contents": [{"Key": "k1", "Size": 0}, {"Key": "k2", "Size": 10}],
            "CommonPrefixes": [],
        },
    )
    assert _body(document) == (
        f'<ListBucketResult xmlns="{NS}"><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount>'
        "<IsTruncated>false</IsTruncated>"
        "<Contents><Key>k1</Key><Size>0</Size></Contents>"
        "<Contents><Key>k2</Key><Size>10</Size></Contents>"
        "</ListBucketResult>"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-1, "-1"),
        (10**20, "100000000000000000000"),
        ("", ""),
        ("a<b", "a&lt;b"),
        ("a&b", "a&amp;b"),
        ("a>b", "a&gt;b"),
        ("&lt;", "&amp;lt;"),  # escaped once more, never taken as an entity
        ("a\rb", "a&#13;b"),  # a raw CR would be read back as LF
        ("a\nb\tc", "a\nb\tc"),
        # What XML 1.0 cannot hold at all, written as AWS writes it.
        ("a\x01b", "a&#x1;b"),
        ("\x00\x0b\x0c\x1f", "&#x0;&#xB;&#xC;&#x1F;"),
        ("\ufffe\uffff", "&#xFFFE;&#xFFFF;"),
        ("del\x7f\x85", "del\x7f\x85"),
        ("\"quoted\" 'single'", "\"quoted\" 'single'"),
        ("caf\u00e9 \U0001f40d", "caf\u00e9 \U0001f40d"),
    ],
)
def test_render_scalars(value: str | int | bool, text: str) -> None:
    assert _body(s3xml.render("R", {"V": value}, namespace=False)) == f"<R><V>{text}</V></R>"


def test_render_without_namespace_and_from_pairs() -> None:
    # Pairs allow repeated tags without a list, in the given order.
    document = s3xml.render("R", [("A", "1"), ("B", None), ("A", "2")], namespace=False)
    assert _body(document) == "<R><A>1</A><A>2</A></R>"


def test_render_nested_trees_and_lists_of_scalars() -> None:
    document = s3xml.render(
        "CORSConfiguration",
        {
            "CORSRule": [
                {"AllowedMethod": ["GET", "PUT"], "AllowedOrigin": ["*"], "MaxAgeSeconds": None},
            ],
            "Owner": {"ID": "abc", "DisplayName": None},
            "Empty": {},
        },
        namespace=False,
    )
    assert _body(document) == (
        "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
        "<AllowedMethod>PUT</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule>"
        "<Owner><ID>abc</ID></Owner><Empty></Empty></CORSConfiguration>"
    )


ODD_KEYS = [
    "plain",
    "a<b>&c",
    "</Key><Injected>1</Injected>",
    "]]>",
    "&amp;",
    "tab\there",
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\n",
    "  spaced  ",
    "caf\u00e9/\u65e5\u672c/\U0001f40d",
    "quote\"apos'",
]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_render_round_trips_through_elementtree(key: str) -> None:
    document = s3xml.render("ListBucketResult", {"Contents": [{"Key": key, "Size": 1}]})
    parsed = ET.fromstring(document)
    assert parsed.tag == f"{{{NS}}}ListBucketResult"
    found = parsed.findall(f"{{{NS}}}Contents/{{{NS}}}Key")
    assert [node.text or "" for node in found] == [key]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_render_round_trips_through_parse(key: str) -> None:
    element = s3xml.parse(s3xml.render("Tagging", {"TagSet": {"Tag": {"Key": key}}}))
    found = element.find("TagSet/Tag/Key")
    assert found is not None
    assert (found.text or "") == key


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", f'<LocationConstraint xmlns="{NS}"/>'),
        ("eu-west-1", f'<LocationConstraint xmlns="{NS}">eu-west-1</LocationConstraint>'),
        ("a<&>b", f'<LocationConstraint xmlns="{NS}">a&lt;&amp;&gt;b</LocationConstraint>'),
    ],
)
def test_render_text(value: str, expected: str) -> None:
    document = s3xml.render_text("LocationConstraint", value)
    assert _body(document) == expected
    assert (ET.fromstring(document).text or "") == value
