"""The JSON form of database answers that travel between storage nodes and gateways.

Rows travel as arrays (``rows``: typed NamedTuples are tuples, so they encode as the arrays of
their columns); listing pages and parts as objects of their fields. The operations that answer
them are in ``db_ops``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nimbus_storage.meta.api import ListPage, ObjectVersion, Part, Upload, UploadPage

_VERSION_FIELDS = tuple(f.name for f in dataclasses.fields(ObjectVersion))


def to_json(value: object) -> Any:
    """Dataclasses as objects, tuples as arrays, recursively; a listing's versions as arrays
    of their fields in declaration order (a page holds a thousand of them)."""
    if isinstance(value, ObjectVersion):
        return [getattr(value, name) for name in _VERSION_FIELDS]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def list_page(doc: dict[str, Any]) -> ListPage:
    return ListPage(
        [ObjectVersion(*entry) for entry in doc["entries"]],
        list(doc["common_prefixes"]),
        bool(doc["is_truncated"]),
        doc["next_marker"],
        doc["next_version_marker"],
    )


def upload_page(doc: dict[str, Any]) -> UploadPage:
    return UploadPage(
        [Upload(**upload) for upload in doc["uploads"]],
        list(doc["common_prefixes"]),
        bool(doc["is_truncated"]),
        doc["next_key_marker"],
        doc["next_upload_id_marker"],
    )


def upload(doc: dict[str, Any]) -> Upload:
    return Upload(**doc)


def part(doc: dict[str, Any]) -> Part:
    return Part(**doc)
