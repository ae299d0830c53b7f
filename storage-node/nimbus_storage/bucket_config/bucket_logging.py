"""Server access logging: the BucketLoggingStatus document (Put/GetBucketLogging).

An empty ``<BucketLoggingStatus/>`` turns logging off; ``LoggingEnabled`` names the target
bucket, the prefix of the log objects' keys and, optionally, their key format:

* ``SimplePrefix`` (the default): ``[TargetPrefix][YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString]``;
* ``PartitionedPrefix``: ``[TargetPrefix][SourceAccountId]/[SourceRegion]/[SourceBucket]/[YYYY]/
  [MM]/[DD]/[YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString]``, dated by the delivery
  (``DeliveryTime``) or by the requests' day (``EventTime``, whose keys' time of day is 00-00-00).

``TargetGrants`` are returned to the caller to check (gateway): log objects belong to the target
bucket's owner, so only grants to that owner (which add nothing) are accepted.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

from nimbus_storage.s3errors import MalformedXML
from nimbus_storage.s3xml import XmlTree, parse, render, text, token

ROOT = "BucketLoggingStatus"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
KeyFormat = Literal["simple", "partitioned"]
DateSource = Literal["", "EventTime", "DeliveryTime"]
DATE_SOURCES: tuple[DateSource, ...] = ("EventTime", "DeliveryTime")
PERMISSIONS = frozenset({"FULL_CONTROL", "READ", "WRITE"})


@dataclass(frozen=True, slots=True)
class LoggingTarget:
    """Where a bucket's access logs go. ``date_source`` "" (partitioned, none given) dates them
    by delivery; ``format_given``: the document named a key format (GetBucketLogging shows it)."""

    bucket: str
    prefix: str
    key_format: KeyFormat = "simple"
    date_source: DateSource = ""
    format_given: bool = False

    @property
    def by_event_time(self) -> bool:
        return self.key_format == "partitioned" and self.date_source == "EventTime"


@dataclass(frozen=True, slots=True)
class TargetGrant:
    """One grant of ``TargetGrants``: ``grantee_type`` CanonicalUser, Group or
    AmazonCustomerByEmail, ``grantee`` its ID, URI or address."""

    grantee_type: str
    grantee: str
    permission: str


@dataclass(frozen=True, slots=True)
class LoggingStatus:
    target: LoggingTarget | None  # None: logging off
    grants: tuple[TargetGrant, ...] = ()


def _only(element: ET.Element, allowed: set[str]) -> None:
    for child in element:
        if child.tag not in allowed:
            raise MalformedXML(f"unexpected <{child.tag}> in <{element.tag}>")


def _key_format(element: ET.Element | None) -> tuple[KeyFormat, DateSource, bool]:
    if element is None:
        return "simple", "", False
    _only(element, {"SimplePrefix", "PartitionedPrefix"})
    if len(element) != 1:
        raise MalformedXML("TargetObjectKeyFormat names one of SimplePrefix, PartitionedPrefix")
    chosen = element[0]
    if chosen.tag == "SimplePrefix":
        if len(chosen) or (chosen.text or "").strip():
            raise MalformedXML("SimplePrefix is empty")
        return "simple", "", True
    _only(chosen, {"PartitionDateSource"})
    source = token(chosen, "PartitionDateSource")
    if source is None:
        return "partitioned", "", True
    for known in DATE_SOURCES:
        if source == known:
            return "partitioned", known, True
    raise MalformedXML(f"unknown PartitionDateSource {source!r}")


def _grants(element: ET.Element | None) -> tuple[TargetGrant, ...]:
    if element is None:
        return ()
    grants: list[TargetGrant] = []
    for grant in element:
        if grant.tag != "Grant":
            raise MalformedXML(f"unexpected <{grant.tag}> in <TargetGrants>")
        grantee = grant.find("Grantee")
        permission = token(grant, "Permission")
        if grantee is None or permission not in PERMISSIONS:
            raise MalformedXML("a Grant has a Grantee and a Permission")
        kind = grantee.get(XSI_TYPE, "")
        value = token(
            grantee, {"Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}.get(kind, "ID")
        )
        if not kind or not value:
            raise MalformedXML("a Grantee has its xsi:type and its ID, URI or EmailAddress")
        grants.append(TargetGrant(kind, value, permission))
    return tuple(grants)


def parse_logging_status(body: bytes) -> LoggingStatus:
    """A PutBucketLogging body; MalformedXML for anything but a BucketLoggingStatus with at
    most one LoggingEnabled holding a TargetBucket and a TargetPrefix."""
    root = parse(body, root=ROOT)
    _only(root, {"LoggingEnabled"})
    if len(root) == 0:
        return LoggingStatus(None)
    if len(root) != 1:
        raise MalformedXML("one LoggingEnabled at most")
    enabled = root[0]
    _only(enabled, {"TargetBucket", "TargetPrefix", "TargetGrants", "TargetObjectKeyFormat"})
    bucket = token(enabled, "TargetBucket")
    prefix = text(enabled, "TargetPrefix")
    if not bucket or prefix is None:
        raise MalformedXML("LoggingEnabled needs a TargetBucket and a TargetPrefix")
    key_format, date_source, given = _key_format(enabled.find("TargetObjectKeyFormat"))
    target = LoggingTarget(bucket, prefix, key_format, date_source, given)
    return LoggingStatus(target, _grants(enabled.find("TargetGrants")))


def render_logging_status(target: LoggingTarget | None) -> bytes:
    if target is None:
        return render(ROOT, {})
    enabled: dict[str, XmlTree | str] = {
        "TargetBucket": target.bucket,
        "TargetPrefix": target.prefix,
    }
    if target.format_given:
        if target.key_format == "simple":
            enabled["TargetObjectKeyFormat"] = {"SimplePrefix": {}}
        else:
            partitioned = {"PartitionDateSource": target.date_source or None}
            enabled["TargetObjectKeyFormat"] = {"PartitionedPrefix": partitioned}
    return render(ROOT, {"LoggingEnabled": enabled})


def to_json(target: LoggingTarget) -> str:
    return json.dumps(
        {
            "bucket": target.bucket,
            "prefix": target.prefix,
            "format": target.key_format,
            "date_source": target.date_source,
            "format_given": target.format_given,
        }
    )


def from_json(stored: str) -> LoggingTarget:
    data = json.loads(stored)
    key_format: KeyFormat = "partitioned" if data.get("format") == "partitioned" else "simple"
    source = data.get("date_source", "")
    date_source: DateSource = next((known for known in DATE_SOURCES if known == source), "")
    return LoggingTarget(
        str(data["bucket"]),
        str(data.get("prefix", "")),
        key_format,
        date_source,
        bool(data.get("format_given", False)),
    )
