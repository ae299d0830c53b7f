"""Object and bucket tags: the Tagging document, the x-amz-tagging header, and their limits.

Limits are AWS's: 10 tags on an object, 50 on a bucket, keys of 1-128 and values of 0-256 Unicode
characters from letters, digits, white space and ``+ - = . _ : / @``, keys unique, and the
``aws:`` prefix reserved. Violations are InvalidTag with AWS's messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

from nimbus_storage.s3errors import InvalidTag, MalformedXML
from nimbus_storage.s3xml import XmlTree, parse, render

OBJECT_TAG_LIMIT = 10
BUCKET_TAG_LIMIT = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
RESERVED_PREFIX = "aws:"
_ALLOWED = re.compile(r"[\w\s+\-=.:/@]*")


def parse_tagging(
    body: bytes, *, max_tags: int, too_many_message: str | None = None
) -> dict[str, str]:
    """A PutObjectTagging / PutBucketTagging body as an ordered key -> value mapping."""
    root = parse(body, root="Tagging")
    tag_set = root.find("TagSet")
    if tag_set is None:
        raise MalformedXML()
    pairs: list[tuple[str, str]] = []
    for tag in tag_set.findall("Tag"):
        key = tag.find("Key")
        value = tag.find("Value")
        if key is None or value is None:
            raise MalformedXML()
        pairs.append((key.text or "", value.text or ""))
    return validate_tags(pairs, max_tags=max_tags, too_many_message=too_many_message)


def parse_object_tagging(body: bytes) -> dict[str, str]:
    return parse_tagging(body, max_tags=OBJECT_TAG_LIMIT)


def parse_bucket_tagging(body: bytes) -> dict[str, str]:
    return parse_tagging(
        body,
        max_tags=BUCKET_TAG_LIMIT,
        too_many_message=f"Bucket tag count cannot be greater than {BUCKET_TAG_LIMIT}",
    )


def parse_tagging_header(value: str, *, max_tags: int = OBJECT_TAG_LIMIT) -> dict[str, str]:
    """The x-amz-tagging header of PutObject / CreateMultipartUpload: ``k1=v1&k2=v2``."""
    if not value.strip():
        return {}
    pairs = parse_qsl(value, keep_blank_values=True)
    return validate_tags(pairs, max_tags=max_tags)


def validate_tags(
    pairs: Iterable[tuple[str, str]], *, max_tags: int, too_many_message: str | None = None
) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in pairs:
        _check_key(key)
        _check_value(value)
        if key in tags:
            raise InvalidTag("Cannot provide multiple Tags with the same key")
        tags[key] = value
    if len(tags) > max_tags:
        raise InvalidTag(too_many_message or f"Object tags cannot be greater than {max_tags}")
    return tags


def _check_key(key: str) -> None:
    if not key or not _ALLOWED.fullmatch(key):
        raise InvalidTag("The TagKey you have provided is invalid")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidTag(f"The TagKey you have provided is too long, max {MAX_KEY_LENGTH}")
    if key.lower().startswith(RESERVED_PREFIX):
        raise InvalidTag("Your TagKey cannot be prefixed with aws:")


def _check_value(value: str) -> None:
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidTag(f"The TagValue you have provided is too long, max {MAX_VALUE_LENGTH}")
    if not _ALLOWED.fullmatch(value):
        raise InvalidTag("The TagValue you have provided is invalid")


def render_tagging(tags: Mapping[str, str]) -> bytes:
    """The GetObjectTagging / GetBucketTagging document."""
    entries: list[XmlTree] = [{"Key": key, "Value": value} for key, value in tags.items()]
    return render("Tagging", {"TagSet": {"Tag": entries}})


def render_tagging_header(tags: Mapping[str, str]) -> str:
    """Tags in the x-amz-tagging form (used when copying tags along with an object)."""
    return urlencode(list(tags.items()))
