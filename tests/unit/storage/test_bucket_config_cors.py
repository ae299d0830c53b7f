"""Bucket CORS configuration: parsing, rendering, matching and response headers."""

from __future__ import annotations

import pytest
from nimbus_storage.bucket_config.cors import (
    VARY,
    CorsConfiguration,
    CorsRule,
    from_json,
    match,
    parse_cors,
    render_cors,
    response_headers,
    split_request_headers,
    to_json,
)
from nimbus_storage.s3errors import InvalidArgument, InvalidRequest, MalformedXML


def cors(*rules: str) -> bytes:
    return (
        '<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        + "".join(f"<CORSRule>{rule}</CORSRule>" for rule in rules)
        + "</CORSConfiguration>"
    ).encode()


FULL_RULE = (
    "<ID>web</ID><AllowedOrigin>https://*.example.com</AllowedOrigin>"
    "<AllowedOrigin>https://app.test</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
    "<AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader>"
    "<AllowedHeader>Content-Type</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
    "<ExposeHeader>x-amz-request-id</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds>"
)
PUBLIC_RULE = "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"


def test_parse_full_rule() -> None:
    cfg = parse_cors(cors(FULL_RULE))
    assert cfg == CorsConfiguration(
        (
            CorsRule(
                id="web",
                allowed_origins=("https://*.example.com", "https://app.test"),
                allowed_methods=("GET", "PUT"),
                allowed_headers=("x-amz-*", "Content-Type"),
                expose_headers=("ETag", "x-amz-request-id"),
                max_age_seconds=3000,
            ),
        )
    )


def test_minimal_rule_defaults() -> None:
    (rule,) = parse_cors(cors(PUBLIC_RULE)).rules
    assert rule == CorsRule(allowed_origins=("*",), allowed_methods=("GET",))


def test_render_round_trips() -> None:
    cfg = parse_cors(cors(FULL_RULE, PUBLIC_RULE))
    document = render_cors(cfg)
    assert b"<CORSRule><ID>web</ID><AllowedHeader>x-amz-*</AllowedHeader>" in document
    assert b"<MaxAgeSeconds>3000</MaxAgeSeconds>" in document
    assert parse_cors(document) == cfg


def test_json_round_trips() -> None:
    cfg = parse_cors(cors(FULL_RULE, PUBLIC_RULE))
    assert from_json(to_json(cfg)) == cfg


def test_from_json_rejects_garbage() -> None:
    with pytest.raises(KeyError):
        from_json('{"rules": [{}]}')


@pytest.mark.parametrize(
    "body",
    [
        cors(),
        b"<CORSConfiguration><Other/></CORSConfiguration>",
        cors(PUBLIC_RULE).replace(b"</CORSConfiguration>", b"<Extra/></CORSConfiguration>"),
        cors("<AllowedMethod>GET</AllowedMethod>"),
        cors("<AllowedOrigin>*</AllowedOrigin>"),
        cors(PUBLIC_RULE + "<Unknown>x</Unknown>"),
        cors(PUBLIC_RULE + "<MaxAgeSeconds>soon</MaxAgeSeconds>"),
        cors(PUBLIC_RULE + "<MaxAgeSeconds>-1</MaxAgeSeconds>"),
        cors(PUBLIC_RULE + "<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds>"),
        cors(PUBLIC_RULE + "<ID>a</ID><ID>b</ID>"),
        b"<NotCors/>",
        b"<CORSConfiguration>",
    ],
)
def test_malformed_documents(body: bytes) -> None:
    with pytest.raises(MalformedXML) as caught:
        parse_cors(body)
    assert caught.value.code == "MalformedXML"


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "get", "TRACE"])
def test_unsupported_method(method: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_cors(cors(f"<AllowedOrigin>*</AllowedOrigin><AllowedMethod>{method}</AllowedMethod>"))
    assert caught.value.message == (
        f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
    )


def test_origin_with_two_wildcards() -> None:
    rule = "<AllowedOrigin>https://*.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
    with pytest.raises(InvalidRequest) as caught:
        parse_cors(cors(rule))
    assert (
        caught.value.message
        == 'AllowedOrigin "https://*.*.com" can not have more than one wildcard.'
    )


def test_header_with_two_wildcards() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_cors(cors(PUBLIC_RULE + "<AllowedHeader>*-*</AllowedHeader>"))
    assert caught.value.message == 'AllowedHeader "*-*" can not have more than one wildcard.'


def test_rule_limit() -> None:
    assert len(parse_cors(cors(*[PUBLIC_RULE] * 100)).rules) == 100
    with pytest.raises(InvalidRequest) as caught:
        parse_cors(cors(*[PUBLIC_RULE] * 101))
    assert caught.value.message == "The number of CORS rules should not exceed 100"


def test_rule_id_length() -> None:
    assert parse_cors(cors(PUBLIC_RULE + f"<ID>{'i' * 255}</ID>")).rules[0].id == "i" * 255
    with pytest.raises(InvalidArgument):
        parse_cors(cors(PUBLIC_RULE + f"<ID>{'i' * 256}</ID>"))


CONFIG = parse_cors(cors(FULL_RULE, PUBLIC_RULE + "<ID>public</ID>"))


@pytest.mark.parametrize(
    ("origin", "method", "headers", "expected_id"),
    [
        ("https://www.example.com", "PUT", [], "web"),
        ("https://app.test", "GET", ["X-Amz-Date", "content-type"], "web"),
        ("https://www.example.com", "GET", [], "web"),
        ("https://www.example.com", "GET", ["Authorization"], None),  # no rule allows it
        ("https://evil.test", "GET", [], "public"),
        ("https://evil.test", "PUT", [], None),
        ("http://www.example.com", "PUT", [], None),  # the scheme is part of the origin
        ("https://example.com", "PUT", [], None),  # "*." needs a subdomain
        ("https://app.test", "DELETE", [], None),
    ],
)
def test_match(origin: str, method: str, headers: list[str], expected_id: str | None) -> None:
    rule = match(CONFIG, origin, method, headers)
    assert (rule.id if rule is not None else None) == expected_id


def test_the_first_matching_rule_wins() -> None:
    cfg = parse_cors(cors(PUBLIC_RULE + "<ID>first</ID>", PUBLIC_RULE + "<ID>second</ID>"))
    rule = match(cfg, "https://a.test", "GET")
    assert rule is not None
    assert rule.id == "first"


def test_requested_headers_need_an_allowed_header_rule() -> None:
    cfg = parse_cors(cors(PUBLIC_RULE))
    assert match(cfg, "https://a.test", "GET", []) is not None
    assert match(cfg, "https://a.test", "GET", ["x-custom"]) is None
    star = parse_cors(cors(PUBLIC_RULE + "<AllowedHeader>*</AllowedHeader>"))
    assert match(star, "https://a.test", "GET", ["x-custom", "Authorization"]) is not None


def test_blank_requested_headers_are_ignored() -> None:
    cfg = parse_cors(cors(PUBLIC_RULE))
    assert match(cfg, "https://a.test", "GET", ["", "  "]) is not None


def test_split_request_headers() -> None:
    assert split_request_headers(None) == []
    assert split_request_headers("") == []
    assert split_request_headers("X-Amz-Date, content-type,,") == ["x-amz-date", "content-type"]


def test_preflight_headers_for_a_specific_origin() -> None:
    rule = CONFIG.rules[0]
    headers = response_headers(
        rule, "https://www.example.com", "PUT", ["x-amz-date", "content-type"], preflight=True
    )
    assert headers == {
        "Access-Control-Allow-Origin": "https://www.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Allow-Headers": "x-amz-date, content-type",
        "Access-Control-Expose-Headers": "ETag, x-amz-request-id",
        "Access-Control-Max-Age": "3000",
        "Vary": VARY,
    }


def test_actual_request_headers_omit_preflight_only_fields() -> None:
    rule = CONFIG.rules[0]
    headers = response_headers(rule, "https://app.test", "GET", ["x-amz-date"], preflight=False)
    assert "Access-Control-Allow-Headers" not in headers
    assert "Access-Control-Max-Age" not in headers
    assert headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    assert headers["Access-Control-Allow-Origin"] == "https://app.test"


def test_wildcard_origin_answers_star_without_credentials() -> None:
    rule = CONFIG.rules[1]
    headers = response_headers(rule, "https://evil.test", "GET", preflight=True)
    assert headers == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET",
        "Vary": VARY,
    }
