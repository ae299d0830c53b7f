"""Bucket CORS: the CORSConfiguration document, rule matching and the response headers.

A request matches a rule when its Origin matches one AllowedOrigin (``*`` may appear once), its
method (for a preflight, Access-Control-Request-Method) is an AllowedMethod, and every header named
in Access-Control-Request-Headers matches an AllowedHeader, case-insensitively. The first matching
rule wins, as in S3.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from xml.etree.ElementTree import Element

from nimbus_storage.bucket_config.wildcard import glob_match
from nimbus_storage.s3errors import InvalidArgument, InvalidRequest, MalformedXML
from nimbus_storage.s3xml import XmlTree, parse, render

CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_CORS_RULES = 100
MAX_RULE_ID_LENGTH = 255
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
_RULE_ELEMENTS = frozenset(
    {"ID", "AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds"}
)


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None

    def allows(self, origin: str, method: str, request_headers: Iterable[str]) -> bool:
        if method not in self.allowed_methods:
            return False
        if not any(glob_match(pattern, origin) for pattern in self.allowed_origins):
            return False
        return all(
            any(glob_match(pattern, header, ignore_case=True) for pattern in self.allowed_headers)
            for header in request_headers
        )


@dataclass(frozen=True)
class CorsConfiguration:
    rules: tuple[CorsRule, ...]


def parse_cors(body: bytes) -> CorsConfiguration:
    """A PutBucketCors body. MalformedXML for schema errors, InvalidRequest for bad values."""
    root = parse(body, root="CORSConfiguration")
    elements = root.findall("CORSRule")
    if not elements or len(root) != len(elements):
        raise MalformedXML()
    if len(elements) > MAX_CORS_RULES:
        raise InvalidRequest(f"The number of CORS rules should not exceed {MAX_CORS_RULES}")
    return CorsConfiguration(tuple(_parse_rule(element) for element in elements))


def _parse_rule(element: Element) -> CorsRule:
    if any(child.tag not in _RULE_ELEMENTS for child in element):
        raise MalformedXML()
    origins = _texts(element, "AllowedOrigin")
    methods = _texts(element, "AllowedMethod")
    if not origins or not methods:
        raise MalformedXML()
    for method in methods:
        if method not in CORS_METHODS:
            raise InvalidRequest(
                "Found unsupported HTTP method in CORS config. Unsupported method is " + method
            )
    for origin in origins:
        _at_most_one_wildcard("AllowedOrigin", origin)
    headers = _texts(element, "AllowedHeader")
    for header in headers:
        _at_most_one_wildcard("AllowedHeader", header)
    return CorsRule(
        allowed_origins=origins,
        allowed_methods=methods,
        allowed_headers=headers,
        expose_headers=_texts(element, "ExposeHeader"),
        max_age_seconds=_max_age(element),
        id=_rule_id(element),
    )


def _texts(element: Element, tag: str) -> tuple[str, ...]:
    return tuple((child.text or "").strip() for child in element.findall(tag))


def _at_most_one_wildcard(name: str, value: str) -> None:
    if value.count("*") > 1:
        raise InvalidRequest(f'{name} "{value}" can not have more than one wildcard.')


def _max_age(element: Element) -> int | None:
    values = _texts(element, "MaxAgeSeconds")
    if not values:
        return None
    if len(values) > 1 or not values[0].isdigit():
        raise MalformedXML()
    return int(values[0])


def _rule_id(element: Element) -> str | None:
    values = _texts(element, "ID")
    if not values:
        return None
    if len(values) > 1:
        raise MalformedXML()
    if len(values[0]) > MAX_RULE_ID_LENGTH:
        raise InvalidArgument("ID length should not exceed allowed limit of 255")
    return values[0]


def render_cors(cfg: CorsConfiguration) -> bytes:
    """The GetBucketCors document."""
    rules: list[XmlTree] = [
        {
            "ID": rule.id,
            "AllowedHeader": list(rule.allowed_headers),
            "AllowedMethod": list(rule.allowed_methods),
            "AllowedOrigin": list(rule.allowed_origins),
            "ExposeHeader": list(rule.expose_headers),
            "MaxAgeSeconds": rule.max_age_seconds,
        }
        for rule in cfg.rules
    ]
    return render("CORSConfiguration", {"CORSRule": rules})


def match(
    cfg: CorsConfiguration, origin: str, method: str, request_headers: Iterable[str] = ()
) -> CorsRule | None:
    """The first rule allowing this origin, method and set of request headers."""
    wanted = [header.strip() for header in request_headers if header.strip()]
    for rule in cfg.rules:
        if rule.allows(origin, method, wanted):
            return rule
    return None


def split_request_headers(value: str | None) -> list[str]:
    """The header names listed in Access-Control-Request-Headers."""
    if not value:
        return []
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def response_headers(
    rule: CorsRule,
    origin: str,
    method: str,
    request_headers: Iterable[str] = (),
    *,
    preflight: bool,
) -> dict[str, str]:
    """The Access-Control-* headers S3 sends for a request that matched ``rule``.

    A rule whose only matching origin is ``*`` answers ``*`` without credentials; otherwise the
    origin is echoed with Access-Control-Allow-Credentials. Allow-Headers echoes the requested
    headers on a preflight; Max-Age is sent on preflights when the rule sets it.
    """
    echo = any(pattern != "*" and glob_match(pattern, origin) for pattern in rule.allowed_origins)
    headers = {"Access-Control-Allow-Origin": origin if echo else "*"}
    if echo:
        headers["Access-Control-Allow-Credentials"] = "true"
    headers["Access-Control-Allow-Methods"] = ", ".join(rule.allowed_methods)
    requested = [header.strip() for header in request_headers if header.strip()]
    if preflight and requested:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested)
    if rule.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if preflight and rule.max_age_seconds is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    headers["Vary"] = VARY
    return headers


def to_json(cfg: CorsConfiguration) -> str:
    return json.dumps({"rules": [asdict(rule) for rule in cfg.rules]}, sort_keys=True)


def from_json(text: str) -> CorsConfiguration:
    """The configuration ``to_json`` stored; ValueError/KeyError/TypeError if it was not."""
    document = json.loads(text)
    return CorsConfiguration(
        tuple(
            CorsRule(
                allowed_origins=tuple(rule["allowed_origins"]),
                allowed_methods=tuple(rule["allowed_methods"]),
                allowed_headers=tuple(rule["allowed_headers"]),
                expose_headers=tuple(rule["expose_headers"]),
                max_age_seconds=rule["max_age_seconds"],
                id=rule["id"],
            )
            for rule in document["rules"]
        )
    )
