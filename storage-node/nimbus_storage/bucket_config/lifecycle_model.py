"""The lifecycle configuration of a bucket as values, and its JSON form for storage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LifecycleFilter:
    """Which objects a rule covers: all predicates must hold (an empty filter covers all)."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    legacy_prefix: bool = False  # the rule used the pre-Filter top-level <Prefix>

    def matches_key(self, key: str) -> bool:
        return key.startswith(self.prefix)

    def matches(self, key: str, size: int, tags: Mapping[str, str]) -> bool:
        if not self.matches_key(key):
            return False
        if any(tags.get(name) != value for name, value in self.tags):
            return False
        if self.size_greater_than is not None and size <= self.size_greater_than:
            return False
        return self.size_less_than is None or size < self.size_less_than


@dataclass(frozen=True)
class Expiration:
    days: int | None = None
    date: float | None = None  # epoch seconds, always a midnight UTC
    expired_object_delete_marker: bool | None = None


@dataclass(frozen=True)
class NoncurrentVersionExpiration:
    noncurrent_days: int
    newer_noncurrent_versions: int | None = None


@dataclass(frozen=True)
class LifecycleRule:
    id: str
    enabled: bool
    filter: LifecycleFilter
    expiration: Expiration | None = None
    noncurrent_version_expiration: NoncurrentVersionExpiration | None = None
    abort_incomplete_upload_days: int | None = None


@dataclass(frozen=True)
class LifecycleConfiguration:
    rules: tuple[LifecycleRule, ...]


def to_json(cfg: LifecycleConfiguration) -> str:
    return json.dumps({"rules": [asdict(rule) for rule in cfg.rules]}, sort_keys=True)


def from_json(text: str) -> LifecycleConfiguration:
    """The configuration ``to_json`` stored; ValueError/KeyError/TypeError if it was not."""
    return LifecycleConfiguration(tuple(_rule(raw) for raw in json.loads(text)["rules"]))


def _rule(raw: dict[str, Any]) -> LifecycleRule:
    filter_raw = raw["filter"]
    expiration = raw["expiration"]
    noncurrent = raw["noncurrent_version_expiration"]
    return LifecycleRule(
        id=raw["id"],
        enabled=raw["enabled"],
        filter=LifecycleFilter(
            prefix=filter_raw["prefix"],
            tags=tuple((name, value) for name, value in filter_raw["tags"]),
            size_greater_than=filter_raw["size_greater_than"],
            size_less_than=filter_raw["size_less_than"],
            legacy_prefix=filter_raw["legacy_prefix"],
        ),
        expiration=Expiration(**expiration) if expiration is not None else None,
        noncurrent_version_expiration=(
            NoncurrentVersionExpiration(**noncurrent) if noncurrent is not None else None
        ),
        abort_incomplete_upload_days=raw["abort_incomplete_upload_days"],
    )
