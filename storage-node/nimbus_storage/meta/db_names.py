"""Names of the replicated databases: ``catalog`` and ``bucket:<bucket name>``."""

from __future__ import annotations

import re

CATALOG = "catalog"
BUCKET_PREFIX = "bucket:"
_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


def valid_name(name: str) -> bool:
    if name == CATALOG:
        return True
    return name.startswith(BUCKET_PREFIX) and bool(
        _BUCKET_NAME.fullmatch(name.removeprefix(BUCKET_PREFIX))
    )


def bucket_db(bucket: str) -> str:
    return f"{BUCKET_PREFIX}{bucket}"
