"""The LifecycleConfiguration document: PutBucketLifecycleConfiguration parsing and rendering.

Schema violations are MalformedXML; values outside AWS's limits are InvalidArgument or
InvalidRequest with AWS's messages. Transitions are NotImplemented: Nimbus has one storage class.
Prefixes, tag keys and values and rule IDs are kept exactly as written (white space included);
numbers, dates and enumerations are read without surrounding white space.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from nimbus_storage.bucket_config.lifecycle_model import (
    Expiration,
    LifecycleConfiguration,
    LifecycleFilter,
    LifecycleRule,
    NoncurrentVersionExpiration,
)
from nimbus_storage.s3errors import (
    InvalidArgument,
    InvalidRequest,
    MalformedXML,
    NotImplementedError_,
)
from nimbus_storage.s3xml import XmlTree, XmlValue, parse, render

MAX_RULES = 1000
MAX_ID_LENGTH = 255
MAX_NEWER_NONCURRENT_VERSIONS = 100
_INTEGER = re.compile(r"-?\d+")
_RULE_ELEMENTS = frozenset(
    {
        "ID",
        "Status",
        "Filter",
        "Prefix",
        "Expiration",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
        "Transition",
        "NoncurrentVersionTransition",
    }
)
_PREDICATES = frozenset({"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"})


def parse_lifecycle(body: bytes) -> LifecycleConfiguration:
    root = parse(body, root="LifecycleConfiguration")
    elements = root.findall("Rule")
    if not elements or len(root) != len(elements):
        raise MalformedXML()
    if len(elements) > MAX_RULES:
        raise InvalidRequest(f"The number of lifecycle rules should not exceed {MAX_RULES}")
    rules = tuple(_parse_rule(element, index) for index, element in enumerate(elements))
    ids = [rule.id for rule in rules]
    if len(ids) != len(set(ids)):
        raise InvalidArgument("Rule ID must be unique. Found same ID for more than one rule")
    return LifecycleConfiguration(rules)


def _parse_rule(element: Element, index: int) -> LifecycleRule:
    for child in element:
        if child.tag not in _RULE_ELEMENTS:
            raise MalformedXML()
        if child.tag in ("Transition", "NoncurrentVersionTransition"):
            raise NotImplementedError_("Lifecycle transitions are not supported")
    status = _single_token(element, "Status")
    if status not in ("Enabled", "Disabled"):
        raise MalformedXML()
    rule_filter = _parse_rule_filter(element)
    expiration = _parse_expiration(element.find("Expiration"), rule_filter)
    noncurrent = _parse_noncurrent(element.find("NoncurrentVersionExpiration"))
    abort_days = _parse_abort(element.find("AbortIncompleteMultipartUpload"), rule_filter)
    if expiration is None and noncurrent is None and abort_days is None:
        raise InvalidRequest("At least one action needs to be specified in a rule")
    rule_id = _single_text(element, "ID") or _generated_id(element, index)
    if len(rule_id) > MAX_ID_LENGTH:
        raise InvalidArgument("ID length should not exceed allowed limit of 255")
    return LifecycleRule(
        id=rule_id,
        enabled=status == "Enabled",
        filter=rule_filter,
        expiration=expiration,
        noncurrent_version_expiration=noncurrent,
        abort_incomplete_upload_days=abort_days,
    )


def _generated_id(element: Element, index: int) -> str:
    """AWS assigns an ID to a rule without one; ours is derived from the rule and its place."""
    digest = hashlib.sha256(f"{index}:".encode() + _canonical(element)).hexdigest()
    return digest[:48]


def _canonical(element: Element) -> bytes:
    parts = [element.tag, (element.text or "").strip()]
    parts += [_canonical(child).decode() for child in element]
    return "|".join(parts).encode()


def _single_text(element: Element, tag: str) -> str | None:
    """The exact text of the one ``tag`` child (None without one): prefixes, tags, IDs."""
    found = element.findall(tag)
    if len(found) > 1 or (found and len(found[0])):
        raise MalformedXML()
    return (found[0].text or "") if found else None


def _single_token(element: Element, tag: str) -> str | None:
    """``_single_text`` without surrounding white space: numbers, dates, enumerations."""
    text = _single_text(element, tag)
    return None if text is None else text.strip()


def _integer(element: Element, tag: str) -> int | None:
    text = _single_token(element, tag)
    if text is None:
        return None
    if not _INTEGER.fullmatch(text):
        raise MalformedXML()
    return int(text)


def _positive(element: Element, tag: str, action: str) -> int | None:
    value = _integer(element, tag)
    if value is not None and value <= 0:
        raise InvalidArgument(f"'{tag}' for {action} action must be a positive integer")
    return value


def _parse_rule_filter(element: Element) -> LifecycleFilter:
    filters = element.findall("Filter")
    legacy = _single_text(element, "Prefix")
    if len(filters) > 1 or (filters and legacy is not None):
        raise MalformedXML()
    if legacy is not None:
        return LifecycleFilter(prefix=legacy, legacy_prefix=True)
    if not filters:
        raise MalformedXML()
    children = list(filters[0])
    if len(children) > 1:
        raise MalformedXML()
    if children and children[0].tag == "And":
        return _parse_predicates(children[0], allow_many_tags=True)
    return _parse_predicates(filters[0], allow_many_tags=False)


def _parse_predicates(element: Element, *, allow_many_tags: bool) -> LifecycleFilter:
    if any(child.tag not in _PREDICATES for child in element):
        raise MalformedXML()
    tags = tuple(_parse_tag(tag) for tag in element.findall("Tag"))
    if len(tags) > 1 and not allow_many_tags:
        raise MalformedXML()
    if len({name for name, _ in tags}) != len(tags):
        raise InvalidRequest("Duplicate Tag Keys are not allowed.")
    greater = _integer(element, "ObjectSizeGreaterThan")
    less = _integer(element, "ObjectSizeLessThan")
    if (greater is not None and greater < 0) or (less is not None and less <= 0):
        raise InvalidRequest("Object size filters must be non-negative integers")
    if greater is not None and less is not None and greater >= less:
        raise InvalidRequest("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
    return LifecycleFilter(
        prefix=_single_text(element, "Prefix") or "",
        tags=tags,
        size_greater_than=greater,
        size_less_than=less,
    )


def _parse_tag(element: Element) -> tuple[str, str]:
    key = _single_text(element, "Key")
    value = _single_text(element, "Value")
    if not key or value is None:
        raise MalformedXML()
    return key, value


def _parse_expiration(element: Element | None, rule_filter: LifecycleFilter) -> Expiration | None:
    if element is None:
        return None
    days = _positive(element, "Days", "Expiration")
    date = _parse_date(_single_token(element, "Date"))
    marker_text = _single_token(element, "ExpiredObjectDeleteMarker")
    if marker_text is not None and marker_text not in ("true", "false"):
        raise MalformedXML()
    given = [days is not None, date is not None, marker_text is not None]
    if sum(given) != 1:
        raise MalformedXML()
    if marker_text is not None and rule_filter.tags:
        raise InvalidRequest("ExpiredObjectDeleteMarker cannot be specified with object tag filter")
    marker = None if marker_text is None else marker_text == "true"
    return Expiration(days=days, date=date, expired_object_delete_marker=marker)


def _parse_date(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedXML() from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        raise InvalidArgument("'Date' must be at midnight GMT")
    return moment.timestamp()


def _parse_noncurrent(element: Element | None) -> NoncurrentVersionExpiration | None:
    if element is None:
        return None
    action = "NoncurrentVersionExpiration"
    days = _positive(element, "NoncurrentDays", action)
    if days is None:
        raise MalformedXML()
    newer = _integer(element, "NewerNoncurrentVersions")
    if newer is not None and not 1 <= newer <= MAX_NEWER_NONCURRENT_VERSIONS:
        raise InvalidArgument(
            "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a"
            f" positive integer no greater than {MAX_NEWER_NONCURRENT_VERSIONS}"
        )
    return NoncurrentVersionExpiration(noncurrent_days=days, newer_noncurrent_versions=newer)


def _parse_abort(element: Element | None, rule_filter: LifecycleFilter) -> int | None:
    if element is None:
        return None
    days = _positive(element, "DaysAfterInitiation", "AbortIncompleteMultipartUpload")
    if days is None:
        raise MalformedXML()
    if rule_filter.tags:
        raise InvalidRequest("AbortIncompleteMultipartUpload cannot be specified with Tags.")
    return days


def render_lifecycle(cfg: LifecycleConfiguration) -> bytes:
    """The GetBucketLifecycleConfiguration document."""
    return render("LifecycleConfiguration", {"Rule": [_render_rule(rule) for rule in cfg.rules]})


def _render_rule(rule: LifecycleRule) -> XmlTree:
    tree: dict[str, XmlValue] = {"ID": rule.id}
    if rule.filter.legacy_prefix:
        tree["Prefix"] = rule.filter.prefix
    else:
        tree["Filter"] = _render_filter(rule.filter)
    tree["Status"] = "Enabled" if rule.enabled else "Disabled"
    if rule.expiration is not None:
        tree["Expiration"] = _render_expiration(rule.expiration)
    noncurrent = rule.noncurrent_version_expiration
    if noncurrent is not None:
        tree["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": noncurrent.noncurrent_days,
            "NewerNoncurrentVersions": noncurrent.newer_noncurrent_versions,
        }
    if rule.abort_incomplete_upload_days is not None:
        tree["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": rule.abort_incomplete_upload_days
        }
    return tree


def _render_filter(rule_filter: LifecycleFilter) -> XmlTree:
    """One predicate bare, several under <And>; an empty filter as an empty <Prefix>."""
    tags = [{"Key": key, "Value": value} for key, value in rule_filter.tags]
    predicates: dict[str, XmlValue] = {
        "Prefix": rule_filter.prefix or None,
        "Tag": tags or None,
        "ObjectSizeGreaterThan": rule_filter.size_greater_than,
        "ObjectSizeLessThan": rule_filter.size_less_than,
    }
    count = len(tags) + sum(
        value is not None for name, value in predicates.items() if name != "Tag"
    )
    if count == 0:
        return {"Prefix": ""}
    if count == 1:
        return predicates
    return {"And": predicates}


def _render_expiration(expiration: Expiration) -> XmlTree:
    if expiration.date is not None:
        moment = datetime.fromtimestamp(expiration.date, UTC)
        return {"Date": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    if expiration.days is not None:
        return {"Days": expiration.days}
    marker = expiration.expired_object_delete_marker
    return {"ExpiredObjectDeleteMarker": bool(marker)}
